//! `echo-compat` without lambda_runtime's subscriber, as `lamina::compat`'s docs advise: lamina
//! installs its own.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lamina::compat::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
