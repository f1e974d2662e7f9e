//! Typed events for the sources whose users otherwise write the same decoding and bookkeeping
//! by hand: ALB, S3, SQS, Kinesis, DynamoDB Streams, SNS and EventBridge.
//!
//! The event *shapes* are those of [`aws_lambda_events`] (re-exported in each module, so a
//! handler takes them directly). What lamina adds is the behaviour each source needs and the
//! shapes leave to the user:
//!
//! | module | what it adds |
//! |---|---|
//! | [`alb`] | the response in the header mode the target group uses, decoded query and body, `http` conversions |
//! | [`s3`] | decoded object keys (or a clear error), accessors, the event category |
//! | [`sqs`] | a batch helper that reports exactly the failed messages, FIFO ordering, typed bodies, bounded concurrency |
//! | [`kinesis`] | a batch helper that checkpoints correctly, typed record data, tolerance of undecodable records |
//! | `dynamodb` | the same for DynamoDB Streams, with images decoded from DynamoDB's attribute-value JSON into your types (feature `dynamodb-streams`) |
//! | [`sns`] | typed messages, and an invocation error that names the failed message |
//! | [`eventbridge`] | typed `detail` after checking `source` and `detail-type`, scheduled events |
//!
//! ```no_run
//! use lamina::events::sqs::{self, SqsBatchResponse, SqsEvent};
//! use lamina::{Context, Error};
//!
//! #[derive(serde::Deserialize)]
//! struct Order { id: String }
//!
//! #[lamina::handler]
//! async fn orders(event: SqsEvent, _ctx: Context) -> Result<SqsBatchResponse, Error> {
//!     sqs::process_json(event, |order: Order, _message| async move {
//!         println!("order {}", order.id);
//!         Ok::<(), Error>(())
//!     })
//!     .await
//! }
//! ```
pub mod alb;
mod batch;
#[cfg(feature = "dynamodb-streams")]
pub mod dynamodb;
pub mod eventbridge;
pub mod kinesis;
pub mod s3;
pub mod sns;
pub mod sqs;

use std::fmt;

use serde::de::DeserializeOwned;

use crate::error::short_type_name;

/// A JSON payload inside an event (an SQS message body, Kinesis record data, an SNS message, an
/// EventBridge `detail`, an ALB request body) did not decode into the type asked for.
///
/// Its `Display` names the payload, the type and where decoding stopped, but never quotes the
/// payload: it is written to the function's logs, and payloads may hold personal data. The
/// underlying [`serde_json::Error`], which may quote it, is available from [`json_error`].
///
/// [`json_error`]: PayloadError::json_error
#[derive(Debug)]
pub struct PayloadError {
    payload: &'static str,
    target: &'static str,
    path: String,
    source: serde_json::Error,
}

impl PayloadError {
    /// What the payload was: `"message body"`, `"record data"`, `"SNS message"`, `"event detail"`
    /// or `"request body"`.
    pub fn payload(&self) -> &str {
        self.payload
    }

    /// The short name of the type the payload was decoded into.
    pub fn target(&self) -> &str {
        self.target
    }

    /// Where in the payload decoding failed, as `items[1].qty`; `.` is the payload itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the payload was not JSON at all (as opposed to JSON of another shape).
    pub fn is_syntax(&self) -> bool {
        self.source.is_syntax() || self.source.is_eof()
    }

    /// The error `serde_json` reported. Its message may quote parts of the payload.
    pub fn json_error(&self) -> &serde_json::Error {
        &self.source
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, column) = (self.source.line(), self.source.column());
        // A payload decoded from an already parsed value (an EventBridge `detail`) has no
        // position to give.
        let position = if line == 0 {
            String::new()
        } else {
            format!(" (line {line}, column {column})")
        };
        if self.is_syntax() {
            write!(
                f,
                "the {} is not valid JSON{position}; \
                 send JSON, or read it as bytes instead of decoding it into `{}`",
                self.payload, self.target
            )
        } else {
            write!(
                f,
                "the {} does not match `{}` at `{}`: {}{position}; \
                 make `{}` and the producer agree on the shape",
                self.payload,
                self.target,
                self.path,
                crate::error::json_error_without_values(&self.source),
                self.target
            )
        }
    }
}

impl std::error::Error for PayloadError {}

/// Decodes a JSON payload, paying for the JSON path only when decoding fails.
pub(crate) fn decode_json<T: DeserializeOwned>(
    payload: &'static str,
    bytes: &[u8],
) -> Result<T, PayloadError> {
    if let Some(value) = crate::base::json::from_slice_fast(bytes) {
        return Ok(value);
    }
    serde_json::from_slice(bytes).map_err(|first| {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let (path, source) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(tracked) => (tracked.path().to_string(), tracked.into_inner()),
            // Only trailing data fails `from_slice` but not the tracked pass.
            Ok(_) => (".".to_owned(), first),
        };
        PayloadError {
            payload,
            target: short_type_name::<T>(),
            path,
            source,
        }
    })
}

/// Decodes a payload that arrived as part of the event's JSON (an EventBridge `detail`).
pub(crate) fn decode_json_value<T: DeserializeOwned>(
    payload: &'static str,
    value: &serde_json::Value,
) -> Result<T, PayloadError> {
    T::deserialize(value).map_err(|first| {
        let (path, source) = match serde_path_to_error::deserialize::<_, T>(value) {
            Err(tracked) => (tracked.path().to_string(), tracked.into_inner()),
            Ok(_) => (".".to_owned(), first),
        };
        PayloadError {
            payload,
            target: short_type_name::<T>(),
            path,
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Order {
        id: String,
        qty: u32,
    }

    #[test]
    fn payload_errors_never_quote_the_payload() {
        let err = decode_json::<Order>("message body", br#"{"id":"secret-42","qty":"many"}"#)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the message body does not match `Order` at `qty`: invalid type: string, expected \
             u32 (line 1, column 30); make `Order` and the producer agree on the shape"
        );
        assert!(err.json_error().to_string().contains("many"));
        let err = decode_json::<Order>("record data", b"not json").unwrap_err();
        assert!(err.is_syntax());
        assert_eq!(
            err.to_string(),
            "the record data is not valid JSON (line 1, column 2); \
             send JSON, or read it as bytes instead of decoding it into `Order`"
        );
    }
}
