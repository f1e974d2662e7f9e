//! A streamed response: a CSV export written row by row as it is produced, through a channel a
//! spawned task feeds. Deployed behind a Function URL in `RESPONSE_STREAM` mode (or invoked with
//! `InvokeWithResponseStream`), the first rows reach the caller while the rest are still being
//! made; locally, they are printed as they come.
//!
//! ```text
//! cargo run --example stream --features stream -- --event examples/stream/event.json
//! ```

use std::time::Duration;

use lamina::stream::{self, Body};
use lamina::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Export {
    rows: u32,
    /// A pause between rows, standing for the work each one takes.
    #[serde(default)]
    pause_ms: u64,
}

#[lamina::handler]
async fn export(export: Export, _ctx: Context) -> Result<Body, Error> {
    if export.rows > 1_000_000 {
        // Before the first byte: the invocation's error, as for any function.
        return Err(Error::new("Export.TooLarge", "at most 1,000,000 rows"));
    }
    let (sender, body) = stream::channel();
    tokio::spawn(async move {
        if sender.send("id,square\n").await.is_err() {
            return;
        }
        for id in 1..=export.rows {
            tokio::time::sleep(Duration::from_millis(export.pause_ms)).await;
            // Waits while the caller is behind; fails once the caller has gone away.
            if sender
                .send(format!("{id},{}\n", u64::from(id).pow(2)))
                .await
                .is_err()
            {
                tracing::warn!(id, "the caller went away; the export stops");
                return;
            }
        }
    });
    Ok(body.content_type("text/csv"))
}
