//! An S3 notification handler: lists each new object with its decoded key, ready to pass to
//! `GetObject`.
//!
//! ```text
//! cargo run --example s3 -- --event examples/s3/event.json
//! ```

use lamina::events::s3::{EventCategory, S3Event, S3RecordExt};
use lamina::{Context, Error};

#[lamina::handler]
async fn new_objects(event: S3Event, _ctx: Context) -> Result<Vec<String>, Error> {
    let mut objects = Vec::new();
    for record in &event.records {
        if record.category() != EventCategory::Created {
            continue;
        }
        // `key()` turns `Q1+2026%2Bdraft.pdf` into `Q1 2026+draft.pdf`.
        let key = record.key()?;
        let bucket = record.bucket().unwrap_or_default();
        let size = record.size().unwrap_or_default();
        objects.push(format!("s3://{bucket}/{key} ({size} bytes)"));
    }
    Ok(objects)
}
