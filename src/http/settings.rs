//! The choices an HTTP function makes in its configuration rather than its code.

use crate::error::{ConfigError, Error};

/// Which path the request URI holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathStyle {
    /// As the API declares its routes: no stage, no custom-domain base path.
    Api,
    /// As the client called it.
    Client,
}

/// `LAMINA_HTTP_PATH`, `LAMINA_HTTP_ERRORS` and `LAMINA_HTTP_STREAM`, read once in the INIT
/// phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) path: PathStyle,
    /// A handler error answers `500` with a problem document instead of failing the invocation.
    pub(crate) errors_as_500: bool,
    /// A `Streaming` response streams to the sources that can take a stream (Function URLs,
    /// REST APIs). Off, it is answered whole everywhere: nothing in an event says whether the
    /// Function URL is in `RESPONSE_STREAM` mode or the REST integration streams, and in the
    /// default `BUFFERED` mode a stream's prelude and its eight NULs would reach the client as
    /// the body.
    pub(crate) streams: bool,
}

pub(crate) const PATH_VARIABLE: &str = "LAMINA_HTTP_PATH";
pub(crate) const ERRORS_VARIABLE: &str = "LAMINA_HTTP_ERRORS";
pub(crate) const STREAM_VARIABLE: &str = "LAMINA_HTTP_STREAM";

impl Settings {
    /// Reads the settings from the environment.
    ///
    /// # Errors
    /// A variable set to a value other than those documented: the function's configuration is
    /// wrong, and INIT fails saying so rather than serve with a setting it did not ask for.
    pub(crate) fn from_env() -> Result<Self, Error> {
        Self::from_values(
            std::env::var(PATH_VARIABLE).ok().as_deref(),
            std::env::var(ERRORS_VARIABLE).ok().as_deref(),
            std::env::var(STREAM_VARIABLE).ok().as_deref(),
        )
    }

    fn from_values(
        path: Option<&str>,
        errors: Option<&str>,
        stream: Option<&str>,
    ) -> Result<Self, Error> {
        let path = match path.map(str::trim) {
            None | Some("" | "api") => PathStyle::Api,
            Some("client") => PathStyle::Client,
            Some(other) => {
                return Err(Error::Config(ConfigError::malformed(
                    PATH_VARIABLE,
                    other,
                    "`api` (routes as the API declares them, the default) or `client` (the path as the client called it)",
                )));
            }
        };
        let errors_as_500 = match errors.map(str::trim) {
            None | Some("" | "invocation") => false,
            Some("500") => true,
            Some(other) => {
                return Err(Error::Config(ConfigError::malformed(
                    ERRORS_VARIABLE,
                    other,
                    "`invocation` (a handler error fails the invocation, the default) or `500` (it answers 500 with a problem document)",
                )));
            }
        };
        let streams = match stream.map(str::trim) {
            None | Some("" | "on") => true,
            Some("off") => false,
            Some(other) => {
                return Err(Error::Config(ConfigError::malformed(
                    STREAM_VARIABLE,
                    other,
                    "`on` (a `Streaming` response streams to Function URLs and REST APIs, the default) or `off` (it is answered whole: for a Function URL in `BUFFERED` mode or a REST API without response streaming)",
                )));
            }
        };
        Ok(Settings {
            path,
            errors_as_500,
            streams,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_choices() {
        let default = Settings::from_values(None, None, None).unwrap();
        assert_eq!(default.path, PathStyle::Api);
        assert!(!default.errors_as_500);
        assert!(default.streams);
        let chosen = Settings::from_values(Some("client"), Some("500"), Some("off")).unwrap();
        assert_eq!(chosen.path, PathStyle::Client);
        assert!(chosen.errors_as_500);
        assert!(!chosen.streams);
    }

    #[test]
    fn unknown_values_fail_init_naming_the_choices() {
        let err = Settings::from_values(Some("stage"), None, None).unwrap_err();
        assert_eq!(err.error_type(), "Runtime.InvalidConfig");
        assert!(
            err.message().contains("LAMINA_HTTP_PATH"),
            "{}",
            err.message()
        );
        assert!(err.message().contains("`client`"), "{}", err.message());
        let err = Settings::from_values(None, Some("502"), None).unwrap_err();
        assert!(
            err.message().contains("LAMINA_HTTP_ERRORS"),
            "{}",
            err.message()
        );
        let err = Settings::from_values(None, None, Some("buffered")).unwrap_err();
        assert!(
            err.message().contains("LAMINA_HTTP_STREAM"),
            "{}",
            err.message()
        );
        assert!(err.message().contains("`BUFFERED`"), "{}", err.message());
    }
}
