//! Fails with a `String`.

use lamina::Context;
use serde_json::Value;

#[lamina::handler]
async fn errors_string(event: Value, _ctx: Context) -> Result<Value, String> {
    Err(format!("no order {}", event["order"]))
}
