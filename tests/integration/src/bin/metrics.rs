//! Records CloudWatch metrics as the event asks: `{"orders": N, "latency": [ms, ...], "channel":
//! "web", "single": "acme", "metadata": {...}}`. `{"invalid": "name"}` records a metric under
//! that name and returns the error; `{"fail": "..."}` fails after recording, `{"panic": "..."}`
//! panics after recording, `{"sleep_ms": N}` waits first (a timer), `{"from_thread": true}`
//! records from a thread of its own. With `METRICS_FROM_ENV` set, `init` leaves the settings
//! to the environment (`POWERTOOLS_METRICS_NAMESPACE`, `POWERTOOLS_SERVICE_NAME`).

use std::time::Duration;

use lamina::metrics::{self, Config, Unit};
use lamina::{Context, Error};
use serde_json::Value;

async fn init() -> Result<(), Error> {
    if std::env::var_os("METRICS_FROM_ENV").is_none() {
        metrics::configure(
            Config::new("Lamina/Tests")?
                .service("fixture")?
                .cold_start_metric(true),
        )?;
    }
    Ok(())
}

#[lamina::handler(init = init)]
async fn record(event: Value, _ctx: Context, _state: &()) -> Result<Value, Error> {
    if let Some(ms) = event.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(name) = event.get("invalid").and_then(Value::as_str) {
        metrics::add(name, Unit::Count, 1.0)?;
    }
    if let Some(channel) = event.get("channel").and_then(Value::as_str) {
        metrics::add_dimension("Channel", channel)?;
    }
    if let Some(orders) = event.get("orders").and_then(Value::as_f64) {
        if event.get("from_thread").is_some() {
            std::thread::spawn(move || metrics::add("Orders", Unit::Count, orders))
                .join()
                .expect("the recording thread")?;
        } else {
            metrics::add("Orders", Unit::Count, orders)?;
        }
    }
    for ms in event
        .get("latency")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        metrics::add_high_resolution("Latency", Unit::Milliseconds, ms.as_f64().unwrap_or(0.0))?;
    }
    if let Some(provider) = event.get("single").and_then(Value::as_str) {
        metrics::single("Declined", Unit::Count, 1.0, &[("Provider", provider)])?;
    }
    if let Some(metadata) = event.get("metadata").and_then(Value::as_object) {
        for (key, value) in metadata {
            metrics::add_metadata(key, value)?;
        }
    }
    if let Some(message) = event.get("fail").and_then(Value::as_str) {
        return Err(Error::new("Handler.Requested", message));
    }
    if let Some(message) = event.get("panic").and_then(Value::as_str) {
        panic!("{message}");
    }
    Ok(Value::Bool(true))
}
