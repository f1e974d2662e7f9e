//! Records from the `log` crate, which many dependencies write through, as lamina lines: the same
//! format, the invocation's `requestId`, the same buffering and the same `RUST_LOG` filter, by
//! the record's target.
//!
//! They go to lamina's line writer directly rather than through `tracing`: a `tracing` call site
//! has one target fixed at compile time, so a `log` record's own target would be lost to the
//! filter. A subscriber of your own therefore does not see them; use `tracing-log`'s `LogTracer`
//! in `init` for that (lamina installs this bridge only if no `log` logger is set yet).

use std::fmt::Write as _;
use std::sync::OnceLock;

use tracing::Level;
use tracing::level_filters::LevelFilter;

use super::filter::Directives;
use super::line::Fields;
use super::sink;

struct LogRecords {
    filter: Directives,
}

impl log::Log for LogRecords {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.filter.level_for(metadata.target()) >= level(metadata.level())
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut message = String::new();
        let _ = write!(message, "{}", record.args());
        sink::emit(level(record.level()), &message, &Fields::default());
    }

    fn flush(&self) {
        sink::flush();
    }
}

fn level(level: log::Level) -> Level {
    match level {
        log::Level::Error => Level::ERROR,
        log::Level::Warn => Level::WARN,
        log::Level::Info => Level::INFO,
        log::Level::Debug => Level::DEBUG,
        log::Level::Trace => Level::TRACE,
    }
}

fn max_level(filter: LevelFilter) -> log::LevelFilter {
    match filter.into_level() {
        None => log::LevelFilter::Off,
        Some(Level::ERROR) => log::LevelFilter::Error,
        Some(Level::WARN) => log::LevelFilter::Warn,
        Some(Level::INFO) => log::LevelFilter::Info,
        Some(Level::DEBUG) => log::LevelFilter::Debug,
        Some(_) => log::LevelFilter::Trace,
    }
}

/// Makes lamina the `log` crate's logger, unless one is set already.
pub(crate) fn install(filter: Directives) {
    static LOGGER: OnceLock<LogRecords> = OnceLock::new();
    let max = max_level(filter.max_level());
    let logger = LOGGER.get_or_init(|| LogRecords { filter });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Log as _;

    #[test]
    fn records_are_filtered_by_their_own_target() {
        let records = LogRecords {
            filter: Directives::parse(Some("warn,my_crate::db=debug"), None),
        };
        let enabled = |target: &str, level: log::Level| {
            records.enabled(&log::Metadata::builder().target(target).level(level).build())
        };
        assert!(enabled("my_crate::db", log::Level::Debug));
        assert!(!enabled("my_crate::db", log::Level::Trace));
        assert!(!enabled("rustls", log::Level::Info));
        assert!(enabled("rustls", log::Level::Warn));
    }

    #[test]
    fn levels_map_one_to_one() {
        assert_eq!(max_level(LevelFilter::OFF), log::LevelFilter::Off);
        assert_eq!(max_level(LevelFilter::DEBUG), log::LevelFilter::Debug);
        assert_eq!(max_level(LevelFilter::TRACE), log::LevelFilter::Trace);
        assert_eq!(level(log::Level::Warn), Level::WARN);
    }
}
