//! The events `event/next` hands an extension: `INVOKE` and `SHUTDOWN`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

/// One event from the Extensions API.
///
/// ```
/// use lamina::extension::Event;
///
/// async fn on_event(event: Event) -> Result<(), lamina::Error> {
///     match event {
///         Event::Invoke(invoke) => println!("invocation {}", invoke.request_id()),
///         Event::Shutdown(shutdown) => println!("shutting down: {}", shutdown.reason()),
///         _ => {}
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The function was invoked (external extensions only, and not under Managed Instances).
    Invoke(Invoke),
    /// The execution environment is ending; the extension has until [`Shutdown::deadline`].
    Shutdown(Shutdown),
}

impl Event {
    /// Which kind of event this is.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Invoke(_) => EventKind::Invoke,
            Event::Shutdown(_) => EventKind::Shutdown,
        }
    }
}

/// The kinds of event an extension registers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `INVOKE`: one event per invocation of the function.
    Invoke,
    /// `SHUTDOWN`: once, when the environment ends.
    Shutdown,
}

impl EventKind {
    /// The name the Extensions API uses: `"INVOKE"` or `"SHUTDOWN"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Invoke => "INVOKE",
            EventKind::Shutdown => "SHUTDOWN",
        }
    }
}

/// An `INVOKE` event: an invocation of the function has started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoke {
    request_id: String,
    deadline_ms: u64,
    invoked_function_arn: String,
    trace_id: Option<String>,
}

impl Invoke {
    /// The invocation's request id, as the function sees it in its context.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// When the invocation times out, in milliseconds since the Unix epoch.
    pub fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }

    /// When the invocation times out.
    pub fn deadline(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.deadline_ms)
    }

    /// The ARN the function was invoked with (with its alias or version, if the caller named one).
    pub fn invoked_function_arn(&self) -> &str {
        &self.invoked_function_arn
    }

    /// The invocation's X-Ray trace header (`Root=…;Parent=…;Sampled=…`), when it has one.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }
}

/// A `SHUTDOWN` event: the execution environment is ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shutdown {
    reason: ShutdownReason,
    deadline_ms: u64,
}

impl Shutdown {
    /// Why the environment ends.
    pub fn reason(&self) -> &ShutdownReason {
        &self.reason
    }

    /// When Lambda ends the process, in milliseconds since the Unix epoch.
    pub fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }

    /// When Lambda ends the process. lamina ends it a little before, with status 0, if the
    /// handler is still running then.
    pub fn deadline(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.deadline_ms)
    }
}

/// Why Lambda shuts an execution environment down.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShutdownReason {
    /// `spindown`: the environment is no longer needed.
    Spindown,
    /// `timeout`: an invocation ran out of time.
    Timeout,
    /// `failure`: the function or an extension failed.
    Failure,
    /// A reason this version of lamina does not know, as Lambda wrote it.
    Other(String),
}

impl ShutdownReason {
    /// The reason as Lambda writes it: `"spindown"`, `"timeout"`, `"failure"`, or the unknown
    /// one's own text.
    pub fn as_str(&self) -> &str {
        match self {
            ShutdownReason::Spindown => "spindown",
            ShutdownReason::Timeout => "timeout",
            ShutdownReason::Failure => "failure",
            ShutdownReason::Other(other) => other,
        }
    }

    /// Lambda's documentation writes the reasons in capitals, its agent in lower case.
    fn parse(text: &str) -> Self {
        if text.eq_ignore_ascii_case("spindown") {
            ShutdownReason::Spindown
        } else if text.eq_ignore_ascii_case("timeout") {
            ShutdownReason::Timeout
        } else if text.eq_ignore_ascii_case("failure") {
            ShutdownReason::Failure
        } else {
            ShutdownReason::Other(text.to_owned())
        }
    }
}

impl std::fmt::Display for ShutdownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ShutdownReason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `event/next`'s body as Lambda writes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    event_type: String,
    #[serde(default)]
    deadline_ms: u64,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    invoked_function_arn: String,
    #[serde(default)]
    tracing: Option<Tracing>,
    #[serde(default)]
    shutdown_reason: Option<String>,
}

#[derive(Deserialize)]
struct Tracing {
    #[serde(default)]
    value: Option<String>,
}

/// What an `event/next` body turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    Event(Event),
    /// An `eventType` lamina does not know, named.
    Unknown(String),
}

/// Reads an `event/next` body; the error says what was wrong with it.
pub(crate) fn parse(body: &[u8]) -> Result<Parsed, String> {
    let wire: Wire = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    match wire.event_type.as_str() {
        "INVOKE" => Ok(Parsed::Event(Event::Invoke(Invoke {
            request_id: wire.request_id,
            deadline_ms: wire.deadline_ms,
            invoked_function_arn: wire.invoked_function_arn,
            trace_id: wire.tracing.and_then(|t| t.value).filter(|v| !v.is_empty()),
        }))),
        "SHUTDOWN" => Ok(Parsed::Event(Event::Shutdown(Shutdown {
            reason: ShutdownReason::parse(wire.shutdown_reason.as_deref().unwrap_or("")),
            deadline_ms: wire.deadline_ms,
        }))),
        other => Ok(Parsed::Unknown(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoke_event_carries_its_request_deadline_arn_and_trace() {
        let body = br#"{"eventType":"INVOKE","deadlineMs":1767225600123,"requestId":"3da1f2dc-3222-475e-9205-e2e6c6318895","invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:orders:live","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5f84c7a9-0d3b8a6e9e4f2a1b3c5d7e9f;Parent=53995c3f42cd8ad8;Sampled=1"}}"#;
        let Ok(Parsed::Event(Event::Invoke(invoke))) = parse(body) else {
            panic!("not an invoke event");
        };
        assert_eq!(invoke.request_id(), "3da1f2dc-3222-475e-9205-e2e6c6318895");
        assert_eq!(invoke.deadline_ms(), 1_767_225_600_123);
        assert_eq!(
            invoke.deadline(),
            UNIX_EPOCH + Duration::from_millis(1_767_225_600_123)
        );
        assert_eq!(
            invoke.invoked_function_arn(),
            "arn:aws:lambda:us-east-1:123456789012:function:orders:live"
        );
        assert_eq!(
            invoke.trace_id(),
            Some("Root=1-5f84c7a9-0d3b8a6e9e4f2a1b3c5d7e9f;Parent=53995c3f42cd8ad8;Sampled=1")
        );
    }

    #[test]
    fn a_shutdown_event_names_its_reason_and_an_unknown_reason_is_kept() {
        for (text, reason) in [
            ("spindown", ShutdownReason::Spindown),
            ("timeout", ShutdownReason::Timeout),
            ("failure", ShutdownReason::Failure),
            ("SPINDOWN", ShutdownReason::Spindown),
            ("recycled", ShutdownReason::Other("recycled".into())),
        ] {
            let body =
                format!(r#"{{"eventType":"SHUTDOWN","shutdownReason":"{text}","deadlineMs":42}}"#);
            let Ok(Parsed::Event(Event::Shutdown(shutdown))) = parse(body.as_bytes()) else {
                panic!("not a shutdown event: {body}");
            };
            assert_eq!(shutdown.reason(), &reason);
            assert!(shutdown.reason().as_str().eq_ignore_ascii_case(text));
            assert_eq!(shutdown.deadline_ms(), 42);
        }
    }

    #[test]
    fn an_unknown_event_type_is_named_and_a_malformed_body_is_an_error() {
        assert_eq!(
            parse(br#"{"eventType":"RESTORE","deadlineMs":1}"#),
            Ok(Parsed::Unknown("RESTORE".into()))
        );
        assert!(
            parse(b"{\"deadlineMs\":1}")
                .unwrap_err()
                .contains("eventType")
        );
        assert!(parse(b"not json").is_err());
    }

    #[test]
    fn an_invoke_without_tracing_has_no_trace_id() {
        let body = br#"{"eventType":"INVOKE","deadlineMs":1,"requestId":"r","invokedFunctionArn":"a","tracing":{"type":"X-Amzn-Trace-Id","value":""}}"#;
        let Ok(Parsed::Event(Event::Invoke(invoke))) = parse(body) else {
            panic!("not an invoke event");
        };
        assert_eq!(invoke.trace_id(), None);
    }
}
