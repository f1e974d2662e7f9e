//! A shutdown hook: after a short async wait it writes `served N` to the file `SHUTDOWN_MARKER`
//! names and logs a line. With `SHUTDOWN_SLOW=1` it takes far longer than its budget. An event
//! `{"sleep_ms": N}` is answered N ms after it arrives, and counted then. With
//! `SHUTDOWN_LISTEN=1`, `init` also listens for `SIGTERM` through `tokio::signal`, as a function
//! with shutdown work of its own would, and the hook adds `, listener heard` to the file when
//! that listener heard the signal.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use lamina::{Context, Error};

struct State {
    served: AtomicU64,
    marker: PathBuf,
    heard: Arc<AtomicBool>,
}

async fn build() -> Result<State, Error> {
    let heard = Arc::new(AtomicBool::new(false));
    if std::env::var_os("SHUTDOWN_LISTEN").is_some() {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let heard = Arc::clone(&heard);
        tokio::spawn(async move {
            if terminate.recv().await.is_some() {
                heard.store(true, Ordering::SeqCst);
            }
        });
    }
    Ok(State {
        served: AtomicU64::new(0),
        marker: std::env::var("SHUTDOWN_MARKER")?.into(),
        heard,
    })
}

async fn on_shutdown(state: &State) -> Result<(), std::io::Error> {
    let pause = match std::env::var_os("SHUTDOWN_SLOW") {
        Some(_) => Duration::from_secs(30),
        None => Duration::from_millis(50),
    };
    tokio::time::sleep(pause).await;
    // The listener runs on the handler's runtime, between invocations: give it a moment.
    if std::env::var_os("SHUTDOWN_LISTEN").is_some() {
        for _ in 0..50 {
            if state.heard.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let served = state.served.load(Ordering::SeqCst);
    let heard = if state.heard.load(Ordering::SeqCst) {
        ", listener heard"
    } else {
        ""
    };
    std::fs::write(&state.marker, format!("served {served}{heard}"))?;
    tracing::info!(served, "shutdown hook ran");
    Ok(())
}

#[lamina::handler(init = build, shutdown = on_shutdown)]
async fn shutdown(event: serde_json::Value, _ctx: Context, state: &State) -> Result<u64, Error> {
    if let Some(ms) = event.get("sleep_ms").and_then(serde_json::Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    Ok(state.served.fetch_add(1, Ordering::SeqCst) + 1)
}
