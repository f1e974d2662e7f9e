//! The echo that records three CloudWatch metrics per invocation, with `lamina::metrics`.

use lamina::metrics::{self, Config, Unit};
use lamina::{Context, Error};
use serde_json::Value;

async fn init() -> Result<(), Error> {
    metrics::configure(Config::new("Bench")?.service("echo")?)?;
    Ok(())
}

#[lamina::handler(init = init)]
async fn echo(event: Value, _ctx: Context, _state: &()) -> Result<Value, Error> {
    metrics::add("Orders", Unit::Count, 1.0)?;
    metrics::add("Latency", Unit::Milliseconds, 3.5)?;
    metrics::add("PayloadBytes", Unit::Bytes, 226.0)?;
    Ok(event)
}
