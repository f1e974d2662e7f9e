//! A function with a subscriber of its own, installed in `init`: a `Registry` with lamina's
//! lines as one layer and a layer that counts events. Answers with how many events the counting
//! layer has seen.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lamina::{Context, Error};
use serde_json::{Value, json};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

struct Counting(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counting {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn init() -> Result<Arc<AtomicUsize>, Error> {
    tracing::info!("init line, before the registry");
    let seen = Arc::new(AtomicUsize::new(0));
    tracing_subscriber::registry()
        .with(lamina::logging::layer())
        .with(Counting(Arc::clone(&seen)))
        .try_init()
        .map_err(|e| Error::new("Init.Subscriber", e.to_string()))?;
    Ok(seen)
}

#[lamina::handler(init = init)]
async fn logging_layer(
    event: Value,
    _ctx: Context,
    seen: &Arc<AtomicUsize>,
) -> Result<Value, Error> {
    let marker = event["marker"].as_str().unwrap_or("none").to_owned();
    let span = tracing::info_span!("order", order_id = "o-17");
    async {
        tracing::debug!(marker, "debug line");
        tracing::info!(marker, qty = 3, "handler line");
    }
    .instrument(span)
    .await;
    std::thread::spawn(move || tracing::warn!(marker, "thread line"))
        .join()
        .expect("the thread ran");
    Ok(json!({ "seen": seen.load(Ordering::SeqCst) }))
}
