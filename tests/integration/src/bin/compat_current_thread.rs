//! A lambda_runtime function on tokio's current-thread runtime, which `lamina::compat::run`
//! refuses before serving.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let func = service_fn(func);
    lamina::compat::run(func).await?;
    Ok(())
}

async fn func(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}
