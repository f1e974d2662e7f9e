//! Log lines in the shape Lambda's advanced logging controls expect, from `tracing` events.
//!
//! lamina installs a `tracing` subscriber before INIT, so `tracing::info!` and friends work in
//! `init` and in the handler with no setup. Lambda's settings choose the output:
//!
//! | variable | values | default |
//! |---|---|---|
//! | `AWS_LAMBDA_LOG_FORMAT` | `Text` or `JSON` (any case) | `Text` |
//! | `AWS_LAMBDA_LOG_LEVEL` | `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL` (read as `ERROR`): no line below it is written | `RUST_LOG`'s default, then `INFO` |
//! | `RUST_LOG` | directives, as `info,hyper=warn,my_crate::db=debug` ([`Directives`]) | |
//! | `LAMINA_LOG` | `off`: lamina installs no subscriber (and no `log` logger) | |
//!
//! With the cargo feature `log`, records from the [`log`](https://docs.rs/log) crate become
//! lamina lines too, filtered by their own target.
//!
//! In JSON format each event is one line with Lambda's keys first, then the event's fields and
//! those of the spans it is in (the innermost value wins; a field named like one of Lambda's keys
//! is left out):
//!
//! ```text
//! {"timestamp":"2026-11-23T14:05:06.123Z","level":"INFO","message":"fulfilled","requestId":"8f50…","xray_trace_id":"1-6741…","order":"o-17","qty":3}
//! ```
//!
//! `requestId` is on every line written during an invocation, from any thread or task;
//! `tenantId` when the invocation has one; `xray_trace_id` (the `Root=` of the trace header, as
//! Powertools for AWS Lambda names it) when the invocation is sampled. In text format a line is
//! `LEVEL request-id message field=value …`; CloudWatch Logs adds the time.
//!
//! The event payload is never logged.
//!
//! # When lines are written
//!
//! During an invocation lines wait in memory and go to stdout in one `write` when the handler
//! returns (or once 64 KB are waiting), before the response is posted: Lambda may freeze the
//! process right after, and one write per invocation is cheaper than one per line. Outside an
//! invocation (INIT, between invocations) each line is written at once. Under
//! `panic = "abort"` the panic hook writes what is waiting before the process ends. Call
//! [`flush`] to write earlier, e.g. before `std::process::exit`.
//!
//! # Your own subscriber
//!
//! lamina's subscriber is the default only for INIT's own thread until `init` returns, and
//! becomes the process's global default after that, unless `init` installed one. So `init` can
//! install a [`tracing_subscriber::Registry`] with lamina's lines as one [`layer`] and any layers
//! of its own:
//!
//! ```no_run
//! use lamina::{Context, Error};
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! # struct MetricsLayer;
//! # impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for MetricsLayer {}
//! async fn init() -> Result<(), Error> {
//!     tracing_subscriber::registry()
//!         .with(lamina::logging::layer())
//!         .with(MetricsLayer)
//!         .init();
//!     Ok(())
//! }
//!
//! #[lamina::handler(init = init)]
//! async fn handle(event: serde_json::Value, _ctx: Context, _: &()) -> Result<(), Error> {
//!     tracing::info!(records = event["Records"].as_array().map_or(0, Vec::len), "received");
//!     Ok(())
//! }
//! ```
//!
//! Yours takes over when `init` returns. Until then lines from INIT's own thread still go to
//! lamina's subscriber (the same lines, without your other layers), and lines from other threads
//! (a thread `init` started, a blocking task) are dropped before you install a subscriber, since
//! no global one exists yet. To have no lamina subscriber at all, set `LAMINA_LOG=off`.

mod filter;
mod layer;
mod line;
#[cfg(feature = "log")]
mod log_records;
mod sink;
mod subscriber;

use tracing::dispatcher::DefaultGuard;
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::registry::LookupSpan;

pub use filter::Directives;
pub use layer::LogLayer;
pub(crate) use sink::Invocation;
pub(crate) use sink::running_request_ids;
#[cfg(feature = "metrics")]
pub(crate) use sink::{ATTACHED_DUE, Recording, attach, record_attached};

use line::Format;
use subscriber::LaminaSubscriber;

const LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
const LAMBDA_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
const RUST_LOG: &str = "RUST_LOG";
const LAMINA_LOG: &str = "LAMINA_LOG";

/// lamina's log lines as a layer for a [`tracing_subscriber::Registry`] of your own, filtered by
/// `RUST_LOG` under the level Lambda's settings choose ([`Directives`]). The filter is the
/// layer's own: the registry's other layers still see every level. See the [module docs](self)
/// for an example.
pub fn layer<S>() -> Filtered<LogLayer, Directives, S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    LogLayer::default().with_filter(Directives::from_env())
}

/// Writes the lines waiting in the invocation's buffer now, instead of when the invocation ends.
pub fn flush() {
    sink::flush();
}

/// Where log lines go.
#[derive(Clone, Copy)]
pub(crate) enum Output {
    /// Under Lambda: stdout, which Lambda sends to CloudWatch Logs.
    Stdout,
    /// For a local invocation: stderr, so stdout carries only the response.
    Stderr,
}

/// Makes lamina's subscriber the default for this thread, which is about to run INIT, unless
/// `LAMINA_LOG=off` or the process already has a subscriber. Dropping the result (once `init`
/// has returned) makes it the process's default, unless `init` installed one.
pub(crate) fn install(output: Output) -> Installed {
    let env = |k: &str| std::env::var(k).ok();
    sink::configure(format(env), output);
    let off = env(LAMINA_LOG).is_some_and(|v| v.trim().eq_ignore_ascii_case("off"));
    if off {
        return Installed { scoped: None };
    }
    let directives = Directives::from_vars(env);
    #[cfg(feature = "log")]
    log_records::install(directives.clone());
    if tracing::dispatcher::has_been_set() {
        return Installed { scoped: None };
    }
    let dispatch = Dispatch::new(LaminaSubscriber::new(directives));
    let guard = tracing::dispatcher::set_default(&dispatch);
    Installed {
        scoped: Some((dispatch, guard)),
    }
}

/// lamina's subscriber while INIT runs; see [`install`].
pub(crate) struct Installed {
    scoped: Option<(Dispatch, DefaultGuard)>,
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some((dispatch, guard)) = self.scoped.take() {
            drop(guard);
            // An error means `init` installed a subscriber; it stays in charge.
            let _ = tracing::dispatcher::set_global_default(dispatch);
        }
    }
}

/// Writes the buffered lines from a panic hook, before a `panic = "abort"` process ends.
pub(crate) fn flush_before_abort() {
    sink::flush_if_free();
}

/// `AWS_LAMBDA_LOG_FORMAT`: `JSON` in any case, else text.
fn format(var: impl Fn(&str) -> Option<String>) -> Format {
    match var(LAMBDA_LOG_FORMAT) {
        Some(value) if value.trim().eq_ignore_ascii_case("json") => Format::Json,
        _ => Format::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn lambda_setting_wins_then_rust_log_then_info() {
        let level = |pairs: &[(&str, &str)]| Directives::from_vars(env(pairs)).level_for("any");
        assert_eq!(level(&[]), LevelFilter::INFO);
        assert_eq!(level(&[("RUST_LOG", "debug")]), LevelFilter::DEBUG);
        assert_eq!(
            level(&[("RUST_LOG", "debug"), ("AWS_LAMBDA_LOG_LEVEL", "WARN")]),
            LevelFilter::WARN
        );
        assert_eq!(
            level(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]),
            LevelFilter::ERROR
        );
        assert_eq!(
            level(&[("AWS_LAMBDA_LOG_LEVEL", "nonsense"), ("RUST_LOG", "trace")]),
            LevelFilter::TRACE
        );
    }

    #[test]
    fn json_format_in_any_case_else_text() {
        assert_eq!(format(env(&[])), Format::Text);
        for json in ["JSON", "json", "Json", " JSON "] {
            assert_eq!(
                format(env(&[("AWS_LAMBDA_LOG_FORMAT", json)])),
                Format::Json,
                "{json}"
            );
        }
        for text in ["Text", "TEXT", "", "yaml"] {
            assert_eq!(
                format(env(&[("AWS_LAMBDA_LOG_FORMAT", text)])),
                Format::Text,
                "{text}"
            );
        }
    }
}
