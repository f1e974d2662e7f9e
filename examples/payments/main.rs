//! Charges a payment exactly once however often it is delivered, and records CloudWatch metrics
//! about it: `lamina::idempotency` around the charge, `lamina::metrics` for what happened.
//!
//! Deployed, the records belong in DynamoDB (`DynamoDbStore::from_env(table)`, feature
//! `idempotency-dynamodb`); this example keeps them in memory so it runs anywhere. Run locally,
//! the metrics document goes to stderr with the log lines, the response to stdout:
//!
//! ```text
//! cargo run --example payments --features metrics,idempotency -- --event examples/payments/event.json
//! ```

use lamina::idempotency::{Idempotency, MemoryStore};
use lamina::metrics::{self, Config, Unit};
use lamina::{Context, Error};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Payment {
    payment_id: String,
    customer: String,
    cents: u64,
    channel: String,
}

#[derive(Serialize, Deserialize)]
struct Receipt {
    payment_id: String,
    charged_cents: u64,
}

async fn init() -> Result<Idempotency<MemoryStore>, Error> {
    metrics::configure(
        Config::new("Payments")?
            .service("charge")?
            .cold_start_metric(true),
    )?;
    Ok(Idempotency::new(MemoryStore::default()).local_cache(256))
}

#[lamina::handler(init = init)]
async fn charge(
    payment: Payment,
    ctx: Context,
    idempotency: &Idempotency<MemoryStore>,
) -> Result<Receipt, Error> {
    metrics::add_dimension("Channel", &payment.channel)?;
    metrics::add_metadata("paymentId", &payment.payment_id)?;
    let receipt = idempotency
        .key(&payment.payment_id)
        .validate(&(&payment.customer, payment.cents))
        .run(&ctx, || async {
            // The card is charged here, once per payment id.
            metrics::add("PaymentsCharged", Unit::Count, 1.0)?;
            metrics::add("ChargedAmount", Unit::None, payment.cents as f64 / 100.0)?;
            Ok::<_, Error>(Receipt {
                payment_id: payment.payment_id.clone(),
                charged_cents: payment.cents,
            })
        })
        .await?;
    Ok(receipt)
}
