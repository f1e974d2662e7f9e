//! The extension both sides of the extension rows run, on lamina: count `INVOKE` events and
//! telemetry records.

use std::sync::atomic::{AtomicU64, Ordering};

use lamina::extension::{Event, Extension, Stream, Subscription, Telemetry};

static INVOKES: AtomicU64 = AtomicU64::new(0);
static RECORDS: AtomicU64 = AtomicU64::new(0);

async fn on_event(event: Event, _: &()) -> Result<(), lamina::Error> {
    if let Event::Invoke(_) = event {
        INVOKES.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

async fn on_batch(batch: Vec<Telemetry>, _: &()) -> Result<(), lamina::Error> {
    RECORDS.fetch_add(batch.len() as u64, Ordering::Relaxed);
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lamina::Error> {
    Extension::new()
        .telemetry(
            Subscription::telemetry(&[Stream::Platform, Stream::Function]),
            on_batch,
        )
        .run(on_event)
        .await
}
