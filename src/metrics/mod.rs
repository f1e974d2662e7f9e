//! CloudWatch metrics with no API call: [embedded metric format] documents, written with the
//! invocation's log lines.
//!
//! CloudWatch Logs turns a log line that is an EMF document into metrics. Recording a metric
//! here only adds it to the invocation's record; when the invocation ends, its metrics become one
//! document (or as few as CloudWatch's limits allow) appended to the invocation's buffered log
//! lines, so they leave in the same single `write`, before the response is posted. No network,
//! no extra syscall, nothing added to the response's latency. Under `panic = "abort"` the panic
//! hook writes them before the process ends.
//!
//! Every name and value is checked against CloudWatch's rules where it is recorded: a metric
//! CloudWatch would drop silently is an error at the call instead ([`MetricsError`]).
//!
//! ```no_run
//! use lamina::metrics::{self, Config, Unit};
//! use lamina::{Context, Error};
//!
//! async fn init() -> Result<(), Error> {
//!     metrics::configure(Config::new("Shop")?.service("orders")?.cold_start_metric(true))?;
//!     Ok(())
//! }
//!
//! #[derive(serde::Deserialize)]
//! struct Order { total_cents: u64, channel: String }
//!
//! #[lamina::handler(init = init)]
//! async fn place(order: Order, _ctx: Context, _state: &()) -> Result<(), Error> {
//!     metrics::add_dimension("Channel", &order.channel)?;
//!     metrics::add("OrdersPlaced", Unit::Count, 1.0)?;
//!     metrics::add("OrderValue", Unit::None, order.total_cents as f64 / 100.0)?;
//!     Ok(())
//! }
//! ```
//!
//! The settings follow Powertools: a namespace (`POWERTOOLS_METRICS_NAMESPACE` when
//! [`configure`] is not called), a `service` dimension (`POWERTOOLS_SERVICE_NAME`), default
//! dimensions, and an optional `ColdStart` metric on the first invocation of each execution
//! environment.
//!
//! Which invocation a metric belongs to is decided as for log lines: the one its thread runs,
//! or, on another thread, the only one in flight. A metric recorded outside any invocation (in
//! `init`) is written at once, in a document of its own.
//!
//! [embedded metric format]: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

mod config;
mod document;
mod error;
mod names;
mod unit;

use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

use crate::context::epoch_ms_now;
use crate::logging::{ATTACHED_DUE, Recording};

pub use config::{Config, NAMESPACE_VAR, SERVICE_VAR, configure};
pub use error::MetricsError;
pub use unit::Unit;

use document::Pending;

/// Each invocation's documents as they are recorded, by the invocation's slot in the log buffer
/// (see `logging::sink`): the logs write them out when the invocation ends, through [`drain`].
/// Locked only while the log buffer is, so the two locks are always taken in that order.
static PENDING: Mutex<Vec<Pending>> = Mutex::new(Vec::new());

fn pending() -> MutexGuard<'static, Vec<Pending>> {
    PENDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes the end of an invocation write metrics documents.
pub(crate) fn enable() {
    crate::logging::attach(drain);
}

/// Marks that an invocation's end has metrics (or the cold-start metric) to write.
fn set_due() {
    ATTACHED_DUE.store(true, Ordering::Release);
}

/// Records `value` for the metric `name` in this invocation's document. Recording a name again
/// adds a value (a document carries up to 100 per metric; more go into further documents).
///
/// ```no_run
/// # fn f() -> Result<(), lamina::metrics::MetricsError> {
/// use lamina::metrics::{self, Unit};
/// metrics::add("PaymentLatency", Unit::Milliseconds, 42.0)?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`MetricsError`] for a name or value CloudWatch would refuse, a name already used by a
/// dimension or metadata, another unit than this metric had, or no namespace configured.
pub fn add(name: &str, unit: Unit, value: f64) -> Result<(), MetricsError> {
    record(|pending, config| pending.add(config, name, unit, false, value))
}

/// [`add`] at high resolution (`StorageResolution` 1: per-second data points, billed as such).
///
/// # Errors
/// As for [`add`]; also when `name` was recorded at standard resolution in this document.
pub fn add_high_resolution(name: &str, unit: Unit, value: f64) -> Result<(), MetricsError> {
    record(|pending, config| pending.add(config, name, unit, true, value))
}

/// Adds a dimension to every metric of this invocation's document, or replaces the value of one
/// added before or set by default.
///
/// # Errors
/// [`MetricsError`] for a name or value CloudWatch would refuse, a name already used by a metric
/// or metadata, or a 31st dimension.
pub fn add_dimension(name: &str, value: &str) -> Result<(), MetricsError> {
    record(|pending, config| pending.add_dimension(config, name, value))
}

/// Adds `key: value` to this invocation's document: searchable in CloudWatch Logs Insights, not a
/// metric or dimension (a request id, an order id). Written only when the document has a metric.
///
/// # Errors
/// [`MetricsError::Metadata`] when `value` does not serialize as JSON; [`MetricsError`] for an
/// empty or reserved key or one already used by a metric or dimension.
pub fn add_metadata(key: &str, value: impl Serialize) -> Result<(), MetricsError> {
    let json = serde_json::to_string(&value).map_err(|source| MetricsError::Metadata {
        key: key.to_owned(),
        source,
    })?;
    record(|pending, config| pending.add_metadata(config, key, json))
}

/// Records one metric in a document of its own, with the default dimensions and `dimensions`
/// instead of the invocation's: for a metric whose dimensions differ from the rest.
///
/// ```no_run
/// # fn f() -> Result<(), lamina::metrics::MetricsError> {
/// use lamina::metrics::{self, Unit};
/// metrics::single("PaymentDeclined", Unit::Count, 1.0, &[("Provider", "acme")])?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// As for [`add`] and [`add_dimension`].
pub fn single(
    name: &str,
    unit: Unit,
    value: f64,
    dimensions: &[(&str, &str)],
) -> Result<(), MetricsError> {
    record(|pending, config| pending.add_single(config, name, unit, value, dimensions))
}

fn record(
    change: impl FnOnce(&mut Pending, &Config) -> Result<(), MetricsError>,
) -> Result<(), MetricsError> {
    let config = config::current()?;
    enable();
    crate::logging::record_attached(|at| match at {
        Recording::Invocation(slot) => {
            let mut pending = pending();
            if pending.len() <= slot {
                pending.resize_with(slot + 1, Pending::default);
            }
            change(&mut pending[slot], config)?;
            set_due();
            Ok(())
        }
        Recording::Now(out) => {
            let mut loose = Pending::default();
            change(&mut loose, config)?;
            loose.render(config, epoch_ms_now(), out);
            Ok(())
        }
    })
}

/// Appends the documents of the invocation in `slot` (every invocation's with `None`) and, the
/// first time, the cold-start metric to `out`, then says whether any still wait. The logs call it,
/// holding their buffer, as an invocation ends.
fn drain(slot: Option<usize>, out: &mut String) {
    let mut pending = pending();
    if let Some(config) = config::get() {
        let now = epoch_ms_now();
        if config::take_cold_start() {
            document::cold_start(config, now, out);
        }
        let ending = match slot {
            Some(slot) => pending.get_mut(slot..=slot).unwrap_or_default(),
            None => &mut pending[..],
        };
        for documents in ending.iter_mut().filter(|p| !p.is_empty()) {
            documents.render(config, now, out);
        }
    }
    let waiting = pending.iter().any(|p| !p.is_empty());
    ATTACHED_DUE.store(waiting || config::cold_start_due(), Ordering::Release);
}

#[cfg(test)]
mod tests;
