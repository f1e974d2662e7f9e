//! `echo-lambda-runtime` moved to lamina by changing its one call, `lambda_runtime::run` →
//! `lamina::compat::run`; nothing else differs.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    lamina::compat::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
