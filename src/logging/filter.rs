//! Which lines are written: `RUST_LOG`'s directives under the level Lambda asks for.
//!
//! `RUST_LOG` holds comma-separated directives as `env_logger` and `tracing_subscriber`'s
//! `EnvFilter` read them: a bare level (`info`) sets the default, `target=level`
//! (`hyper=warn`, `my_crate::db=debug`) sets the level for every target that starts with
//! `target`, the longest such prefix winning, and a bare `target` turns all of its levels on.
//! Directives this filter cannot honour (span filters in `[…]`, field values) are skipped.
//!
//! `AWS_LAMBDA_LOG_LEVEL`, the level set in Lambda's logging configuration, replaces
//! `RUST_LOG`'s default and caps every directive: a line below it is never written, since it is
//! what the function's owner asked Lambda for.
//!
//! The decision is made once per call site (`tracing`'s `Interest`), so the filter costs nothing
//! per line.

use tracing::level_filters::LevelFilter;
use tracing::{Metadata, Subscriber};
use tracing_core::subscriber::Interest;

use super::{LAMBDA_LOG_LEVEL, RUST_LOG};

/// The level each target logs at: `RUST_LOG`'s directives under `AWS_LAMBDA_LOG_LEVEL`.
///
/// [`layer`](super::layer) uses one as its filter; [`Directives::from_env`] reads the two
/// variables as lamina does.
///
/// ```
/// use lamina::logging::Directives;
/// use tracing::level_filters::LevelFilter;
///
/// let filter = Directives::parse(Some("info,hyper=warn,orders::db=debug"), None);
/// assert_eq!(filter.level_for("orders::db::pool"), LevelFilter::DEBUG);
/// assert_eq!(filter.level_for("hyper::proto"), LevelFilter::WARN);
/// assert_eq!(filter.level_for("orders"), LevelFilter::INFO);
///
/// // Lambda's level caps every directive.
/// let capped = Directives::parse(Some("info,orders::db=debug"), Some("WARN"));
/// assert_eq!(capped.level_for("orders::db"), LevelFilter::WARN);
/// ```
#[derive(Debug, Clone)]
pub struct Directives {
    default: LevelFilter,
    /// `(target prefix, level)`, longest prefix first.
    targets: Vec<(String, LevelFilter)>,
    cap: LevelFilter,
}

impl Directives {
    /// Reads `RUST_LOG` and `AWS_LAMBDA_LOG_LEVEL` from the environment.
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    pub(crate) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        Self::parse(var(RUST_LOG).as_deref(), var(LAMBDA_LOG_LEVEL).as_deref())
    }

    /// Builds the filter from a `RUST_LOG` value and an `AWS_LAMBDA_LOG_LEVEL` value.
    pub fn parse(rust_log: Option<&str>, lambda_level: Option<&str>) -> Self {
        let lambda = lambda_level.and_then(level_name);
        let mut default = None;
        let mut targets: Vec<(String, LevelFilter)> = Vec::new();
        for directive in rust_log.unwrap_or_default().split(',').map(str::trim) {
            if directive.is_empty() || directive.contains(['[', ']', '{', '}', '/']) {
                continue;
            }
            match directive.split_once('=') {
                Some((target, level)) => {
                    if let (Some(level), false) = (level_name(level), target.trim().is_empty()) {
                        targets.push((target.trim().to_owned(), level));
                    }
                }
                None => match level_name(directive) {
                    Some(level) => default = Some(level),
                    // A target alone: all of its lines.
                    None => targets.push((directive.to_owned(), LevelFilter::TRACE)),
                },
            }
        }
        // Longest prefix first; among equal targets the later directive wins, as in env_logger.
        targets.reverse();
        targets.sort_by_key(|(target, _)| std::cmp::Reverse(target.len()));
        targets.dedup_by(|later, earlier| later.0 == earlier.0);
        Directives {
            default: lambda.or(default).unwrap_or(LevelFilter::INFO),
            targets,
            cap: lambda.unwrap_or(LevelFilter::TRACE),
        }
    }

    /// The most verbose level lines from `target` are written at.
    pub fn level_for(&self, target: &str) -> LevelFilter {
        let level = self
            .targets
            .iter()
            .find(|(prefix, _)| target.starts_with(prefix.as_str()))
            .map_or(self.default, |(_, level)| *level);
        level.min(self.cap)
    }

    /// Whether a line or span with `metadata` is written.
    pub fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.level_for(metadata.target()) >= *metadata.level()
    }

    /// The most verbose level any target is written at.
    pub fn max_level(&self) -> LevelFilter {
        self.targets
            .iter()
            .map(|(_, level)| *level)
            .fold(self.default, LevelFilter::max)
            .min(self.cap)
    }

    pub(crate) fn interest(&self, metadata: &Metadata<'_>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
}

/// A level name in any case; Lambda's `FATAL` reads as `ERROR`, the highest `tracing` has.
fn level_name(name: &str) -> Option<LevelFilter> {
    match name.trim().to_ascii_uppercase().as_str() {
        "FATAL" => Some(LevelFilter::ERROR),
        other => other.parse().ok(),
    }
}

impl<S: Subscriber> tracing_subscriber::layer::Filter<S> for Directives {
    fn enabled(
        &self,
        metadata: &Metadata<'_>,
        _: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        Directives::enabled(self, metadata)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.interest(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(rust_log: &str, lambda: Option<&str>) -> Directives {
        Directives::parse(Some(rust_log), lambda)
    }

    #[test]
    fn rust_log_directives_choose_a_level_per_target_by_longest_prefix() {
        let filter = parse("info,hyper=warn,my_crate::db=debug,my_crate=error", None);
        assert_eq!(filter.level_for("my_crate::db"), LevelFilter::DEBUG);
        assert_eq!(filter.level_for("my_crate::db::pool"), LevelFilter::DEBUG);
        assert_eq!(filter.level_for("my_crate::api"), LevelFilter::ERROR);
        assert_eq!(filter.level_for("hyper::client"), LevelFilter::WARN);
        assert_eq!(filter.level_for("lamina"), LevelFilter::INFO);
        assert_eq!(filter.max_level(), LevelFilter::DEBUG);
    }

    #[test]
    fn a_bare_target_logs_everything_and_off_nothing() {
        let filter = parse("warn,chatty=off,mine", None);
        assert_eq!(filter.level_for("mine::x"), LevelFilter::TRACE);
        assert_eq!(filter.level_for("chatty"), LevelFilter::OFF);
        assert_eq!(filter.level_for("other"), LevelFilter::WARN);
    }

    #[test]
    fn the_later_of_two_directives_for_one_target_wins() {
        let filter = parse("a=debug,a=error", None);
        assert_eq!(filter.level_for("a"), LevelFilter::ERROR);
    }

    #[test]
    fn directives_it_cannot_honour_are_skipped() {
        let filter = parse("debug,a[span]=trace,b=nonsense,/regex/,=info", None);
        assert_eq!(filter.level_for("a"), LevelFilter::DEBUG);
        assert_eq!(filter.level_for("b"), LevelFilter::DEBUG);
    }

    #[test]
    fn lambdas_level_replaces_the_default_and_caps_every_directive() {
        let filter = parse("debug,orders=trace,noisy=error", Some("WARN"));
        assert_eq!(filter.level_for("anything"), LevelFilter::WARN);
        assert_eq!(filter.level_for("orders"), LevelFilter::WARN);
        assert_eq!(filter.level_for("noisy"), LevelFilter::ERROR);
        let filter = parse("", Some("fatal"));
        assert_eq!(filter.level_for("x"), LevelFilter::ERROR);
        let filter = parse("trace", Some("nonsense"));
        assert_eq!(filter.level_for("x"), LevelFilter::TRACE);
    }

    #[test]
    fn no_settings_mean_info() {
        let filter = Directives::parse(None, None);
        assert_eq!(filter.level_for("x"), LevelFilter::INFO);
        assert_eq!(filter.max_level(), LevelFilter::INFO);
    }
}
