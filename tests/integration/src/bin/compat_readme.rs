//! A function written the way lambda_runtime's README writes one, served by lamina: the only
//! change is `lamina::compat::run` in place of `lambda_runtime::run`.
//!
//! `{"firstName": "..."}` is the README's greeting; `{"fail": "..."}` returns that message as a
//! `lambda_runtime::Error`, `{"parse": "..."}` fails parsing it as a `u8` through `?`,
//! `{"panic": "..."}` panics, `{"bytes": N}` answers with a string of N bytes, `{"context":
//! true}` answers with the `lambda_runtime::Context` and `_X_AMZN_TRACE_ID`, `{"sleep_ms": N}`
//! sleeps and awaits a spawned task on the caller's runtime.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let func = service_fn(func);
    lamina::compat::run(func).await?;
    Ok(())
}

async fn func(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (event, context) = event.into_parts();
    if let Some(message) = event.get("fail").and_then(Value::as_str) {
        return Err(message.into());
    }
    if let Some(text) = event.get("parse").and_then(Value::as_str) {
        let n: u8 = text.parse()?;
        return Ok(json!(n));
    }
    if let Some(message) = event.get("panic").and_then(Value::as_str) {
        panic!("{message}");
    }
    if let Some(n) = event.get("bytes").and_then(Value::as_u64) {
        return Ok(json!("x".repeat(n as usize)));
    }
    if event.get("context").is_some() {
        return Ok(json!({
            "context": context,
            "trace_env": std::env::var("_X_AMZN_TRACE_ID").ok(),
        }));
    }
    if let Some(ms) = event.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        let spawned = tokio::spawn(async move { ms * 2 }).await?;
        return Ok(json!({ "slept_ms": ms, "spawned": spawned }));
    }
    let first_name = event["firstName"].as_str().unwrap_or("world");
    tracing::info!(first_name, "greeting");

    Ok(json!({ "message": format!("Hello, {}!", first_name) }))
}
