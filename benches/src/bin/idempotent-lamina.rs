//! The echo with `lamina::idempotency` (a `MemoryStore`) around a unit of work that does nothing,
//! so the rows show the wrapper's own cost. Keyed on the SQS message id, so every invocation
//! after the first is a duplicate (replayed), or with `BENCH_KEY=request` on the request id, so
//! every invocation begins and completes a record. `BENCH_CACHE=0` turns the local cache off,
//! so duplicates are answered by the store.

use lamina::idempotency::{Idempotency, MemoryStore};
use lamina::{Context, Error};
use serde_json::Value;

struct State {
    idempotency: Idempotency<MemoryStore>,
    by_request: bool,
}

async fn init() -> Result<State, Error> {
    let cache = std::env::var("BENCH_CACHE").map_or(256, |v| v.parse().unwrap_or(256));
    Ok(State {
        idempotency: Idempotency::new(MemoryStore::default()).local_cache(cache),
        by_request: std::env::var("BENCH_KEY").is_ok_and(|v| v == "request"),
    })
}

#[lamina::handler(init = init)]
async fn echo(event: Value, ctx: Context, state: &State) -> Result<Value, Error> {
    let key = if state.by_request {
        ctx.request_id()
    } else {
        event["Records"][0]["messageId"]
            .as_str()
            .unwrap_or_default()
    };
    state
        .idempotency
        .key(key)
        .run(&ctx, || async { Ok::<_, Error>(()) })
        .await?;
    Ok(event)
}
