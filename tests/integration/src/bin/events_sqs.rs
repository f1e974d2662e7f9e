//! Processes SQS orders with lamina's batch helper, three at a time on standard queues.
//! An order with `qty` 0 fails, order `o-6` panics.

use lamina::events::sqs::{Batch, SqsBatchResponse, SqsEvent, SqsMessage};
use lamina::{Context, Error};

#[derive(serde::Deserialize)]
struct Order {
    id: String,
    qty: u32,
}

async fn handle(order: Order, _message: SqsMessage) -> Result<(), Error> {
    if order.id == "o-6" {
        panic!("order o-6 exploded");
    }
    if order.qty == 0 {
        return Err(Error::new(
            "EmptyOrder",
            format!("order {} has no items", order.id),
        ));
    }
    Ok(())
}

#[lamina::handler]
async fn events_sqs(event: SqsEvent, _ctx: Context) -> Result<SqsBatchResponse, Error> {
    Batch::new()
        .concurrency(3)
        .process_json(event, handle)
        .await
}
