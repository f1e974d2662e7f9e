//! The echo that records the same three metrics on `lambda_runtime`, which has no metrics
//! library: the EMF document built with `serde_json::json!` and printed, as a function written
//! for it does by hand.

use std::time::{SystemTime, UNIX_EPOCH};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let document = json!({
            "_aws": {
                "Timestamp": now,
                "CloudWatchMetrics": [{
                    "Namespace": "Bench",
                    "Dimensions": [["service"]],
                    "Metrics": [
                        {"Name": "Orders", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                        {"Name": "PayloadBytes", "Unit": "Bytes"}
                    ]
                }]
            },
            "service": "echo",
            "Orders": 1.0,
            "Latency": 3.5,
            "PayloadBytes": 226.0
        });
        println!("{document}");
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
