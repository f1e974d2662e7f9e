//! Echoes the event; `{"fail": "..."}` fails with that message, `{"panic": "..."}` panics,
//! `{"panic_twice": "..."}` panics and has another thread panic 50 ms later, `{"bytes": N}`
//! answers with a string of N bytes, `{"fail_bytes": N}` fails with a message of N bytes, `{"sleep_ms": N, ...}` waits N ms (a timer, not a thread)
//! first and then goes on.

use std::time::Duration;

use lamina::{Context, Error};
use serde_json::{Value, json};

#[lamina::handler]
async fn echo(event: Value, _ctx: Context) -> Result<Value, Error> {
    if let Some(ms) = event.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(message) = event.get("fail").and_then(Value::as_str) {
        return Err(Error::new("Handler.Requested", message));
    }
    if let Some(message) = event.get("panic").and_then(Value::as_str) {
        panic!("{message}");
    }
    if let Some(message) = event.get("panic_twice").and_then(Value::as_str) {
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            panic!("the second panic");
        });
        panic!("{message}");
    }
    if let Some(n) = event.get("fail_bytes").and_then(Value::as_u64) {
        return Err(Error::new("Handler.Requested", "é".repeat(n as usize / 2)));
    }
    if let Some(n) = event.get("bytes").and_then(Value::as_u64) {
        return Ok(json!("x".repeat(n as usize)));
    }
    Ok(event)
}
