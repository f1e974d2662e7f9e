//! A DynamoDB Streams consumer that keeps a search index in step with an `orders` table: each
//! change's `NewImage` is decoded into an `Order` and indexed, and a `REMOVE`, which has no
//! `NewImage`, takes the order out of the index by its key. Records go in stream order, and
//! processing stops at the first failure so Lambda checkpoints just before it (enable
//! `ReportBatchItemFailures`, and give the stream the `NEW_IMAGE` or `NEW_AND_OLD_IMAGES` view).
//!
//! ```text
//! cargo run --example dynamodb --features dynamodb-streams -- --event examples/dynamodb/event.json
//! ```

use lamina::events::dynamodb::{
    self, DynamoDbEvent, DynamoDbEventResponse, DynamoDbRecordExt, EventRecord,
};
use lamina::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Order {
    id: String,
    customer: String,
    total: f64,
    lines: u32,
    status: Status,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Placed,
    Paid,
    Shipped,
}

#[derive(Deserialize)]
struct OrderKey {
    id: String,
}

async fn index(order: Option<Order>, record: EventRecord) -> Result<(), Error> {
    match order {
        Some(order) => tracing::info!(
            order = %order.id,
            customer = %order.customer,
            total = order.total,
            lines = order.lines,
            status = ?order.status,
            "indexed"
        ),
        None => {
            let key: OrderKey = record.keys()?;
            tracing::info!(order = %key.id, "removed from the index");
        }
    }
    Ok(())
}

#[lamina::handler]
async fn orders(event: DynamoDbEvent, _ctx: Context) -> Result<DynamoDbEventResponse, Error> {
    dynamodb::process_new_images(event, index).await
}
