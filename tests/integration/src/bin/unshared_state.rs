//! State that is not `Sync` (a `Cell`): under `AWS_LAMBDA_MAX_CONCURRENCY` > 1 the function must
//! still serve, one invocation at a time, and say why.

use std::cell::Cell;

use lamina::{Context, Error};

async fn build() -> Result<Cell<u64>, Error> {
    Ok(Cell::new(0))
}

#[lamina::handler(init = build)]
async fn unshared_state(
    _event: serde_json::Value,
    _ctx: Context,
    count: &Cell<u64>,
) -> Result<u64, Error> {
    count.set(count.get() + 1);
    Ok(count.get())
}
