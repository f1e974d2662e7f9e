//! The same DynamoDB Streams consumer on `lambda_runtime` with `aws_lambda_events`' event and
//! `serde_dynamo`, written as its documentation shows: each NewImage decoded, a failure reported
//! by sequence number.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Order {
    id: String,
    customer: String,
    total: f64,
    items: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async move {
        let mut response = DynamoDbEventResponse::default();
        for record in event.payload.records {
            match serde_dynamo::from_item::<_, Order>(record.change.new_image) {
                Ok(order) => {
                    std::hint::black_box(order);
                }
                Err(_) => {
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = record.change.sequence_number;
                    response.batch_item_failures.push(failure);
                    break;
                }
            }
        }
        Ok::<DynamoDbEventResponse, Error>(response)
    }))
    .await
}
