//! EventBridge events, including scheduled ones, with `detail` decoded into your type once
//! `source` and `detail-type` say it is the event you expect.
//!
//! A rule's event pattern decides which events reach the function, and the function's code
//! assumes what the pattern lets through. When the two drift apart (a pattern widened, a rule
//! pointed at the wrong function), decoding `detail` straight into your type fails with a shape
//! error that hides the cause, or worse, succeeds on another event's fields. [`Expect`] checks
//! `source` and `detail-type` first and says which one is off and how to fix the rule:
//!
//! ```no_run
//! use lamina::events::eventbridge::{EventBridgeEvent, Expect};
//! use lamina::{Context, Error};
//!
//! #[derive(serde::Deserialize)]
//! struct OrderPlaced { order_id: String, total: f64 }
//!
//! const ORDER_PLACED: Expect = Expect::new("com.example.orders", "OrderPlaced");
//!
//! #[lamina::handler]
//! async fn on_order(event: EventBridgeEvent, _ctx: Context) -> Result<(), Error> {
//!     let order: OrderPlaced = ORDER_PLACED.detail(&event)?;
//!     println!("order {} for {}", order.order_id, order.total);
//!     Ok(())
//! }
//! ```
//!
//! A rule with a schedule expression (`rate(5 minutes)`, `cron(0 3 * * ? *)`) sends an event
//! whose `source` is `aws.events`, whose `detail-type` is `Scheduled Event` and whose `detail`
//! is `{}`: [`Expect::scheduled`] accepts it and [`EventBridgeEventExt::is_scheduled`] tells
//! it apart. (EventBridge Scheduler, the separate service, sends the input you configure on the
//! schedule instead of this envelope.)
//!
//! EventBridge invokes functions asynchronously and discards what they return; a failed
//! invocation is retried (twice by default), then sent to the on-failure destination or
//! dead-letter queue, if one is configured.

use std::fmt;

use serde::de::DeserializeOwned;

pub use aws_lambda_events::event::eventbridge::EventBridgeEvent;

use super::{PayloadError, decode_json_value};

/// The `source` of the events a schedule rule sends.
const SCHEDULED_SOURCE: &str = "aws.events";
/// The `detail-type` of the events a schedule rule sends.
const SCHEDULED_DETAIL_TYPE: &str = "Scheduled Event";

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::EventBridgeEvent {}
}

/// What lamina adds to an [`EventBridgeEvent`].
///
/// Sealed: implemented for [`EventBridgeEvent`] (with its `detail` as JSON) only.
///
/// ```
/// use lamina::events::eventbridge::{EventBridgeEvent, EventBridgeEventExt};
///
/// let event: EventBridgeEvent = serde_json::from_str(r#"{
///     "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
///     "account": "123456789012", "time": "2026-01-01T03:00:00Z", "region": "eu-west-1",
///     "resources": ["arn:aws:events:eu-west-1:123456789012:rule/nightly"], "detail": {}
/// }"#)?;
/// assert!(event.is_scheduled());
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait EventBridgeEventExt: sealed::Sealed {
    /// Decodes `detail` into `T`, without looking at `source` or `detail-type` (use [`Expect`]
    /// for that).
    ///
    /// # Errors
    /// A [`PayloadError`] saying where `detail` stopped matching `T`, without quoting it.
    fn detail_as<T: DeserializeOwned>(&self) -> Result<T, PayloadError>;

    /// Whether the event comes from a schedule rule: `source` `aws.events` and `detail-type`
    /// `Scheduled Event`.
    fn is_scheduled(&self) -> bool;
}

impl EventBridgeEventExt for EventBridgeEvent {
    fn detail_as<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        decode_json_value("event detail", &self.detail)
    }

    fn is_scheduled(&self) -> bool {
        self.source == SCHEDULED_SOURCE && self.detail_type == SCHEDULED_DETAIL_TYPE
    }
}

/// The `source` and `detail-type` a function expects, checked before `detail` is decoded.
///
/// Both are compared exactly, as EventBridge's own patterns compare them. A `const`, so it can
/// sit next to the detail type it describes.
///
/// ```
/// use lamina::events::eventbridge::{DetailError, EventBridgeEvent, Expect};
///
/// #[derive(serde::Deserialize)]
/// struct OrderPlaced { order_id: String }
///
/// const ORDER_PLACED: Expect = Expect::new("com.example.orders", "OrderPlaced");
///
/// let event: EventBridgeEvent = serde_json::from_str(r#"{
///     "detail-type": "OrderCancelled", "source": "com.example.orders",
///     "detail": {"order_id": "o-1"}
/// }"#)?;
/// match ORDER_PLACED.detail::<OrderPlaced>(&event) {
///     Err(DetailError::UnexpectedDetailType { found, .. }) => assert_eq!(found, "OrderCancelled"),
///     _ => unreachable!(),
/// }
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    source: &'static str,
    detail_type: &'static str,
}

impl Expect {
    /// Expects events with this `source` and this `detail-type`.
    pub const fn new(source: &'static str, detail_type: &'static str) -> Self {
        Expect {
            source,
            detail_type,
        }
    }

    /// Expects the events a schedule rule sends: `source` `aws.events`, `detail-type`
    /// `Scheduled Event`.
    ///
    /// ```no_run
    /// use lamina::events::eventbridge::{EventBridgeEvent, Expect};
    /// use lamina::{Context, Error};
    ///
    /// #[lamina::handler]
    /// async fn nightly(event: EventBridgeEvent, _ctx: Context) -> Result<(), Error> {
    ///     Expect::scheduled().check(&event)?;
    ///     println!("running the report scheduled for {:?}", event.time);
    ///     Ok(())
    /// }
    /// ```
    pub const fn scheduled() -> Self {
        Expect::new(SCHEDULED_SOURCE, SCHEDULED_DETAIL_TYPE)
    }

    /// The expected `source`.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// The expected `detail-type`.
    pub fn detail_type(&self) -> &'static str {
        self.detail_type
    }

    /// Checks the event's `source`, then its `detail-type`.
    ///
    /// # Errors
    /// [`DetailError::UnexpectedSource`] or [`DetailError::UnexpectedDetailType`].
    pub fn check(&self, event: &EventBridgeEvent) -> Result<(), DetailError> {
        if event.source != self.source {
            return Err(DetailError::UnexpectedSource {
                expected: self.source,
                found: event.source.clone(),
            });
        }
        if event.detail_type != self.detail_type {
            return Err(DetailError::UnexpectedDetailType {
                expected: self.detail_type,
                found: event.detail_type.clone(),
            });
        }
        Ok(())
    }

    /// Checks the event as [`Expect::check`] does, then decodes its `detail` into `T`.
    ///
    /// # Errors
    /// As for [`Expect::check`], or [`DetailError::Detail`] when `detail` does not match `T`.
    pub fn detail<T: DeserializeOwned>(&self, event: &EventBridgeEvent) -> Result<T, DetailError> {
        self.check(event)?;
        event.detail_as().map_err(DetailError::Detail)
    }
}

/// An EventBridge event is not the one the function expects.
///
/// New variants may be added in minor releases, so a `match` needs a `_` arm. Returned with
/// `?` from a handler, it is reported as `Handler.DetailError`; to alarm on each case, map it
/// to [`lamina::Error::new`](crate::Error::new) with a name of your own.
#[derive(Debug)]
#[non_exhaustive]
pub enum DetailError {
    /// The event's `source` is not the expected one.
    UnexpectedSource {
        /// The `source` the function expects.
        expected: &'static str,
        /// The event's `source`.
        found: String,
    },
    /// The event's `detail-type` is not the expected one.
    UnexpectedDetailType {
        /// The `detail-type` the function expects.
        expected: &'static str,
        /// The event's `detail-type`.
        found: String,
    },
    /// The event's `detail` does not decode into the type asked for.
    Detail(PayloadError),
}

impl fmt::Display for DetailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetailError::UnexpectedSource { expected, found } => write!(
                f,
                "the event's `source` is `{found}`, but this function expects `{expected}`; \
                 make the event pattern of the EventBridge rule that targets this function match \
                 only it (`\"source\": [\"{expected}\"]`)"
            ),
            DetailError::UnexpectedDetailType { expected, found } => write!(
                f,
                "the event's `detail-type` is `{found}`, but this function expects \
                 `{expected}`; make the event pattern of the EventBridge rule that targets this \
                 function match only it (`\"detail-type\": [\"{expected}\"]`)"
            ),
            DetailError::Detail(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for DetailError {}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str =
        include_str!("../../tests/integration/fixtures/events/eventbridge-order.json");
    const SCHEDULED: &str =
        include_str!("../../tests/integration/fixtures/events/eventbridge-scheduled.json");

    const ORDER_PLACED: Expect = Expect::new("com.example.orders", "OrderPlaced");

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct OrderPlaced {
        order_id: String,
        customer: String,
        total: f64,
        lines: Vec<Line>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Line {
        sku: String,
        qty: u32,
    }

    fn parse(fixture: &str) -> EventBridgeEvent {
        let parsed: EventBridgeEvent = serde_json::from_str(fixture).unwrap();
        let again: EventBridgeEvent =
            serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(parsed, again, "round trip");
        parsed
    }

    #[test]
    fn fixtures_round_trip_and_decode() {
        let event = parse(ORDER);
        assert!(!event.is_scheduled());
        let order: OrderPlaced = ORDER_PLACED.detail(&event).unwrap();
        assert_eq!(
            order,
            OrderPlaced {
                order_id: "o-1".into(),
                customer: "c-7".into(),
                total: 42.5,
                lines: vec![
                    Line {
                        sku: "tea".into(),
                        qty: 2
                    },
                    Line {
                        sku: "cup".into(),
                        qty: 1
                    }
                ],
            }
        );
        assert_eq!(event.detail_as::<OrderPlaced>().unwrap(), order);

        let scheduled = parse(SCHEDULED);
        assert!(scheduled.is_scheduled());
        Expect::scheduled().check(&scheduled).unwrap();
        assert_eq!(
            scheduled.resources.as_deref(),
            Some(&["arn:aws:events:eu-west-1:123456789012:rule/nightly-report".to_owned()][..])
        );
    }

    #[test]
    fn a_wrong_source_says_how_to_fix_the_rule() {
        let err = ORDER_PLACED
            .detail::<OrderPlaced>(&parse(SCHEDULED))
            .unwrap_err();
        assert!(matches!(
            &err,
            DetailError::UnexpectedSource { expected: "com.example.orders", found }
                if found == "aws.events"
        ));
        assert_eq!(
            err.to_string(),
            "the event's `source` is `aws.events`, but this function expects \
             `com.example.orders`; make the event pattern of the EventBridge rule that targets \
             this function match only it (`\"source\": [\"com.example.orders\"]`)"
        );
    }

    #[test]
    fn a_wrong_detail_type_says_how_to_fix_the_rule() {
        let mut event = parse(ORDER);
        event.detail_type = "OrderCancelled".into();
        let err = ORDER_PLACED.detail::<OrderPlaced>(&event).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the event's `detail-type` is `OrderCancelled`, but this function expects \
             `OrderPlaced`; make the event pattern of the EventBridge rule that targets this \
             function match only it (`\"detail-type\": [\"OrderPlaced\"]`)"
        );
        assert_eq!(
            Expect::scheduled().check(&event).unwrap_err().to_string(),
            "the event's `source` is `com.example.orders`, but this function expects \
             `aws.events`; make the event pattern of the EventBridge rule that targets this \
             function match only it (`\"source\": [\"aws.events\"]`)"
        );
    }

    #[test]
    fn a_bad_detail_names_the_field_without_quoting_it() {
        let mut event = parse(ORDER);
        event.detail["lines"][1]["qty"] = serde_json::json!("secret-3");
        let err = ORDER_PLACED.detail::<OrderPlaced>(&event).unwrap_err();
        let DetailError::Detail(payload) = &err else {
            panic!("a detail error: {err}")
        };
        assert_eq!(payload.path(), "lines[1].qty");
        assert_eq!(
            err.to_string(),
            "the event detail does not match `OrderPlaced` at `lines[1].qty`: invalid type: \
             string, expected u32; make `OrderPlaced` and the producer agree on the shape"
        );
        let err = parse(SCHEDULED).detail_as::<OrderPlaced>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the event detail does not match `OrderPlaced` at `.`: missing field `order_id`; \
             make `OrderPlaced` and the producer agree on the shape"
        );
    }
}
