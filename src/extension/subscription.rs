//! A subscription to the Telemetry API (or the legacy Logs API): which records, how Lambda
//! batches them, and the port lamina's listener takes them on.

use std::time::Duration;

use crate::runtime::extension_api::{LOGS, TELEMETRY};

/// The Telemetry API schema lamina asks for.
pub const SCHEMA_VERSION: &str = "2022-12-13";

/// The schema Managed Instances require (they refuse older ones), which lamina asks for there.
pub const MANAGED_INSTANCES_SCHEMA_VERSION: &str = "2025-01-29";

/// The streams a subscription can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stream {
    /// `platform`: init, invocation and extension records, and `platform.report`.
    Platform,
    /// `function`: what the function writes to stdout and stderr.
    Function,
    /// `extension`: what extensions write.
    Extension,
}

impl Stream {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Platform => "platform",
            Stream::Function => "function",
            Stream::Extension => "extension",
        }
    }
}

/// What an extension subscribes to: built with [`Subscription::telemetry`] (or
/// [`Subscription::logs`] for the legacy Logs API), given to
/// [`Extension::telemetry`](crate::extension::Extension::telemetry).
///
/// Lambda keeps records in a buffer and pushes them as a batch when the buffer holds
/// `max_items` records or `max_bytes` bytes, or `timeout` after the first record, whichever
/// comes first. lamina's listener holds one batch at a time and answers Lambda's push once the
/// handler has returned, so a slow handler leaves the newer records in Lambda's buffer; when
/// that buffer is full Lambda drops records and says so with a `platform.logsDropped` record
/// ([`Record::LogsDropped`](crate::extension::Record::LogsDropped)).
///
/// ```
/// use std::time::Duration;
/// use lamina::extension::{Stream, Subscription};
///
/// let subscription = Subscription::telemetry(&[Stream::Platform, Stream::Function])
///     .buffering(500, 256 * 1024, Duration::from_millis(100));
/// # let _ = subscription;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub(crate) path: &'static str,
    streams: Vec<Stream>,
    buffering: Option<(u32, u32, u32)>,
    pub(crate) port: u16,
}

impl Subscription {
    /// A Telemetry API subscription to `streams`, with Lambda's default buffering (10,000
    /// records, 256 KiB, 1 s). The schema is [`SCHEMA_VERSION`], or
    /// [`MANAGED_INSTANCES_SCHEMA_VERSION`] under Managed Instances.
    pub fn telemetry(streams: &[Stream]) -> Self {
        Subscription {
            path: TELEMETRY,
            streams: streams.to_vec(),
            buffering: None,
            port: 0,
        }
    }

    /// A Logs API subscription (`/2020-08-15/logs`, which Lambda keeps for the extensions
    /// written for it): the same records, in the Logs API's older shapes; the Logs API's own
    /// types (`platform.end`, `platform.fault`) arrive as
    /// [`Record::Unknown`](crate::extension::Record::Unknown). Managed Instances have no Logs
    /// API: there lamina subscribes through the Telemetry API instead, and says so in a log
    /// line.
    pub fn logs(streams: &[Stream]) -> Self {
        Subscription {
            path: LOGS,
            ..Subscription::telemetry(streams)
        }
    }

    /// How Lambda batches records: at most `max_items` records or `max_bytes` bytes a batch,
    /// pushed at the latest `timeout` after its first record. Lambda answers values outside its
    /// limits with `400`, which fails the extension's init with Lambda's message.
    pub fn buffering(mut self, max_items: u32, max_bytes: u32, timeout: Duration) -> Self {
        let timeout_ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        self.buffering = Some((max_items, max_bytes, timeout_ms));
        self
    }

    /// The port the listener binds (default: one the system picks, so extensions never
    /// collide).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The same subscription through the Telemetry API (Managed Instances have no Logs API).
    pub(crate) fn through_telemetry(mut self) -> Self {
        self.path = TELEMETRY;
        self
    }

    /// The request body, for a listener at `uri`; `managed` picks the schema Managed Instances
    /// require.
    pub(crate) fn body(&self, uri: &str, managed: bool) -> String {
        let mut body = String::with_capacity(200);
        if self.path == TELEMETRY {
            body.push_str(r#"{"schemaVersion":""#);
            body.push_str(if managed {
                MANAGED_INSTANCES_SCHEMA_VERSION
            } else {
                SCHEMA_VERSION
            });
            body.push_str(r#"","types":["#);
        } else {
            body.push_str(r#"{"types":["#);
        }
        for (i, stream) in self.streams.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push('"');
            body.push_str(stream.as_str());
            body.push('"');
        }
        body.push(']');
        if let Some((items, bytes, timeout)) = self.buffering {
            body.push_str(&format!(
                r#","buffering":{{"maxItems":{items},"maxBytes":{bytes},"timeoutMs":{timeout}}}"#
            ));
        }
        body.push_str(r#","destination":{"protocol":"HTTP","URI":""#);
        body.push_str(uri);
        body.push_str(r#""}}"#);
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_telemetry_subscription_names_its_schema_types_buffering_and_destination() {
        let body = Subscription::telemetry(&[Stream::Platform, Stream::Function])
            .buffering(500, 262_144, Duration::from_millis(100))
            .body("http://sandbox.localdomain:4243", false);
        let parsed: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(
            parsed,
            serde_json::json!({
                "schemaVersion": "2022-12-13",
                "types": ["platform", "function"],
                "buffering": {"maxItems": 500, "maxBytes": 262144, "timeoutMs": 100},
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243"}
            })
        );
    }

    #[test]
    fn under_managed_instances_the_schema_is_the_one_they_require() {
        let body = Subscription::logs(&[Stream::Platform])
            .through_telemetry()
            .body("http://127.0.0.1:9", true);
        assert!(body.starts_with(r#"{"schemaVersion":"2025-01-29","types":["platform"]"#));
    }

    #[test]
    fn a_logs_subscription_goes_to_the_logs_api_without_a_schema() {
        let subscription = Subscription::logs(&[Stream::Extension]);
        assert_eq!(subscription.path, "/2020-08-15/logs");
        let parsed: serde_json::Value =
            serde_json::from_str(&subscription.body("http://127.0.0.1:9", false)).expect("JSON");
        assert_eq!(
            parsed,
            serde_json::json!({
                "types": ["extension"],
                "destination": {"protocol": "HTTP", "URI": "http://127.0.0.1:9"}
            })
        );
    }
}
