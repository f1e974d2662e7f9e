//! The echo that logs: three INFO lines with two fields each per invocation, on lamina.

use lamina::{Context, Error};
use serde_json::Value;

#[lamina::handler]
async fn echo(event: Value, ctx: Context) -> Result<Value, Error> {
    for step in ["received", "processed", "answered"] {
        tracing::info!(step, bytes = 226, "echo {}", ctx.function_name());
    }
    Ok(event)
}
