//! Answers an S3 notification with what lamina read from each record.

use lamina::events::s3::{S3Event, S3RecordExt};
use lamina::{Context, Error};
use serde_json::{Value, json};

#[lamina::handler]
async fn events_s3(event: S3Event, _ctx: Context) -> Result<Vec<Value>, Error> {
    Ok(event
        .records
        .iter()
        .map(|record| {
            let key = match record.key() {
                Ok(key) => json!({ "key": key }),
                Err(e) => json!({ "error": e.to_string() }),
            };
            json!({
                "bucket": record.bucket(),
                "key": key,
                "size": record.size(),
                "version_id": record.version_id(),
                "category": format!("{:?}", record.category()),
            })
        })
        .collect())
}
