//! The soak function: echoes, except `{"fail":…}` returns an error, `{"panic":…}` panics and
//! `{"pad":N}` answers with N bytes.

use lamina::{Context, Error};
use serde_json::{Value, json};

#[lamina::handler]
async fn soak(event: Value, _ctx: Context) -> Result<Value, Error> {
    if let Some(message) = event.get("fail").and_then(Value::as_str) {
        return Err(Error::new("Soak.Requested", message));
    }
    if let Some(message) = event.get("panic").and_then(Value::as_str) {
        panic!("{message}");
    }
    if let Some(n) = event.get("pad").and_then(Value::as_u64) {
        return Ok(json!("p".repeat(n as usize)));
    }
    Ok(event)
}
