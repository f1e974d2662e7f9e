//! A shutdown hook: after a short async wait it writes `served N` to the file `SHUTDOWN_MARKER`
//! names and logs a line. With `SHUTDOWN_SLOW=1` it takes far longer than its budget.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lamina::{Context, Error};

struct State {
    served: AtomicU64,
    marker: PathBuf,
}

async fn build() -> Result<State, Error> {
    Ok(State {
        served: AtomicU64::new(0),
        marker: std::env::var("SHUTDOWN_MARKER")?.into(),
    })
}

async fn on_shutdown(state: &State) -> Result<(), std::io::Error> {
    let pause = match std::env::var_os("SHUTDOWN_SLOW") {
        Some(_) => Duration::from_secs(30),
        None => Duration::from_millis(50),
    };
    tokio::time::sleep(pause).await;
    let served = state.served.load(Ordering::SeqCst);
    std::fs::write(&state.marker, format!("served {served}"))?;
    tracing::info!(served, "shutdown hook ran");
    Ok(())
}

#[lamina::handler(init = build, shutdown = on_shutdown)]
async fn shutdown(_event: serde_json::Value, _ctx: Context, state: &State) -> Result<u64, Error> {
    Ok(state.served.fetch_add(1, Ordering::SeqCst) + 1)
}
