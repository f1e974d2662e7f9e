//! SNS notifications, with each message decoded into your type and a failure reported by the
//! message it belongs to.
//!
//! SNS invokes a subscribed function asynchronously, with one message per invocation (the event
//! is a list, `{"Records": [...]}`, but it holds one record). There is no partial response: a
//! message fails by failing the invocation, and Lambda then retries it (twice by default) before
//! sending it to the function's on-failure destination or dead-letter queue, if one is
//! configured. [`process_json`] decodes each message's JSON `Message` into your type, runs your
//! function on it, and when a message fails, fails the invocation with an error that names it:
//!
//! ```no_run
//! use lamina::events::sns::{self, SnsEvent};
//! use lamina::{Context, Error};
//!
//! #[derive(serde::Deserialize)]
//! struct Signup { email: String }
//!
//! #[lamina::handler]
//! async fn welcome(event: SnsEvent, _ctx: Context) -> Result<(), Error> {
//!     sns::process_json(event, |signup: Signup, _record| async move {
//!         println!("welcome, {}", signup.email);
//!         Ok::<(), Error>(())
//!     })
//!     .await
//! }
//! ```
//!
//! [`SnsMessageExt`] adds the same decoding, and message attributes by name, to a record or a
//! message you handle yourself.

use std::future::Future;

use serde::de::DeserializeOwned;

pub use aws_lambda_events::event::sns::{MessageAttribute, SnsEvent, SnsMessage, SnsRecord};

use super::batch::{self, Failure};
use super::{PayloadError, decode_json};
use crate::error::Error;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::SnsRecord {}
    impl Sealed for super::SnsMessage {}
}

/// What lamina adds to an [`SnsRecord`] and its [`SnsMessage`].
///
/// Sealed: implemented for those two types only.
///
/// ```
/// use lamina::events::sns::{SnsEvent, SnsMessageExt};
///
/// #[derive(serde::Deserialize)]
/// struct Signup { email: String }
///
/// let event: SnsEvent = serde_json::from_str(r#"{"Records": [{
///     "EventSource": "aws:sns", "EventVersion": "1.0",
///     "EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:signups:1",
///     "Sns": {
///         "Type": "Notification", "MessageId": "m-1",
///         "TopicArn": "arn:aws:sns:eu-west-1:123456789012:signups",
///         "Timestamp": "2026-01-01T00:00:00.000Z", "SignatureVersion": "1", "Signature": "",
///         "SigningCertUrl": "", "UnsubscribeUrl": "",
///         "Message": "{\"email\":\"ada@example.com\"}",
///         "MessageAttributes": {"plan": {"Type": "String", "Value": "pro"}}
///     }
/// }]}"#)?;
/// let record = &event.records[0];
/// assert_eq!(record.message_json::<Signup>()?.email, "ada@example.com");
/// assert_eq!(record.attribute("plan"), Some("pro"));
/// assert_eq!(record.sns.attribute("missing"), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait SnsMessageExt: sealed::Sealed {
    /// The message's id (`MessageId`), the same on every delivery of the message.
    fn message_id(&self) -> &str;

    /// Decodes the message (`Message`) from JSON into `T`.
    ///
    /// # Errors
    /// A [`PayloadError`] saying where the message stopped matching `T`, without quoting it.
    fn message_json<T: DeserializeOwned>(&self) -> Result<T, PayloadError>;

    /// The value of the message attribute `name`, as SNS sends it: the text of a `String` or
    /// `Number`, the JSON array of a `String.Array`, the base64 of a `Binary`.
    fn attribute(&self, name: &str) -> Option<&str>;
}

impl SnsMessageExt for SnsMessage {
    fn message_id(&self) -> &str {
        &self.message_id
    }

    fn message_json<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        decode_json("SNS message", self.message.as_bytes())
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.message_attributes
            .get(name)
            .map(|attribute| attribute.value.as_str())
    }
}

impl SnsMessageExt for SnsRecord {
    fn message_id(&self) -> &str {
        self.sns.message_id()
    }

    fn message_json<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        self.sns.message_json()
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.sns.attribute(name)
    }
}

/// Runs `handler` on each record of `event`, in order, and fails the invocation if any failed.
///
/// A panic in `handler` fails its record like an error does, under `panic = "unwind"`.
///
/// # Errors
/// When a record failed, an [`Error`] whose message names its `MessageId` and says why:
/// ``SNS message `95df01b4-…` failed: order o-3 has no items``. Its `errorType` is the one
/// `handler` returned (`Runtime.HandlerPanic` for a panic); with several failed records, that of
/// the first, and the message names each of them.
pub async fn process<F, Fut, E>(event: SnsEvent, mut handler: F) -> Result<(), Error>
where
    F: FnMut(SnsRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: crate::error::IntoError,
{
    run(event, |record| batch::start(|| handler(record))).await
}

/// Like [`process`], with each record's `Message` decoded from JSON into `T` first. A message
/// that does not decode fails its record, without `handler` being called, with the errorType
/// `Sns.InvalidMessage`.
///
/// # Errors
/// As for [`process`].
pub async fn process_json<T, F, Fut, E>(event: SnsEvent, mut handler: F) -> Result<(), Error>
where
    T: DeserializeOwned,
    F: FnMut(T, SnsRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: crate::error::IntoError,
{
    run(event, |record| {
        let message = record.message_json::<T>().map_err(Failure::Payload)?;
        batch::start(|| handler(message, record))
    })
    .await
}

async fn run<Fut, E>(
    event: SnsEvent,
    mut begin: impl FnMut(SnsRecord) -> Result<batch::Guarded<Fut>, Failure>,
) -> Result<(), Error>
where
    Fut: Future<Output = Result<(), E>>,
    E: crate::error::IntoError,
{
    let total = event.records.len();
    let mut failed = Vec::new();
    for record in event.records {
        let message_id = record.sns.message_id.clone();
        let result = match begin(record) {
            Ok(future) => future.await,
            Err(failure) => Err(failure),
        };
        if let Err(failure) = result {
            failed.push((message_id, failure));
        }
    }
    match failed.as_slice() {
        [] => Ok(()),
        [(id, failure)] => Err(Error::new(
            error_type(failure),
            format!("SNS message `{id}` failed: {}", describe(failure)),
        )),
        [(_, first), ..] => {
            let each: Vec<String> = failed
                .iter()
                .map(|(id, failure)| format!("`{id}`: {}", describe(failure)))
                .collect();
            Err(Error::new(
                error_type(first),
                format!(
                    "{} of {total} SNS messages failed: {}",
                    failed.len(),
                    each.join("; ")
                ),
            ))
        }
    }
}

fn error_type(failure: &Failure) -> String {
    match failure {
        Failure::Handler(e) => e.error_type().to_owned(),
        Failure::Panic(_) => "Runtime.HandlerPanic".to_owned(),
        Failure::Payload(_) => "Sns.InvalidMessage".to_owned(),
        Failure::Undecodable(_) => "Sns.MessageFailed".to_owned(),
        #[cfg(feature = "dynamodb-streams")]
        Failure::Item(_) => "Sns.MessageFailed".to_owned(),
    }
}

fn describe(failure: &Failure) -> String {
    match failure {
        // The errorType is reported on its own.
        Failure::Handler(e) => e.message(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const SIGNUP: &str = include_str!("../../tests/integration/fixtures/events/sns-signup.json");
    const BATCH: &str = include_str!("../../tests/integration/fixtures/events/sns-batch.json");

    #[derive(Debug, serde::Deserialize)]
    struct Signup {
        email: String,
        plan: String,
    }

    fn parse(fixture: &str) -> SnsEvent {
        let parsed: SnsEvent = serde_json::from_str(fixture).unwrap();
        let again: SnsEvent =
            serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(parsed, again, "round trip");
        parsed
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    async fn welcome(signup: Signup, _record: SnsRecord) -> Result<(), Error> {
        if signup.plan == "none" {
            return Err(Error::new(
                "NoPlan",
                format!("{} chose no plan", signup.email),
            ));
        }
        Ok(())
    }

    #[test]
    fn fixtures_round_trip_and_decode() {
        let event = parse(SIGNUP);
        let record = &event.records[0];
        assert_eq!(record.message_id(), "0b4a6f8e-6e0c-5a61-9d3c-3f1c2b7d9a01");
        let signup: Signup = record.message_json().unwrap();
        assert_eq!(
            (signup.email.as_str(), signup.plan.as_str()),
            ("ada@example.com", "pro")
        );
        assert_eq!(record.attribute("source"), Some("web"));
        assert_eq!(record.attribute("retries"), Some("0"));
        assert_eq!(record.attribute("tags"), Some(r#"["new","eu"]"#));
        assert_eq!(record.attribute("nope"), None);
        assert_eq!(record.sns.subject.as_deref(), Some("signup"));
        assert_eq!(parse(BATCH).records.len(), 3);
    }

    #[test]
    fn a_good_message_succeeds() {
        block_on(process_json(parse(SIGNUP), welcome)).unwrap();
    }

    #[test]
    fn a_message_that_does_not_decode_names_its_id_without_quoting_it() {
        let mut event = parse(SIGNUP);
        event.records[0].sns.message = r#"{"email":"secret@example.com","plan":7}"#.to_owned();
        let called = RefCell::new(false);
        let err = block_on(process_json(event, |_: Signup, _record| {
            *called.borrow_mut() = true;
            async { Ok::<(), Error>(()) }
        }))
        .unwrap_err();
        assert!(!*called.borrow());
        assert_eq!(err.error_type(), "Sns.InvalidMessage");
        assert_eq!(
            err.message(),
            "SNS message `0b4a6f8e-6e0c-5a61-9d3c-3f1c2b7d9a01` failed: the SNS message does not \
             match `Signup` at `plan`: invalid type: integer, expected a string (line 1, column \
             38); make `Signup` and the producer agree on the shape"
        );
        let mut event = parse(SIGNUP);
        event.records[0].sns.message = "not json".to_owned();
        let err = block_on(process_json(event, welcome)).unwrap_err();
        assert_eq!(
            err.message(),
            "SNS message `0b4a6f8e-6e0c-5a61-9d3c-3f1c2b7d9a01` failed: the SNS message is not \
             valid JSON (line 1, column 2); send JSON, or read it as bytes instead of decoding \
             it into `Signup`"
        );
    }

    #[test]
    fn a_handler_error_keeps_its_type_and_names_the_message() {
        let mut event = parse(SIGNUP);
        event.records[0].sns.message = r#"{"email":"a@example.com","plan":"none"}"#.to_owned();
        let err = block_on(process_json(event, welcome)).unwrap_err();
        assert_eq!(err.error_type(), "NoPlan");
        assert_eq!(
            err.message(),
            "SNS message `0b4a6f8e-6e0c-5a61-9d3c-3f1c2b7d9a01` failed: a@example.com chose no \
             plan"
        );
    }

    #[test]
    fn every_failed_message_is_named() {
        // m-2 chose no plan, m-3 is not JSON.
        let seen = RefCell::new(Vec::new());
        let err = block_on(process_json(parse(BATCH), |signup: Signup, record| {
            seen.borrow_mut().push(record.message_id().to_owned());
            welcome(signup, record)
        }))
        .unwrap_err();
        assert_eq!(*seen.borrow(), ["m-1", "m-2"]);
        assert_eq!(err.error_type(), "NoPlan");
        assert_eq!(
            err.message(),
            "2 of 3 SNS messages failed: `m-2`: grace@example.com chose no plan; `m-3`: the SNS \
             message is not valid JSON (line 1, column 1); send JSON, or read it as bytes \
             instead of decoding it into `Signup`"
        );
    }

    #[test]
    fn a_panic_fails_its_message() {
        let err = block_on(process(parse(SIGNUP), |_record| async move {
            if true {
                panic!("boom");
            }
            Ok::<(), Error>(())
        }))
        .unwrap_err();
        assert_eq!(err.error_type(), "Runtime.HandlerPanic");
        assert_eq!(
            err.message(),
            "SNS message `0b4a6f8e-6e0c-5a61-9d3c-3f1c2b7d9a01` failed: panicked: boom"
        );
    }
}
