//! The anchor for the concurrency rows: the same function on `lambda_runtime::run_concurrent`
//! (feature `concurrency-tokio`), as its documentation shows it.

use std::time::{Duration, Instant};

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::Value;

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let event = event.payload;
    if let Some(ms) = event.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(ms) = event.get("spin_ms").and_then(Value::as_u64) {
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }
    Ok(Value::Null)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    lambda_runtime::run_concurrent(service_fn(handle)).await
}
