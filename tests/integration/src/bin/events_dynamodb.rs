//! Processes an `orders` table's stream with lamina's batch helper; an order whose status is
//! `fraud` fails. `CONTINUE=1` goes on after a failure.

use lamina::events::dynamodb::{Batch, DynamoDbEvent, DynamoDbEventResponse, EventRecord};
use lamina::{Context, Error};

#[derive(serde::Deserialize)]
struct Order {
    id: String,
    lines: u32,
    status: String,
}

async fn handle(order: Option<Order>, _record: EventRecord) -> Result<(), Error> {
    match order {
        Some(order) if order.status == "fraud" => Err(Error::new(
            "Fraud",
            format!("order {} is fraudulent", order.id),
        )),
        Some(order) => {
            tracing::info!(order = %order.id, lines = order.lines, "processed");
            Ok(())
        }
        None => Ok(()),
    }
}

#[lamina::handler]
async fn events_dynamodb(
    event: DynamoDbEvent,
    _ctx: Context,
) -> Result<DynamoDbEventResponse, Error> {
    Batch::new()
        .continue_after_failure(std::env::var_os("CONTINUE").is_some())
        .process_new_images(event, handle)
        .await
}
