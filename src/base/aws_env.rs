//! What lamina's AWS SDK clients (the X-Ray exporter, the DynamoDB idempotency store) read from
//! the environment: the region, where the credentials come from (the keys Lambda sets, or a
//! container credentials endpoint; see `aws_credentials`) and an endpoint override. No profile
//! files, no instance metadata, no `aws-config` (and its dependencies) in the build.

use std::fmt;

/// The environment lacks what an AWS client configured from it needs.
///
/// New variants may be added in minor releases, so a `match` needs a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
    MissingRegion,
    /// Neither `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` nor a container credentials
    /// endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI` or `…_RELATIVE_URI`) is set.
    MissingCredentials,
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI` is not a plain `http://` URI.
    CredentialsUri {
        /// The value.
        uri: String,
    },
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
                 temporary ones; Lambda sets all three), or a container credentials endpoint \
                 in `AWS_CONTAINER_CREDENTIALS_FULL_URI` (with `AWS_CONTAINER_AUTHORIZATION_TOKEN` \
                 or `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`)",
            ),
            ConfigError::CredentialsUri { uri } => write!(
                f,
                "`AWS_CONTAINER_CREDENTIALS_FULL_URI` is {uri:?}; lamina fetches container \
                 credentials over plain `http://` only (the endpoints Lambda and ECS give are), so \
                 give an `http://host:port/path` URI"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The settings read.
pub(crate) struct AwsEnv {
    pub(crate) region: String,
    pub(crate) credentials: CredentialSource,
    /// `endpoint_var` (the service's own, such as `AWS_ENDPOINT_URL_XRAY`) or `AWS_ENDPOINT_URL`.
    pub(crate) endpoint: Option<String>,
}

/// Where the credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CredentialSource {
    /// The keys in the environment.
    Keys {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    },
    /// A container credentials endpoint, asked again as they near their expiry.
    Container { uri: String, token: Option<Token> },
}

/// The authorization token: its value, or the file it is read from on every fetch (EKS rotates
/// it there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Value(String),
    File(String),
}

/// Where ECS's (and the SDKs') relative container credentials URIs are served.
const CONTAINER_HOST: &str = "http://169.254.170.2";

/// Reads the settings through `var` (which treats an empty variable as unset).
pub(crate) fn read(
    var: impl Fn(&str) -> Option<String>,
    endpoint_var: &str,
) -> Result<AwsEnv, ConfigError> {
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or(ConfigError::MissingRegion)?;
    Ok(AwsEnv {
        region,
        credentials: credentials(&var)?,
        endpoint: var(endpoint_var).or_else(|| var("AWS_ENDPOINT_URL")),
    })
}

/// The keys when both are set (Lambda sets them), else the container endpoint when one is.
fn credentials(var: &impl Fn(&str) -> Option<String>) -> Result<CredentialSource, ConfigError> {
    if let (Some(access_key_id), Some(secret_access_key)) =
        (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
    {
        return Ok(CredentialSource::Keys {
            access_key_id,
            secret_access_key,
            session_token: var("AWS_SESSION_TOKEN"),
        });
    }
    let uri = match (
        var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        var("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    ) {
        (Some(relative), _) => format!("{CONTAINER_HOST}{relative}"),
        (None, Some(full)) if full.starts_with("http://") => full,
        (None, Some(uri)) => return Err(ConfigError::CredentialsUri { uri }),
        (None, None) => return Err(ConfigError::MissingCredentials),
    };
    let token = var("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        .map(Token::Value)
        .or_else(|| var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").map(Token::File));
    Ok(CredentialSource::Container { uri, token })
}

/// The process environment, with empty variables as unset.
pub(crate) fn process_var(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(vars: &[(&str, &str)]) -> Result<CredentialSource, ConfigError> {
        let var = |key: &str| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        };
        read(
            |key| {
                if key == "AWS_REGION" {
                    Some("eu-west-1".to_owned())
                } else {
                    var(key)
                }
            },
            "X",
        )
        .map(|env| env.credentials)
    }

    #[test]
    fn keys_come_first_then_the_container_endpoint() {
        let container = [
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://127.0.0.1:9001/creds",
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/token"),
        ];
        let keys = [
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ];
        assert!(matches!(
            source(&[keys[0], keys[1], container[0]]),
            Ok(CredentialSource::Keys { .. })
        ));
        assert_eq!(
            source(&container).unwrap(),
            CredentialSource::Container {
                uri: "http://127.0.0.1:9001/creds".to_owned(),
                token: Some(Token::File("/var/run/token".to_owned())),
            }
        );
        assert_eq!(
            source(&[(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/x"
            )])
            .unwrap(),
            CredentialSource::Container {
                uri: "http://169.254.170.2/v2/credentials/x".to_owned(),
                token: None,
            }
        );
        let err = source(&[(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "https://creds.example/",
        )])
        .unwrap_err();
        assert!(err.to_string().contains("plain `http://` only"), "{err}");
        let err = source(&[keys[0]]).unwrap_err();
        assert_eq!(err, ConfigError::MissingCredentials);
        assert!(
            err.to_string()
                .contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            "{err}"
        );
    }
}
