//! What lamina's AWS SDK clients (the X-Ray exporter, the DynamoDB idempotency store) read from
//! the environment: the region, the credentials and an endpoint override, as Lambda sets them.
//! The environment only: no profile files, no instance metadata, no `aws-config` (and its
//! dependencies) in the build.

use std::fmt;

/// The environment lacks what an AWS client configured from it needs.
///
/// New variants may be added in minor releases, so a `match` needs a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
    MissingRegion,
    /// `AWS_ACCESS_KEY_ID` or `AWS_SECRET_ACCESS_KEY` is not set.
    MissingCredentials,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingRegion => f.write_str(
                "an AWS client configured from the environment needs a region: set `AWS_REGION` \
                 (Lambda sets it)",
            ),
            ConfigError::MissingCredentials => f.write_str(
                "an AWS client configured from the environment needs credentials: set \
                 `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN` for \
                 temporary ones; Lambda sets all three)",
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The settings read.
pub(crate) struct AwsEnv {
    pub(crate) region: String,
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) session_token: Option<String>,
    /// `endpoint_var` (the service's own, such as `AWS_ENDPOINT_URL_XRAY`) or `AWS_ENDPOINT_URL`.
    pub(crate) endpoint: Option<String>,
}

/// Reads the settings through `var` (which treats an empty variable as unset).
pub(crate) fn read(
    var: impl Fn(&str) -> Option<String>,
    endpoint_var: &str,
) -> Result<AwsEnv, ConfigError> {
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or(ConfigError::MissingRegion)?;
    let (Some(access_key_id), Some(secret_access_key)) =
        (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
    else {
        return Err(ConfigError::MissingCredentials);
    };
    Ok(AwsEnv {
        region,
        access_key_id,
        secret_access_key,
        session_token: var("AWS_SESSION_TOKEN"),
        endpoint: var(endpoint_var).or_else(|| var("AWS_ENDPOINT_URL")),
    })
}

/// The process environment, with empty variables as unset.
pub(crate) fn process_var(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}
