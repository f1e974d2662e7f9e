//! An EventBridge target with two rules pointed at it: one matching `OrderPlaced` events from the
//! orders service, one on a schedule for a nightly report. `Expect` checks `source` and
//! `detail-type` before decoding `detail`, so an event a rule should not have sent fails with a
//! message that says how to fix the rule. EventBridge discards what the function returns; it is
//! returned here so a local run shows what was done.
//!
//! ```text
//! cargo run --example eventbridge -- --event examples/eventbridge/event.json
//! ```

use lamina::events::eventbridge::{EventBridgeEvent, EventBridgeEventExt, Expect};
use lamina::{Context, Error};
use serde::Deserialize;
use serde_json::{Value, json};

const ORDER_PLACED: Expect = Expect::new("com.example.orders", "OrderPlaced");

#[derive(Deserialize)]
struct OrderPlaced {
    order_id: String,
    total: f64,
}

#[lamina::handler]
async fn orders(event: EventBridgeEvent, _ctx: Context) -> Result<Value, Error> {
    if event.is_scheduled() {
        let rule = event.resources.iter().flatten().next();
        tracing::info!(rule = rule.map(String::as_str), "nightly report");
        return Ok(json!({ "report": "nightly", "rule": rule }));
    }
    let order: OrderPlaced = ORDER_PLACED.detail(&event)?;
    tracing::info!(order = %order.order_id, total = order.total, "order placed");
    Ok(json!({ "order": order.order_id, "total": order.total }))
}
