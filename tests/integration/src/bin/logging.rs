//! Logs at every level with structured fields, from the handler inside a span, from a spawned
//! task and from a spawned thread; every line carries the event's `marker`.
//!
//! `{"threads": N, "lines": M}` also logs M lines from each of N threads at once;
//! `{"panic": "..."}` panics after logging; `{"log_crate": true}` also logs through the `log`
//! crate; `{"hang_ms": N}` then blocks its thread for N ms before answering, as a handler stuck
//! in a blocking call does.

use lamina::{Context, Error};
use serde_json::{Value, json};
use tracing::Instrument;

#[lamina::handler]
async fn logging(event: Value, _ctx: Context) -> Result<Value, Error> {
    let marker = event["marker"].as_str().unwrap_or("none").to_owned();
    let span = tracing::info_span!("order", order_id = "o-17", attempt = 1);
    async {
        tracing::trace!(marker, "trace line");
        tracing::debug!(marker, "debug line");
        tracing::info!(
            marker,
            qty = 3,
            gift = true,
            note = "a \"quote\", a \\ and a\nnewline",
            "handler line"
        );
        tracing::warn!(marker, "warn line");
        tracing::error!(marker, code = 7, "error line");
    }
    .instrument(span)
    .await;

    let task_marker = marker.clone();
    tokio::spawn(async move { tracing::info!(marker = task_marker, "task line") })
        .await
        .expect("the task ran");
    let thread_marker = marker.clone();
    std::thread::spawn(move || tracing::info!(marker = thread_marker, "thread line"))
        .join()
        .expect("the thread ran");

    let threads = event["threads"].as_u64().unwrap_or(0);
    let lines = event["lines"].as_u64().unwrap_or(0);
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            let marker = marker.clone();
            std::thread::spawn(move || {
                for line in 0..lines {
                    tracing::info!(marker, thread, line, padding = "x".repeat(100), "bulk line");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a bulk thread ran");
    }

    if event["log_crate"].as_bool() == Some(true) {
        // As a dependency writing through the `log` crate would, under two targets.
        log::info!("log record {marker}");
        log::debug!(target: "chatty", "chatty debug record {marker}");
        log::warn!(target: "chatty", "chatty warn record {marker}");
        tracing::debug!(marker, "debug line from the function's own target");
    }

    if let Some(message) = event["panic"].as_str() {
        panic!("{message}");
    }
    if let Some(ms) = event["hang_ms"].as_u64() {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    Ok(json!({ "logged": marker }))
}
