//! Fails with `Box<dyn Error + Send + Sync>` (`lambda_runtime::Error`): a parse error through
//! `?`, or a message through `.into()`.

use lamina::Context;
use serde_json::Value;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[lamina::handler]
async fn errors_boxed(event: Value, _ctx: Context) -> Result<u32, BoxError> {
    match event["count"].as_str() {
        Some(count) => Ok(count.parse()?),
        None => Err("send a `count`".into()),
    }
}
