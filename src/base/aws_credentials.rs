//! The credentials provider of lamina's AWS SDK clients: the keys in the environment when Lambda
//! sets them, else the container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI` or
//! `…_RELATIVE_URI`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN` or `…_TOKEN_FILE`) that long-lived
//! environments use, fetched again whenever the SDK finds them near their expiry. These are the
//! two steps of the SDK's default chain that a function can meet; the rest (profile files,
//! instance metadata, SSO) would bring `aws-config` and its dependencies into the build.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};

use crate::base::aws_env::{CredentialSource, Token};
use crate::base::endpoint::Endpoint;
use crate::base::http1::HttpClient;

/// The bound on one fetch from the credentials endpoint.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// The provider for `source`.
pub(crate) fn provider(source: CredentialSource) -> SharedCredentialsProvider {
    match source {
        CredentialSource::Keys {
            access_key_id,
            secret_access_key,
            session_token,
        } => SharedCredentialsProvider::new(Credentials::new(
            access_key_id,
            secret_access_key,
            session_token,
            None,
            "lamina-env",
        )),
        CredentialSource::Container { uri, token } => {
            SharedCredentialsProvider::new(ContainerCredentials { uri, token })
        }
    }
}

/// Where the container credentials endpoint is, and how to authorize to it.
pub(crate) struct ContainerCredentials {
    uri: String,
    token: Option<Token>,
}

impl fmt::Debug for ContainerCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerCredentials")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl ProvideCredentials for ContainerCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let (uri, token) = (self.uri.clone(), self.token.clone());
        future::ProvideCredentials::new(async move {
            tokio::task::spawn_blocking(move || fetch(&uri, token.as_ref()))
                .await
                .map_err(CredentialsError::unhandled)?
        })
    }
}

/// What the endpoint answers (other fields, such as `RoleArn`, are ignored).
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    expiration: Option<String>,
}

/// One `GET` of the endpoint.
fn fetch(uri: &str, token: Option<&Token>) -> Result<Credentials, CredentialsError> {
    let failed = |problem: String| {
        CredentialsError::provider_error(format!(
            "the container credentials endpoint {uri} {problem}"
        ))
    };
    let endpoint = Endpoint::parse(uri).map_err(|e| failed(format!("is unusable: {e}")))?;
    let authorization = match token {
        None => None,
        Some(Token::Value(value)) => Some(value.clone()),
        Some(Token::File(path)) => Some(
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_owned())
                .map_err(|e| {
                    failed(format!(
                        "needs the token in {path}, which is unreadable: {e}"
                    ))
                })?,
        ),
    };
    let headers: Vec<(&str, &str)> = authorization
        .as_deref()
        .map(|value| ("Authorization", value))
        .into_iter()
        .collect();
    // The URI's path is the endpoint's prefix; a URI without one asks for `/`.
    let path = if endpoint.prefix.is_empty() { "/" } else { "" };
    let mut client = HttpClient::<std::net::TcpStream>::new(endpoint, Some(FETCH_TIMEOUT));
    let response = client
        .request("GET", path, &headers, b"")
        .map_err(|e| failed(format!("could not be read: {e}")))?;
    if response.status != 200 {
        let body = String::from_utf8_lossy(&response.body[..response.body.len().min(200)]);
        return Err(failed(format!("answered {}: {body}", response.status)));
    }
    let answer: Answer = serde_json::from_slice(response.body)
        .map_err(|e| failed(format!("answered with no credentials in it: {e}")))?;
    let expiry =
        match answer.expiration.as_deref() {
            None => None,
            Some(text) => Some(parse_rfc3339(text).ok_or_else(|| {
                failed(format!("answered an `Expiration` of {text:?}, not a time"))
            })?),
        };
    Ok(Credentials::new(
        answer.access_key_id,
        answer.secret_access_key,
        answer.token,
        expiry,
        "lamina-container",
    ))
}

/// `2026-12-07T12:30:00Z` (fractional seconds allowed, `Z` or `+00:00`) as a time; other offsets
/// are not what the endpoint sends, and are refused.
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b'T' | b't')
    {
        return None;
    }
    if bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        rest = &fraction[digits..];
    }
    if !matches!(rest, "Z" | "z" | "+00:00") {
        return None;
    }
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    let seconds = u64::try_from(seconds).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expirations_are_read_as_the_endpoint_writes_them() {
        let at = |text| {
            parse_rfc3339(text).map(|t| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs())
        };
        assert_eq!(at("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(at("2026-12-07T12:30:05Z"), Some(1_796_646_605));
        assert_eq!(at("2024-02-29T23:59:59.123Z"), Some(1_709_251_199));
        assert_eq!(at("2026-12-07T12:30:05+00:00"), Some(1_796_646_605));
        for bad in [
            "2026-12-07 12:30:05",
            "2026-12-07T12:30:05+02:00",
            "2026-13-07T12:30:05Z",
            "soon",
            "",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }
}
