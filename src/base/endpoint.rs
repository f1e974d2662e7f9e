//! Where the Runtime API listens, parsed from `AWS_LAMBDA_RUNTIME_API`.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::base::lambda_env::RUNTIME_API;
use crate::error::ConfigError;

/// The Runtime API's address: what to connect to, what to send as `Host`, and a path prefix.
///
/// Lambda sets `host:port`; `cargo lambda watch` sets `http://host:port/.rt/<fn>`, whose path
/// goes before every `/2018-06-01/...` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) authority: String,
    pub(crate) prefix: String,
    pub(crate) addrs: Vec<SocketAddr>,
}

impl Endpoint {
    pub(crate) fn parse(value: &str) -> Result<Self, ConfigError> {
        let malformed = |expected| ConfigError::malformed(RUNTIME_API, value, expected);
        let trimmed = value.trim();
        if trimmed.starts_with("https://") {
            return Err(malformed(
                "a plain-HTTP address (the Runtime API is local and never uses TLS)",
            ));
        }
        let rest = trimmed.strip_prefix("http://").unwrap_or(trimmed);
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains(char::is_whitespace) {
            return Err(malformed("`host:port`"));
        }
        let with_port = if has_port(authority) {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addrs: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .map_err(|_| malformed("a `host:port` that resolves"))?
            .collect();
        if addrs.is_empty() {
            return Err(malformed("a `host:port` that resolves"));
        }
        Ok(Endpoint {
            authority: authority.to_owned(),
            prefix: path.trim_end_matches('/').to_owned(),
            addrs,
        })
    }
}

fn has_port(authority: &str) -> bool {
    match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_host_and_port() {
        let e = Endpoint::parse("127.0.0.1:9001").unwrap();
        assert_eq!(e.authority, "127.0.0.1:9001");
        assert_eq!(e.prefix, "");
        assert_eq!(e.addrs, vec!["127.0.0.1:9001".parse().unwrap()]);
    }

    #[test]
    fn cargo_lambda_watch_form_keeps_its_prefix() {
        let e = Endpoint::parse("http://[::1]:9000/.rt/my-fn/").unwrap();
        assert_eq!(e.authority, "[::1]:9000");
        assert_eq!(e.prefix, "/.rt/my-fn");
        assert_eq!(e.addrs, vec!["[::1]:9000".parse().unwrap()]);
    }

    #[test]
    fn missing_port_means_80() {
        let e = Endpoint::parse("http://127.0.0.1").unwrap();
        assert_eq!(e.addrs, vec!["127.0.0.1:80".parse().unwrap()]);
        assert_eq!(e.authority, "127.0.0.1");
    }

    #[test]
    fn bad_values_are_config_errors() {
        for bad in [
            "",
            "https://127.0.0.1:1",
            "http:///path",
            "not a host:1",
            "127.0.0.1:notaport",
        ] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert_eq!(err.variable(), "AWS_LAMBDA_RUNTIME_API", "{bad}");
        }
    }
}
