//! For Managed Instances concurrency: counts the invocations in flight at once.
//!
//! `{"wait_for": N}` waits (a timer, up to 10 s) until N invocations are in flight together;
//! `{"spin_ms": N}` keeps its thread busy for N ms without yielding (CPU-bound work);
//! `{"sleep_ms": N}` waits N ms on a timer; `{"fail": "..."}` fails; `{"panic": "..."}` panics;
//! `{"after_a_panic_ms": N}` waits (a timer, up to 10 s) until another invocation panics, then N ms
//! more, and returns: an invocation that ends while that panic is being reported.
//! The response names the request, the worker thread and process, the peak seen so far, and what
//! `_X_AMZN_TRACE_ID` held.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lamina::{Context, Error};
use serde_json::{Value, json};

struct State {
    in_flight: AtomicU32,
    peak: AtomicU32,
    panicking: AtomicBool,
}

async fn build() -> Result<State, Error> {
    Ok(State {
        in_flight: AtomicU32::new(0),
        peak: AtomicU32::new(0),
        panicking: AtomicBool::new(false),
    })
}

/// Leaves the in-flight count however the invocation ends.
struct InFlight<'a>(&'a AtomicU32);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[lamina::handler(init = build)]
async fn concurrent(event: Value, ctx: Context, state: &State) -> Result<Value, Error> {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _leave = InFlight(&state.in_flight);
    state.peak.fetch_max(now, Ordering::SeqCst);
    tracing::info!(request = ctx.request_id(), "started");
    if let Some(n) = event.get("wait_for").and_then(Value::as_u64) {
        let until = Instant::now() + Duration::from_secs(10);
        while u64::from(state.in_flight.load(Ordering::SeqCst)) < n && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    if let Some(ms) = event.get("spin_ms").and_then(Value::as_u64) {
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }
    if let Some(ms) = event.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(ms) = event.get("after_a_panic_ms").and_then(Value::as_u64) {
        let until = Instant::now() + Duration::from_secs(10);
        while !state.panicking.load(Ordering::SeqCst) && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(message) = event.get("fail").and_then(Value::as_str) {
        return Err(Error::new("Handler.Requested", message));
    }
    if let Some(message) = event.get("panic").and_then(Value::as_str) {
        state.panicking.store(true, Ordering::SeqCst);
        panic!("{message}");
    }
    tracing::info!(request = ctx.request_id(), "finished");
    Ok(json!({
        "request_id": ctx.request_id(),
        "thread": std::thread::current().name().unwrap_or("unnamed"),
        "pid": std::process::id(),
        "peak": state.peak.load(Ordering::SeqCst),
        "trace_env": std::env::var("_X_AMZN_TRACE_ID").ok(),
        "trace_header": ctx.xray_trace_header(),
    }))
}
