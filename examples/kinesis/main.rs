//! A Kinesis consumer: decodes each record into a `Click`, in shard order, and stops at the
//! first failure so Lambda checkpoints just before it (enable `ReportBatchItemFailures`).
//!
//! ```text
//! cargo run --example kinesis -- --event examples/kinesis/event.json
//! ```

use lamina::events::kinesis::KinesisRecordExt;
use lamina::events::kinesis::{self, KinesisEvent, KinesisEventRecord, KinesisEventResponse};
use lamina::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Click {
    user: String,
    page: String,
}

async fn count(click: Click, record: KinesisEventRecord) -> Result<(), Error> {
    tracing::info!(
        user = %click.user,
        page = %click.page,
        sequence_number = record.sequence_number(),
        "counted"
    );
    Ok(())
}

#[lamina::handler]
async fn clicks(event: KinesisEvent, _ctx: Context) -> Result<KinesisEventResponse, Error> {
    kinesis::process_json(event, count).await
}
