//! The extension of the extension rows on `lambda-extension`, written as its README shows:
//! count `INVOKE` events and telemetry records (on a current-thread runtime, as lamina's side).

use std::sync::atomic::{AtomicU64, Ordering};

use lambda_extension::{
    Error, Extension, LambdaEvent, LambdaTelemetry, NextEvent, SharedService, service_fn,
};

static INVOKES: AtomicU64 = AtomicU64::new(0);
static RECORDS: AtomicU64 = AtomicU64::new(0);

async fn on_event(event: LambdaEvent) -> Result<(), Error> {
    if let NextEvent::Invoke(_) = event.next {
        INVOKES.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

async fn on_batch(batch: Vec<LambdaTelemetry>) -> Result<(), Error> {
    RECORDS.fetch_add(batch.len() as u64, Ordering::Relaxed);
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    Extension::new()
        .with_events_processor(service_fn(on_event))
        .with_telemetry_processor(SharedService::new(service_fn(on_batch)))
        .run()
        .await
}
