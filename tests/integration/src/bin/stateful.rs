//! Counts its init runs and invocations: init must run once, before the first `/next`.
//! `INIT_FAIL=1` makes init fail; `INIT_PANIC=1` makes it panic.

use std::sync::atomic::{AtomicU64, Ordering};

use lamina::{Context, Error};
use serde::{Deserialize, Serialize};

static INIT_RUNS: AtomicU64 = AtomicU64::new(0);

struct State {
    invocations: AtomicU64,
    label: String,
}

#[derive(Deserialize)]
struct Order {
    id: String,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[allow(dead_code)]
    sku: String,
    qty: u32,
}

#[derive(Serialize)]
struct Receipt {
    id: String,
    total_qty: u32,
    init_runs: u64,
    invocation: u64,
    label: String,
}

async fn build() -> Result<State, Error> {
    INIT_RUNS.fetch_add(1, Ordering::SeqCst);
    if std::env::var_os("INIT_PANIC").is_some() {
        panic!("init exploded");
    }
    let label = std::env::var("STATE_LABEL")?;
    Ok(State {
        invocations: AtomicU64::new(0),
        label,
    })
}

#[lamina::handler(init = build)]
async fn stateful(order: Order, _ctx: Context, state: &State) -> Result<Receipt, Error> {
    let invocation = state.invocations.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(Receipt {
        id: order.id,
        total_qty: order.items.iter().map(|i| i.qty).sum(),
        init_runs: INIT_RUNS.load(Ordering::SeqCst),
        invocation,
        label: state.label.clone(),
    })
}
