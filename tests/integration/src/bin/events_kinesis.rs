//! Processes Kinesis clicks with lamina's batch helper; a click on `/checkout` fails.
//! `CONTINUE=1` goes on after a failure.

use lamina::events::kinesis::{Batch, KinesisEvent, KinesisEventRecord, KinesisEventResponse};
use lamina::{Context, Error};

#[derive(serde::Deserialize)]
struct Click {
    page: String,
}

async fn handle(click: Click, _record: KinesisEventRecord) -> Result<(), Error> {
    if click.page == "/checkout" {
        return Err(Error::new("CheckoutDown", "the checkout service is down"));
    }
    Ok(())
}

#[lamina::handler]
async fn events_kinesis(event: KinesisEvent, _ctx: Context) -> Result<KinesisEventResponse, Error> {
    Batch::new()
        .continue_after_failure(std::env::var_os("CONTINUE").is_some())
        .process_json(event, handle)
        .await
}
