//! What Lambda tells the function through its environment, read once before the first `/next`.

use std::sync::Arc;

use crate::error::ConfigError;

/// Host and port (optionally `http://host:port/prefix`) of the Runtime API.
pub(crate) const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
const FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";
const FUNCTION_MEMORY_SIZE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
const LOG_GROUP_NAME: &str = "AWS_LAMBDA_LOG_GROUP_NAME";
const LOG_STREAM_NAME: &str = "AWS_LAMBDA_LOG_STREAM_NAME";
/// How many invocations Lambda Managed Instances may hand this process at once.
pub(crate) const MAX_CONCURRENCY: &str = "AWS_LAMBDA_MAX_CONCURRENCY";

/// The function's identity, the same for every invocation of this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionConfig {
    pub(crate) function_name: String,
    pub(crate) function_version: String,
    pub(crate) memory_mb: u32,
    pub(crate) log_group: Option<String>,
    pub(crate) log_stream: Option<String>,
    /// `AWS_LAMBDA_MAX_CONCURRENCY`: 1 unless Managed Instances set it higher.
    pub(crate) max_concurrency: u32,
}

impl FunctionConfig {
    /// Reads the variables Lambda sets for every function.
    ///
    /// Name, version and memory size are required: Lambda always sets them, so their absence means
    /// the process is not where it thinks it is. Log group and stream are optional, as Lambda
    /// leaves them out for functions that log elsewhere.
    pub(crate) fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            var(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError::missing(name))
        };
        let memory = required(FUNCTION_MEMORY_SIZE)?;
        let memory_mb = memory.trim().parse().map_err(|_| {
            ConfigError::malformed(FUNCTION_MEMORY_SIZE, &memory, "a whole number of megabytes")
        })?;
        Ok(FunctionConfig {
            function_name: required(FUNCTION_NAME)?,
            function_version: required(FUNCTION_VERSION)?,
            memory_mb,
            log_group: var(LOG_GROUP_NAME).filter(|v| !v.is_empty()),
            log_stream: var(LOG_STREAM_NAME).filter(|v| !v.is_empty()),
            max_concurrency: max_concurrency(&var)?,
        })
    }

    /// The identity given to a local invocation: the environment's values where set, else
    /// Lambda's defaults for a new function.
    pub(crate) fn local(var: impl Fn(&str) -> Option<String>, default_name: &str) -> Arc<Self> {
        Arc::new(FunctionConfig {
            function_name: var(FUNCTION_NAME).unwrap_or_else(|| default_name.to_owned()),
            function_version: var(FUNCTION_VERSION).unwrap_or_else(|| "$LATEST".to_owned()),
            memory_mb: var(FUNCTION_MEMORY_SIZE)
                .and_then(|m| m.trim().parse().ok())
                .unwrap_or(128),
            log_group: var(LOG_GROUP_NAME),
            log_stream: var(LOG_STREAM_NAME),
            max_concurrency: 1,
        })
    }
}

/// `AWS_LAMBDA_MAX_CONCURRENCY`, or 1 when it is unset or empty.
pub(crate) fn max_concurrency(var: impl Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    let Some(value) = var(MAX_CONCURRENCY).filter(|v| !v.trim().is_empty()) else {
        return Ok(1);
    };
    match value.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ConfigError::malformed(
            MAX_CONCURRENCY,
            &value,
            "a whole number of invocations, at least 1",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const FULL: &[(&str, &str)] = &[
        ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/orders"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/23/[7]abc"),
    ];

    #[test]
    fn reads_every_variable() {
        let config = FunctionConfig::from_env(env(FULL)).unwrap();
        assert_eq!(
            config,
            FunctionConfig {
                function_name: "orders".into(),
                function_version: "7".into(),
                memory_mb: 512,
                log_group: Some("/aws/lambda/orders".into()),
                log_stream: Some("2026/11/23/[7]abc".into()),
                max_concurrency: 1,
            }
        );
    }

    #[test]
    fn max_concurrency_is_one_unless_set_and_must_be_a_positive_number() {
        let with = |value: &str| {
            let mut pairs = FULL.to_vec();
            pairs.push((MAX_CONCURRENCY, value));
            FunctionConfig::from_env(env(&pairs)).map(|c| c.max_concurrency)
        };
        assert_eq!(with("").unwrap(), 1);
        assert_eq!(with("1").unwrap(), 1);
        assert_eq!(with(" 64 ").unwrap(), 64);
        for bad in ["0", "-2", "eight", "1.5"] {
            let err = with(bad).unwrap_err();
            assert_eq!(err.variable(), MAX_CONCURRENCY);
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn a_missing_required_variable_is_named() {
        for missing in [FUNCTION_NAME, FUNCTION_VERSION, FUNCTION_MEMORY_SIZE] {
            let pairs: Vec<_> = FULL
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let err = FunctionConfig::from_env(env(&pairs)).unwrap_err();
            assert_eq!(err.variable(), missing);
            assert!(err.is_missing());
        }
    }

    #[test]
    fn log_names_are_optional() {
        let config = FunctionConfig::from_env(env(&FULL[..3])).unwrap();
        assert_eq!((config.log_group, config.log_stream), (None, None));
    }

    #[test]
    fn malformed_memory_size_is_an_error_not_a_panic() {
        let mut pairs = FULL.to_vec();
        pairs[2].1 = "lots";
        let err = FunctionConfig::from_env(env(&pairs)).unwrap_err();
        assert!(!err.is_missing());
        assert!(err.to_string().contains("`lots`"), "{err}");
    }
}
