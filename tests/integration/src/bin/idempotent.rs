//! Charges a payment once however often it is delivered: `{"payment_id": "p-1", "cents": 100}`
//! answers `{"charged": cents, "attempt": n}`, where `n` counts the times the work ran in this
//! process; `{"fail": "..."}` makes the work fail. Records live in a `MemoryStore`.

use std::sync::atomic::{AtomicU32, Ordering};

use lamina::idempotency::{Idempotency, MemoryStore};
use lamina::{Context, Error};
use serde::{Deserialize, Serialize};

static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

#[derive(Deserialize)]
struct Payment {
    payment_id: String,
    cents: u64,
    fail: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Receipt {
    charged: u64,
    attempt: u32,
}

async fn init() -> Result<Idempotency<MemoryStore>, Error> {
    Ok(Idempotency::new(MemoryStore::default()).local_cache(16))
}

#[lamina::handler(init = init)]
async fn charge(
    payment: Payment,
    ctx: Context,
    idempotency: &Idempotency<MemoryStore>,
) -> Result<Receipt, Error> {
    idempotency
        .key(&payment.payment_id)
        .validate(&payment.cents)
        .run(&ctx, || async {
            let attempt = ATTEMPTS.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(message) = payment.fail {
                return Err(Error::new("Payment.Declined", message));
            }
            Ok(Receipt {
                charged: payment.cents,
                attempt,
            })
        })
        .await
}
