//! Answers with everything its Context and environment say about the invocation.

use lamina::{Context, Error};
use serde_json::{Value, json};

#[lamina::handler]
async fn context(_event: Value, ctx: Context) -> Result<Value, Error> {
    Ok(json!({
        "request_id": ctx.request_id(),
        "deadline_ms": ctx.deadline_ms(),
        "remaining_ms": ctx.remaining().as_millis() as u64,
        "invoked_function_arn": ctx.invoked_function_arn(),
        "xray_trace_header": ctx.xray_trace_header(),
        "trace_env": std::env::var("_X_AMZN_TRACE_ID").ok(),
        "client_context": ctx.client_context(),
        "identity": ctx.identity(),
        "tenant_id": ctx.tenant_id(),
        "function_name": ctx.function_name(),
        "function_version": ctx.function_version(),
        "memory_mb": ctx.memory_mb(),
        "log_group": ctx.log_group(),
        "log_stream": ctx.log_stream(),
    }))
}
