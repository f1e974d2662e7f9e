//! The concurrency rows' lamina function: `{"sleep_ms": N}` waits N ms on a timer (I/O-bound),
//! `{"spin_ms": N}` keeps its thread busy N ms (CPU-bound); answers `null`.

use std::time::{Duration, Instant};

use lamina::{Context, Error};
use serde_json::Value;

#[lamina::handler]
async fn handle(event: Value, _ctx: Context) -> Result<Value, Error> {
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
