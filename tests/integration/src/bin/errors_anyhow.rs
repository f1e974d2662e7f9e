//! Fails with an `anyhow::Error` carrying a context chain over a `VarError`, as a function
//! written for lambda_runtime with anyhow would.

use anyhow::Context as _;
use lamina::Context;
use serde_json::Value;

#[lamina::handler]
async fn errors_anyhow(event: Value, _ctx: Context) -> anyhow::Result<Value> {
    let name = event["variable"].as_str().unwrap_or("LAMINA_TEST_UNSET");
    let value = std::env::var(name)
        .with_context(|| format!("reading `{name}`"))
        .context("loading the configuration")?;
    Ok(Value::String(value))
}
