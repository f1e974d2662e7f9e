//! The process's log output: `tracing` events as one text line each, at the level Lambda's
//! advanced logging controls choose.

use tracing_subscriber::filter::LevelFilter;

const LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
const RUST_LOG: &str = "RUST_LOG";

/// Where log lines go.
#[derive(Clone, Copy)]
pub(crate) enum Output {
    /// Under Lambda: stdout, which Lambda sends to CloudWatch Logs.
    Stdout,
    /// For a local invocation: stderr, so stdout carries only the response.
    Stderr,
}

/// Installs lamina's subscriber, unless the process already has one.
pub(crate) fn install(output: Output) {
    let level = level(|k| std::env::var(k).ok());
    // No timestamps: CloudWatch Logs stamps every line itself.
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .without_time();
    let installed = match output {
        Output::Stdout => builder.with_writer(std::io::stdout).try_init(),
        Output::Stderr => builder.with_writer(std::io::stderr).try_init(),
    };
    // An error means a subscriber is already installed; it stays in charge.
    drop(installed);
}

/// `AWS_LAMBDA_LOG_LEVEL` wins over `RUST_LOG`; either holds one level name. Default: INFO.
fn level(var: impl Fn(&str) -> Option<String>) -> LevelFilter {
    [LAMBDA_LOG_LEVEL, RUST_LOG]
        .into_iter()
        .filter_map(&var)
        .find_map(|value| match value.trim().to_ascii_uppercase().as_str() {
            // Lambda's scale has FATAL above ERROR; tracing's stops at ERROR.
            "FATAL" => Some(LevelFilter::ERROR),
            other => other.parse().ok(),
        })
        .unwrap_or(LevelFilter::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level_of(pairs: &[(&str, &str)]) -> LevelFilter {
        level(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn lambda_setting_wins_then_rust_log_then_info() {
        assert_eq!(level_of(&[]), LevelFilter::INFO);
        assert_eq!(level_of(&[("RUST_LOG", "debug")]), LevelFilter::DEBUG);
        assert_eq!(
            level_of(&[("RUST_LOG", "debug"), ("AWS_LAMBDA_LOG_LEVEL", "WARN")]),
            LevelFilter::WARN
        );
        assert_eq!(
            level_of(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]),
            LevelFilter::ERROR
        );
        assert_eq!(
            level_of(&[("AWS_LAMBDA_LOG_LEVEL", "nonsense"), ("RUST_LOG", "trace")]),
            LevelFilter::TRACE
        );
    }
}
