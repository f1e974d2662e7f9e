//! The echo that logs, on `lambda_runtime`: the same three INFO lines per invocation.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        for step in ["received", "processed", "answered"] {
            tracing::info!(
                step,
                bytes = 226,
                "echo {}",
                event.context.env_config.function_name
            );
        }
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
