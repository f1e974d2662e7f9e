//! A DynamoDB Streams consumer on lamina: each record's NewImage decoded into `Order`, in order,
//! with the partial-batch response.

use lamina::events::dynamodb::{self, DynamoDbEvent, DynamoDbEventResponse, EventRecord};
use lamina::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Order {
    id: String,
    customer: String,
    total: f64,
    items: Vec<String>,
}

#[lamina::handler]
async fn orders(event: DynamoDbEvent, _ctx: Context) -> Result<DynamoDbEventResponse, Error> {
    dynamodb::process_new_images(
        event,
        |order: Option<Order>, _record: EventRecord| async move {
            std::hint::black_box(order);
            Ok::<(), Error>(())
        },
    )
    .await
}
