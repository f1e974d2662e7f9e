//! An SQS consumer: decodes each message into an `Order` and reports exactly the messages that
//! failed, so SQS redelivers only those (enable `ReportBatchItemFailures` on the trigger).
//!
//! ```text
//! cargo run --example sqs -- --event examples/sqs/event.json
//! ```

use lamina::events::sqs::{Batch, SqsBatchResponse, SqsEvent, SqsMessage};
use lamina::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Order {
    id: String,
    qty: u32,
}

async fn fulfil(order: Order, _message: SqsMessage) -> Result<(), Error> {
    if order.qty == 0 {
        return Err(Error::new(
            "EmptyOrder",
            format!("order {} has no items", order.id),
        ));
    }
    tracing::info!(order = %order.id, qty = order.qty, "fulfilled");
    Ok(())
}

#[lamina::handler]
async fn orders(event: SqsEvent, _ctx: Context) -> Result<SqsBatchResponse, Error> {
    // Up to four orders in progress at once on a standard queue; a FIFO queue is always
    // processed in order, stopping at its first failure.
    Batch::new()
        .concurrency(4)
        .process_json(event, fulfil)
        .await
}
