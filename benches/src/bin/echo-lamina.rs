//! The lamina side of the benchmark: echo the event.

use lamina::{Context, Error};
use serde_json::Value;

#[lamina::handler]
async fn echo(event: Value, _ctx: Context) -> Result<Value, Error> {
    Ok(event)
}
