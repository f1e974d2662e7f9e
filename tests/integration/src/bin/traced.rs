//! Records X-Ray subsegments (one through a `tracing` span) and answers with the trace header
//! it would forward; fails with `OrderNotFound` when the event has a `fail` message.

use lamina::xray::{self, Subsegment};
use lamina::{Context, Error};
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;

#[lamina::handler]
async fn traced(event: Value, ctx: Context) -> Result<Value, Error> {
    let handler = Subsegment::new("handler");
    handler.annotate("request_id", ctx.request_id());
    let forwarded = handler
        .run(async {
            let _query = Subsegment::new("query");
            {
                let subscriber = tracing_subscriber::registry().with(xray::XrayLayer::new());
                let _guard = tracing::subscriber::set_default(subscriber);
                let _span = tracing::info_span!("span step", xray = true, step = 1_u64).entered();
            }
            xray::current().map(|trace| trace.forward().to_string())
        })
        .await;
    if let Some(message) = event["fail"].as_str() {
        handler.fault("OrderNotFound", message);
        return Err(Error::new("OrderNotFound", message.to_owned()));
    }
    Ok(json!({
        "forwarded": forwarded,
        "trace": ctx.trace().map(|header| header.to_string()),
        "handler_id": handler.id().map(|id| id.to_string()),
    }))
}
