//! Observability with nothing to set up: an order lookup whose logs are Lambda's JSON lines
//! (with `AWS_LAMBDA_LOG_FORMAT=JSON`, each carries the `requestId`) and whose work shows in
//! X-Ray as subsegments of the function's segment when the invocation is sampled. An unknown
//! order fails the invocation, and X-Ray receives the error cause.
//!
//! ```text
//! AWS_LAMBDA_LOG_FORMAT=JSON cargo run --example xray -- --event examples/xray/event.json
//! ```

use lamina::xray::Subsegment;
use lamina::{Context, Error};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Lookup {
    order_id: String,
}

#[derive(Serialize)]
struct Order {
    order_id: String,
    status: &'static str,
    /// The header to send with a call to another service, so its trace joins this one.
    forward_trace: Option<String>,
}

/// Stands in for a database query.
async fn find_status(order_id: &str) -> Option<&'static str> {
    order_id.starts_with("o-").then_some("shipped")
}

#[lamina::handler]
async fn lookup(request: Lookup, _ctx: Context) -> Result<Order, Error> {
    tracing::info!(order_id = %request.order_id, "looking up the order");
    let query = Subsegment::new("orders-db");
    query.annotate("order_id", request.order_id.as_str());
    let status = query.run(find_status(&request.order_id)).await;
    let Some(status) = status else {
        let message = format!("no order {}", request.order_id);
        tracing::warn!(order_id = %request.order_id, "order not found");
        query.error("OrderNotFound", &message);
        return Err(Error::new("OrderNotFound", message));
    };
    Ok(Order {
        forward_trace: query.trace_header().map(|header| header.to_string()),
        order_id: request.order_id,
        status,
    })
}
