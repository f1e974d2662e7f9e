//! Work between invocations: `init` spawns a task that ticks every 20 ms, and
//! `{"spawn_log": "text"}` leaves a task behind that logs `text` 100 ms after the invocation.
//! Every response is the tick count.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lamina::{Context, Error};
use serde_json::Value;

struct State {
    ticks: Arc<AtomicU64>,
}

async fn build() -> Result<State, Error> {
    let ticks = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&ticks);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    Ok(State { ticks })
}

#[lamina::handler(init = build)]
async fn background(event: Value, _ctx: Context, state: &State) -> Result<u64, Error> {
    if let Some(text) = event.get("spawn_log").and_then(Value::as_str) {
        let text = text.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tracing::info!("{text}");
        });
    }
    Ok(state.ticks.load(Ordering::SeqCst))
}
