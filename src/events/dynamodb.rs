//! DynamoDB Streams batches, processed in order with the first failure reported so Lambda
//! checkpoints before it, and item images decoded into your own types.
//!
//! Lambda reads a table's stream shard by shard, in order, like a Kinesis stream. With
//! `ReportBatchItemFailures` enabled on the event source mapping, the function answers with the
//! `SequenceNumber`s that failed, and Lambda **checkpoints at the lowest one reported and delivers
//! every record after it again**, successes included. [`process`] therefore goes through the
//! records in order and stops at the first failure, reporting that record, so no change to an item
//! takes effect before an earlier change to it that failed; [`Batch::continue_after_failure`]
//! changes that for functions that prefer to go on.
//!
//! DynamoDB sends items in its attribute-value JSON (`{"total": {"N": "12.5"}}`).
//! [`DynamoDbRecordExt`] decodes a record's images into your serde type (with `serde_dynamo`), and
//! [`process_new_images`] hands your function each record's `NewImage` already decoded:
//!
//! ```no_run
//! use lamina::events::dynamodb::{self, DynamoDbEvent, DynamoDbEventResponse, DynamoDbRecordExt};
//! use lamina::{Context, Error};
//!
//! #[derive(serde::Deserialize)]
//! struct Order { id: String, total: f64 }
//!
//! #[derive(serde::Deserialize)]
//! struct OrderKey { id: String }
//!
//! #[lamina::handler]
//! async fn orders(event: DynamoDbEvent, _ctx: Context) -> Result<DynamoDbEventResponse, Error> {
//!     dynamodb::process_new_images(event, |order: Option<Order>, record| async move {
//!         match order {
//!             Some(order) => println!("order {} now totals {}", order.id, order.total),
//!             None => println!("order {} was deleted", record.keys::<OrderKey>()?.id),
//!         }
//!         Ok::<(), Error>(())
//!     })
//!     .await
//! }
//! ```
//!
//! Which images a record carries depends on the stream's view type and on the change; the keys
//! are always there:
//!
//! | view type | `INSERT` | `MODIFY` | `REMOVE` |
//! |---|---|---|---|
//! | `KEYS_ONLY` | | | |
//! | `NEW_IMAGE` | `NewImage` | `NewImage` | |
//! | `OLD_IMAGE` | | `OldImage` | `OldImage` |
//! | `NEW_AND_OLD_IMAGES` | `NewImage` | both | `OldImage` |
//!
//! An image the record does not carry is `Ok(None)`. How attributes decode:
//!
//! | attribute | decodes into |
//! |---|---|
//! | `S` | `String`, or a unit enum variant by name |
//! | `N` | any integer or float type, parsed from DynamoDB's decimal string; a number that does not fit the field's type is an error |
//! | `BOOL` | `bool` |
//! | `NULL` | `None` of an `Option`, `()` |
//! | `M` | a struct, or a map such as `HashMap<String, T>` |
//! | `L` | a `Vec` or a tuple |
//! | `SS`, `NS`, `BS` | a `Vec`, `HashSet` or `BTreeSet` of strings, numbers or bytes |
//! | `B` | bytes: `serde_bytes::ByteBuf`, or `Vec<u8>` with `#[serde(with = "serde_bytes")]` (a plain `Vec<u8>` asks for a list) |
//!
//! An attribute missing from the image decodes into `None` for an `Option` field, and is an
//! error for any other field unless it has `#[serde(default)]`.
//!
//! The event type here is lamina's [`DynamoDbEvent`], not `aws_lambda_events`' own: that one
//! decodes every attribute value while the event is decoded, so a single malformed record would
//! fail the whole invocation before your code runs, and Lambda would retry the whole batch until
//! the records expire. Here such a record is kept as [`Record::Undecodable`] and fails on its own.
//!
//! As with Kinesis, a panic fails only its record under `panic = "unwind"`; under
//! `panic = "abort"` the process ends, lamina's panic hook reports the invocation as failed, and
//! Lambda retries the whole batch. Each failure is logged once at WARN with the sequence number
//! and the error, never the item.
//!
//! Enable `ReportBatchItemFailures` on the event source mapping
//! (`FunctionResponseTypes: [ReportBatchItemFailures]`): without it Lambda ignores the response
//! and treats the batch as a success.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_dynamo::AttributeValue;

pub use aws_lambda_events::event::dynamodb::{
    EventRecord, OperationType, StreamRecord, StreamViewType, UserIdentity,
};
pub use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use super::batch::{self, Failure, Guarded};
use crate::error::{Error, json_error_without_values, short_type_name};

/// A batch of DynamoDB stream records, as Lambda delivers it (`{"Records": [...]}`).
///
/// A record that does not decode (a malformed attribute value, a missing field) does not fail
/// the whole event: it is kept as [`Record::Undecodable`], and the batch helpers report it
/// failed.
///
/// ```
/// use lamina::events::dynamodb::{DynamoDbEvent, DynamoDbRecordExt, OperationType};
///
/// let event: DynamoDbEvent = serde_json::from_str(r#"{"Records": [{
///     "eventID": "1", "eventName": "REMOVE", "awsRegion": "eu-west-1",
///     "dynamodb": {"Keys": {"id": {"S": "o-1"}}, "SequenceNumber": "100", "SizeBytes": 10}
/// }]}"#)?;
/// let record = event.records[0].decoded().unwrap();
/// assert_eq!(record.operation(), Some(OperationType::Remove));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct DynamoDbEvent {
    /// The records, in stream order.
    pub records: Vec<Record>,
}

/// One record of a [`DynamoDbEvent`].
// Nearly every record decodes: boxing `Decoded` would cost an allocation per record to save
// bytes on the rare undecodable one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A record that decoded.
    Decoded(EventRecord),
    /// A record that did not decode.
    Undecodable(UndecodableRecord),
}

impl Record {
    /// The record's sequence number (`dynamodb.SequenceNumber`), when it has one.
    pub fn sequence_number(&self) -> Option<&str> {
        match self {
            Record::Decoded(r) => r.change.sequence_number.as_deref(),
            Record::Undecodable(r) => r.sequence_number.as_deref(),
        }
        .filter(|s| !s.is_empty())
    }

    /// The decoded record, if it decoded.
    pub fn decoded(&self) -> Option<&EventRecord> {
        match self {
            Record::Decoded(r) => Some(r),
            Record::Undecodable(_) => None,
        }
    }
}

/// A record that did not decode, kept as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct UndecodableRecord {
    raw: serde_json::Value,
    sequence_number: Option<String>,
    reason: String,
}

impl UndecodableRecord {
    /// The record's JSON, as it arrived.
    pub fn raw(&self) -> &serde_json::Value {
        &self.raw
    }

    /// Why it did not decode, with the field at fault:
    /// ``at `dynamodb.NewImage.total.N`: invalid type: floating point, expected a string``.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = serde_json::Value::deserialize(deserializer)?;
        match batch::decode_record::<EventRecord>(&raw) {
            Ok(record) => Ok(Record::Decoded(record)),
            Err(reason) => {
                let sequence_number = raw
                    .pointer("/dynamodb/SequenceNumber")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned);
                Ok(Record::Undecodable(UndecodableRecord {
                    raw,
                    sequence_number,
                    reason,
                }))
            }
        }
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Record::Decoded(r) => r.serialize(serializer),
            Record::Undecodable(r) => r.raw.serialize(serializer),
        }
    }
}

#[derive(Deserialize, Serialize)]
struct Wire<R> {
    #[serde(rename = "Records")]
    records: R,
}

impl<'de> Deserialize<'de> for DynamoDbEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::<Vec<Record>>::deserialize(deserializer)?;
        Ok(DynamoDbEvent {
            records: wire.records,
        })
    }
}

impl Serialize for DynamoDbEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Wire {
            records: &self.records,
        }
        .serialize(serializer)
    }
}

impl From<aws_lambda_events::event::dynamodb::Event> for DynamoDbEvent {
    fn from(event: aws_lambda_events::event::dynamodb::Event) -> Self {
        DynamoDbEvent {
            records: event.records.into_iter().map(Record::Decoded).collect(),
        }
    }
}

impl FromIterator<EventRecord> for DynamoDbEvent {
    fn from_iter<I: IntoIterator<Item = EventRecord>>(records: I) -> Self {
        DynamoDbEvent {
            records: records.into_iter().map(Record::Decoded).collect(),
        }
    }
}

/// Which part of a stream record an [`ImageError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Image {
    /// `Keys`: the primary key attributes.
    Keys,
    /// `NewImage`: the item after the change.
    NewImage,
    /// `OldImage`: the item before the change.
    OldImage,
}

impl Image {
    /// The field's name in the record: `Keys`, `NewImage` or `OldImage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Image::Keys => "Keys",
            Image::NewImage => "NewImage",
            Image::OldImage => "OldImage",
        }
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record's image (or keys) did not decode into the type asked for.
///
/// Its `Display` names the image, the type and the attribute where decoding stopped, but never
/// quotes an attribute's value: it is written to the function's logs, and items may hold
/// personal data. The underlying error, which may quote values, is available from
/// [`attribute_error`](ImageError::attribute_error).
///
/// ```
/// use lamina::events::dynamodb::{DynamoDbEvent, DynamoDbRecordExt, Image};
///
/// #[derive(Debug, serde::Deserialize)]
/// struct Order { id: String, total: f64 }
///
/// let event: DynamoDbEvent = serde_json::from_str(r#"{"Records": [{
///     "eventID": "1", "eventName": "INSERT", "awsRegion": "eu-west-1",
///     "dynamodb": {
///         "Keys": {"id": {"S": "o-1"}},
///         "NewImage": {"id": {"S": "o-1"}, "total": {"S": "a lot"}},
///         "SequenceNumber": "100", "SizeBytes": 30, "StreamViewType": "NEW_IMAGE"
///     }
/// }]}"#)?;
/// let err = event.records[0].decoded().unwrap().new_image::<Order>().unwrap_err();
/// assert_eq!((err.image(), err.path()), (Image::NewImage, "total"));
/// assert!(!err.to_string().contains("a lot"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug)]
pub struct ImageError {
    image: Image,
    target: &'static str,
    path: String,
    source: serde_dynamo::Error,
}

impl ImageError {
    /// The image that did not decode.
    pub fn image(&self) -> Image {
        self.image
    }

    /// The short name of the type the image was decoded into.
    pub fn target(&self) -> &str {
        self.target
    }

    /// The attribute where decoding failed, as `lines[1].qty`; `.` is the image itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The error `serde_dynamo` reported. Its message may quote an attribute's value.
    pub fn attribute_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &self.source
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the record's {} does not match `{}` at `{}`: {}; make `{}` and the table's items \
             agree on the shape",
            self.image,
            self.target,
            self.path,
            attribute_error_without_values(&self.source),
            self.target
        )
    }
}

impl std::error::Error for ImageError {}

/// `serde_dynamo`'s message with any value it quotes taken out, in DynamoDB's terms.
fn attribute_error_without_values(err: &serde_dynamo::Error) -> Cow<'static, str> {
    let message = err.to_string();
    let fixed = match message.as_str() {
        "Expected string" => "expected a string (`S`)",
        "Expected num" => "expected a number (`N`)",
        "Expected bool" => "expected a boolean (`BOOL`)",
        "Expected map" | "Not a map-like object" => "expected a map (`M`)",
        "Expected seq" | "Not a set-like sequence" => {
            "expected a list or a set (`L`, `SS`, `NS` or `BS`); a binary (`B`) attribute decodes \
             into bytes, such as `serde_bytes::ByteBuf`, not into a plain `Vec<u8>`"
        }
        "Expected binary data" => "expected binary data (`B`)",
        "Expected unit" | "Expected unit struct" => "expected `NULL`",
        "Expected char" => "expected a one-character string (`S`)",
        "Expected enum" => "expected a string (`S`) or a single-entry map (`M`) naming the variant",
        "Expected an item with a single key" => "expected a single-entry map (`M`)",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.into();
    }
    // "Failed to parse '<value>' as an integer: <why>": keep the why.
    for (kind, marker) in [
        ("an integer", "' as an integer: "),
        ("a float", "' as a float: "),
    ] {
        if message.starts_with("Failed to parse '") {
            if let Some(at) = message.rfind(marker) {
                let why = &message[at + marker.len()..];
                return format!(
                    "a number (`N`) that does not parse as {kind} of the field's type ({why})"
                )
                .into();
            }
        }
    }
    // Everything else comes from serde (`missing field`, `invalid type`, …) or from a type's own
    // `Deserialize` impl: the same rules as for JSON payloads.
    let as_json = <serde_json::Error as serde::de::Error>::custom(message);
    json_error_without_values(&as_json)
}

fn decode_image<T: DeserializeOwned>(
    image: Image,
    item: &serde_dynamo::Item,
) -> Result<T, ImageError> {
    decode_owned_image(image, item.clone())
}

/// Decodes an image it owns: serde_dynamo's deserializer takes its input by value, so a caller
/// that can give the image up saves copying it. The path is tracked in the same pass (a failed
/// pass leaves nothing to decode again).
fn decode_owned_image<T: DeserializeOwned>(
    image: Image,
    item: serde_dynamo::Item,
) -> Result<T, ImageError> {
    let whole = serde_dynamo::Deserializer::from_attribute_value(AttributeValue::M(item.into()));
    serde_path_to_error::deserialize::<_, T>(whole).map_err(|tracked| ImageError {
        image,
        target: short_type_name::<T>(),
        path: tracked.path().to_string(),
        source: tracked.into_inner(),
    })
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::EventRecord {}
}

/// What lamina adds to an [`EventRecord`]: the change it records, and its images decoded into
/// your types.
///
/// An image absent from the record is empty in [`StreamRecord`]; a DynamoDB item always has its
/// key attributes, so an empty image is one the record does not carry, and these methods return
/// `Ok(None)` for it.
///
/// Sealed: implemented for [`EventRecord`] only.
///
/// ```
/// use lamina::events::dynamodb::{DynamoDbEvent, DynamoDbRecordExt, OperationType};
///
/// #[derive(Debug, PartialEq, serde::Deserialize)]
/// struct Order { id: String, total: f64, lines: u32 }
///
/// let event: DynamoDbEvent = serde_json::from_str(r#"{"Records": [{
///     "eventID": "1", "eventName": "MODIFY", "awsRegion": "eu-west-1",
///     "dynamodb": {
///         "Keys": {"id": {"S": "o-1"}},
///         "NewImage": {"id": {"S": "o-1"}, "total": {"N": "12.5"}, "lines": {"N": "2"}},
///         "OldImage": {"id": {"S": "o-1"}, "total": {"N": "10"}, "lines": {"N": "1"}},
///         "SequenceNumber": "100", "SizeBytes": 60, "StreamViewType": "NEW_AND_OLD_IMAGES"
///     }
/// }]}"#)?;
/// let record = event.records[0].decoded().unwrap();
/// assert_eq!(record.operation(), Some(OperationType::Modify));
/// let new: Order = record.new_image()?.unwrap();
/// assert_eq!(new, Order { id: "o-1".into(), total: 12.5, lines: 2 });
/// assert_eq!(record.old_image::<Order>()?.unwrap().total, 10.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait DynamoDbRecordExt: sealed::Sealed {
    /// The change the record describes, from its `eventName`: `INSERT`, `MODIFY` or `REMOVE`;
    /// `None` for any other name.
    fn operation(&self) -> Option<OperationType>;

    /// The record's sequence number, which the batch helpers report a failure by.
    fn sequence_number(&self) -> Option<&str>;

    /// Decodes the record's primary key attributes (`Keys`) into `T`.
    ///
    /// # Errors
    /// An [`ImageError`] saying which attribute did not match `T`, without quoting it.
    fn keys<T: DeserializeOwned>(&self) -> Result<T, ImageError>;

    /// Decodes the item as it is after the change (`NewImage`) into `T`; `Ok(None)` when the
    /// record has no `NewImage` (a `REMOVE`, or a stream whose view type is `KEYS_ONLY` or
    /// `OLD_IMAGE`).
    ///
    /// # Errors
    /// An [`ImageError`] saying which attribute did not match `T`, without quoting it.
    fn new_image<T: DeserializeOwned>(&self) -> Result<Option<T>, ImageError>;

    /// Decodes the item as it was before the change (`OldImage`) into `T`; `Ok(None)` when the
    /// record has no `OldImage` (an `INSERT`, or a stream whose view type is `KEYS_ONLY` or
    /// `NEW_IMAGE`).
    ///
    /// # Errors
    /// An [`ImageError`] saying which attribute did not match `T`, without quoting it.
    fn old_image<T: DeserializeOwned>(&self) -> Result<Option<T>, ImageError>;
}

impl DynamoDbRecordExt for EventRecord {
    fn operation(&self) -> Option<OperationType> {
        match self.event_name.as_str() {
            "INSERT" => Some(OperationType::Insert),
            "MODIFY" => Some(OperationType::Modify),
            "REMOVE" => Some(OperationType::Remove),
            _ => None,
        }
    }

    fn sequence_number(&self) -> Option<&str> {
        self.change.sequence_number.as_deref()
    }

    fn keys<T: DeserializeOwned>(&self) -> Result<T, ImageError> {
        decode_image(Image::Keys, &self.change.keys)
    }

    fn new_image<T: DeserializeOwned>(&self) -> Result<Option<T>, ImageError> {
        if self.change.new_image.is_empty() {
            return Ok(None);
        }
        decode_image(Image::NewImage, &self.change.new_image).map(Some)
    }

    fn old_image<T: DeserializeOwned>(&self) -> Result<Option<T>, ImageError> {
        if self.change.old_image.is_empty() {
            return Ok(None);
        }
        decode_image(Image::OldImage, &self.change.old_image).map(Some)
    }
}

/// Processes the records of `event` in order with `handler`, stopping at the first failure,
/// and reports that record.
///
/// The same as `Batch::new().process(event, handler)`; the [module docs](self) say why it stops.
///
/// # Errors
/// Only when a failed record has no sequence number to report it by (DynamoDB Streams always
/// sends one): the whole invocation then fails, so Lambda retries the whole batch.
pub async fn process<F, Fut, E>(
    event: DynamoDbEvent,
    handler: F,
) -> Result<DynamoDbEventResponse, Error>
where
    F: FnMut(EventRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: crate::error::IntoError,
{
    Batch::new().process(event, handler).await
}

/// Like [`process`], with each record's `NewImage` decoded into `T` first: `Some(item)` for an
/// `INSERT` or a `MODIFY`, and `None` for a `REMOVE`, whose item is gone (read its key with
/// [`DynamoDbRecordExt::keys`], or what it was with [`DynamoDbRecordExt::old_image`]). The
/// image is moved into `T`, not copied: the record `handler` gets has an empty `new_image`.
///
/// A record fails like any other, without `handler` being called, when its `NewImage` does not
/// decode into `T`, or when an `INSERT` or `MODIFY` has no `NewImage` because the stream's view
/// type is `KEYS_ONLY` or `OLD_IMAGE` (the log line says to change it).
///
/// # Errors
/// As for [`process`].
pub async fn process_new_images<T, F, Fut, E>(
    event: DynamoDbEvent,
    handler: F,
) -> Result<DynamoDbEventResponse, Error>
where
    T: DeserializeOwned,
    F: FnMut(Option<T>, EventRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: crate::error::IntoError,
{
    Batch::new().process_new_images(event, handler).await
}

/// How a batch is processed: the options of [`process`].
///
/// ```no_run
/// use lamina::events::dynamodb::{Batch, DynamoDbEvent, DynamoDbEventResponse};
/// use lamina::{Context, Error};
///
/// #[lamina::handler]
/// async fn audit(event: DynamoDbEvent, _ctx: Context) -> Result<DynamoDbEventResponse, Error> {
///     Batch::new()
///         .continue_after_failure(true)
///         .process(event, |record| async move {
///             println!("{} {}", record.event_name, record.event_id);
///             Ok::<(), Error>(())
///         })
///         .await
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Batch {
    continue_after_failure: bool,
}

impl Batch {
    /// In order, stopping at the first failure.
    pub fn new() -> Self {
        Batch::default()
    }

    /// Goes on after a failed record and reports every failure.
    ///
    /// Lambda still checkpoints at the lowest sequence number reported, so every record after
    /// the first failure is delivered again, including those that succeeded this time: use it
    /// only when processing a record twice is harmless and getting the later ones done early
    /// is worth it.
    pub fn continue_after_failure(mut self, go_on: bool) -> Self {
        self.continue_after_failure = go_on;
        self
    }

    /// Processes the records of `event` with `handler` and reports the failed ones.
    ///
    /// # Errors
    /// As for [`process`].
    pub async fn process<F, Fut, E>(
        &self,
        event: DynamoDbEvent,
        mut handler: F,
    ) -> Result<DynamoDbEventResponse, Error>
    where
        F: FnMut(EventRecord) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: crate::error::IntoError,
    {
        self.run(event, |record| batch::start(|| handler(record)))
            .await
    }

    /// Like [`Batch::process`], with each record's `NewImage` decoded into `T` first, as
    /// [`process_new_images`] does.
    ///
    /// # Errors
    /// As for [`process`].
    pub async fn process_new_images<T, F, Fut, E>(
        &self,
        event: DynamoDbEvent,
        mut handler: F,
    ) -> Result<DynamoDbEventResponse, Error>
    where
        T: DeserializeOwned,
        F: FnMut(Option<T>, EventRecord) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: crate::error::IntoError,
    {
        self.run(event, |mut record| {
            let image = take_new_image_or_removed::<T>(&mut record)?;
            batch::start(|| handler(image, record))
        })
        .await
    }

    async fn run<Fut, E>(
        &self,
        event: DynamoDbEvent,
        mut begin: impl FnMut(EventRecord) -> Result<Guarded<Fut>, Failure>,
    ) -> Result<DynamoDbEventResponse, Error>
    where
        Fut: Future<Output = Result<(), E>>,
        E: crate::error::IntoError,
    {
        let stream = batch::Stream {
            source: "DynamoDB Streams",
            id_field: "dynamodb.SequenceNumber",
            continue_after_failure: self.continue_after_failure,
        };
        let failed = batch::in_order(&stream, event.records, |record| {
            let sequence_number = record.sequence_number().map(str::to_owned);
            let started = match record {
                Record::Decoded(record) => begin(record),
                Record::Undecodable(record) => Err(Failure::Undecodable(format!(
                    "the record did not decode {}",
                    record.reason
                ))),
            };
            (sequence_number, async move { started?.await })
        })
        .await?;
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = failed
            .into_iter()
            .map(|sequence_number| {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence_number);
                failure
            })
            .collect();
        Ok(response)
    }
}

/// The record's `NewImage` for [`process_new_images`], moved out of the record: `None` only for
/// a `REMOVE`.
fn take_new_image_or_removed<T: DeserializeOwned>(
    record: &mut EventRecord,
) -> Result<Option<T>, Failure> {
    let item = std::mem::take(&mut record.change.new_image);
    let decoded = if item.is_empty() {
        Ok(None)
    } else {
        decode_owned_image(Image::NewImage, item).map(Some)
    };
    match decoded {
        Ok(Some(image)) => Ok(Some(image)),
        Ok(None) if record.operation() == Some(OperationType::Remove) => Ok(None),
        Ok(None) => {
            let why = match &record.change.stream_view_type {
                Some(view) => format!("the stream's view type is {view}"),
                None => "the record gives no StreamViewType".to_owned(),
            };
            Err(Failure::Item(format!(
                "the {} record has no NewImage, as {why}; set the table's stream view type to \
                 NEW_IMAGE or NEW_AND_OLD_IMAGES, or read the record's keys with \
                 `dynamodb::process` instead",
                record.event_name
            )))
        }
        Err(err) => Err(Failure::Item(err.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::{BTreeSet, HashMap};

    const CHANGES: &str =
        include_str!("../../tests/integration/fixtures/events/dynamodb-changes.json");
    const FAILURES: &str =
        include_str!("../../tests/integration/fixtures/events/dynamodb-failures.json");
    const KEYS_ONLY: &str =
        include_str!("../../tests/integration/fixtures/events/dynamodb-keys-only.json");

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Order {
        id: String,
        customer: String,
        total: f64,
        lines: u32,
        status: String,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct OrderKey {
        id: String,
    }

    fn parse(fixture: &str) -> DynamoDbEvent {
        let parsed: DynamoDbEvent = serde_json::from_str(fixture).unwrap();
        let again: DynamoDbEvent =
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

    fn failures(response: &DynamoDbEventResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.as_deref())
            .collect()
    }

    fn seq(i: u32) -> String {
        format!("4421584500000000017450439{i:03}")
    }

    /// Decodes `attributes` (an item's attribute-value JSON) as a `NewImage` into `T`.
    fn new_image<T: DeserializeOwned>(attributes: serde_json::Value) -> Result<T, ImageError> {
        let record = serde_json::json!({
            "eventID": "1", "eventName": "INSERT", "awsRegion": "eu-west-1",
            "dynamodb": {
                "Keys": {"id": {"S": "k"}}, "NewImage": attributes,
                "SequenceNumber": "1", "SizeBytes": 1, "StreamViewType": "NEW_IMAGE"
            }
        });
        let record: EventRecord = serde_json::from_value(record).unwrap();
        record.new_image().map(Option::unwrap)
    }

    /// Bytes as serde_bytes::ByteBuf reads them, without the dependency.
    #[derive(Debug, PartialEq)]
    struct Bytes(Vec<u8>);

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl serde::de::Visitor<'_> for Visitor {
                type Value = Bytes;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
            }
            deserializer.deserialize_byte_buf(Visitor)
        }
    }

    #[test]
    fn fixtures_round_trip_and_decode() {
        let event = parse(CHANGES);
        assert_eq!(event.records.len(), 3);
        let ops: Vec<_> = event
            .records
            .iter()
            .map(|r| r.decoded().unwrap().operation().unwrap())
            .collect();
        assert_eq!(
            ops,
            [
                OperationType::Insert,
                OperationType::Modify,
                OperationType::Remove
            ]
        );
        let modify = event.records[1].decoded().unwrap();
        assert_eq!(modify.sequence_number(), Some(seq(2).as_str()));
        assert_eq!(
            modify.keys::<OrderKey>().unwrap(),
            OrderKey { id: "o-1".into() }
        );
        let new: Order = modify.new_image().unwrap().unwrap();
        let old: Order = modify.old_image().unwrap().unwrap();
        assert_eq!((old.status.as_str(), old.lines), ("placed", 2));
        assert_eq!(
            new,
            Order {
                id: "o-1".into(),
                customer: "c-7".into(),
                total: 42.5,
                lines: 3,
                status: "paid".into()
            }
        );
        parse(FAILURES);
        parse(KEYS_ONLY);
    }

    #[test]
    fn an_image_the_record_does_not_carry_is_none() {
        let event = parse(CHANGES);
        let insert = event.records[0].decoded().unwrap();
        assert_eq!(insert.old_image::<Order>().unwrap(), None);
        assert!(insert.new_image::<Order>().unwrap().is_some());
        let remove = event.records[2].decoded().unwrap();
        assert_eq!(remove.new_image::<Order>().unwrap(), None);
        assert_eq!(remove.old_image::<Order>().unwrap().unwrap().status, "paid");

        let keys_only = parse(KEYS_ONLY);
        let insert = keys_only.records[0].decoded().unwrap();
        assert_eq!(insert.new_image::<Order>().unwrap(), None);
        assert_eq!(insert.old_image::<Order>().unwrap(), None);
        assert_eq!(insert.keys::<OrderKey>().unwrap().id, "o-9");
    }

    #[test]
    fn every_attribute_type_decodes() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Inner {
            name: String,
            n: u8,
        }
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Everything {
            s: String,
            int: i64,
            negative: i32,
            float: f64,
            float_from_int: f32,
            big: u64,
            yes: bool,
            null: Option<String>,
            absent: Option<u32>,
            map: Inner,
            counts: HashMap<String, u32>,
            list: Vec<Inner>,
            tuple: (String, u16, bool),
            strings: BTreeSet<String>,
            numbers: Vec<f64>,
            binary: Bytes,
            binaries: Vec<Bytes>,
            any: serde_json::Value,
        }
        let item = serde_json::json!({
            "s": {"S": "text"},
            "int": {"N": "42"},
            "negative": {"N": "-7"},
            "float": {"N": "12.5"},
            "float_from_int": {"N": "3"},
            "big": {"N": "18446744073709551615"},
            "yes": {"BOOL": true},
            "null": {"NULL": true},
            "map": {"M": {"name": {"S": "inner"}, "n": {"N": "9"}}},
            "counts": {"M": {"a": {"N": "1"}, "b": {"N": "2"}}},
            "list": {"L": [{"M": {"name": {"S": "first"}, "n": {"N": "1"}}},
                           {"M": {"name": {"S": "second"}, "n": {"N": "2"}}}]},
            "tuple": {"L": [{"S": "t"}, {"N": "8"}, {"BOOL": false}]},
            "strings": {"SS": ["b", "a"]},
            "numbers": {"NS": ["1.5", "-2", "300"]},
            "binary": {"B": "aGVsbG8="},
            "binaries": {"BS": ["AAE=", "/w=="]},
            "any": {"M": {"n": {"N": "5"}, "l": {"L": [{"S": "x"}, {"NULL": true}]}}}
        });
        let decoded: Everything = new_image(item).unwrap();
        assert_eq!(
            decoded,
            Everything {
                s: "text".into(),
                int: 42,
                negative: -7,
                float: 12.5,
                float_from_int: 3.0,
                big: u64::MAX,
                yes: true,
                null: None,
                absent: None,
                map: Inner {
                    name: "inner".into(),
                    n: 9
                },
                counts: HashMap::from([("a".into(), 1), ("b".into(), 2)]),
                list: vec![
                    Inner {
                        name: "first".into(),
                        n: 1
                    },
                    Inner {
                        name: "second".into(),
                        n: 2
                    }
                ],
                tuple: ("t".into(), 8, false),
                strings: BTreeSet::from(["a".into(), "b".into()]),
                numbers: vec![1.5, -2.0, 300.0],
                binary: Bytes(b"hello".to_vec()),
                binaries: vec![Bytes(vec![0, 1]), Bytes(vec![255])],
                any: serde_json::json!({"n": 5, "l": ["x", null]}),
            }
        );
    }

    #[test]
    fn decoding_errors_name_the_image_attribute_and_type_but_no_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Line {
            sku: String,
            qty: u8,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Basket {
            lines: Vec<Line>,
        }
        let cases = [
            (
                serde_json::json!({"lines": {"L": [
                    {"M": {"sku": {"S": "a"}, "qty": {"N": "1"}}},
                    {"M": {"sku": {"S": "b"}, "qty": {"S": "secret-7"}}}
                ]}}),
                "the record's NewImage does not match `Basket` at `lines[1].qty`: expected a \
                 number (`N`); make `Basket` and the table's items agree on the shape",
            ),
            (
                serde_json::json!({"lines": {"L": [
                    {"M": {"sku": {"S": "a"}, "qty": {"N": "12.5"}}}
                ]}}),
                "the record's NewImage does not match `Basket` at `lines[0].qty`: a number (`N`) \
                 that does not parse as an integer of the field's type (invalid digit found in \
                 string); make `Basket` and the table's items agree on the shape",
            ),
            (
                serde_json::json!({"lines": {"L": [
                    {"M": {"sku": {"S": "a"}, "qty": {"N": "300"}}}
                ]}}),
                "the record's NewImage does not match `Basket` at `lines[0].qty`: a number (`N`) \
                 that does not parse as an integer of the field's type (number too large to fit \
                 in target type); make `Basket` and the table's items agree on the shape",
            ),
            (
                serde_json::json!({"lines": {"L": [{"M": {"qty": {"N": "1"}}}]}}),
                "the record's NewImage does not match `Basket` at `lines[0]`: missing field \
                 `sku`; make `Basket` and the table's items agree on the shape",
            ),
            (
                serde_json::json!({"lines": {"S": "secret-7"}}),
                "the record's NewImage does not match `Basket` at `lines`: expected a list or a \
                 set (`L`, `SS`, `NS` or `BS`); a binary (`B`) attribute decodes into bytes, such \
                 as `serde_bytes::ByteBuf`, not into a plain `Vec<u8>`; make `Basket` and the \
                 table's items agree on the shape",
            ),
        ];
        for (item, expected) in cases {
            let err = new_image::<Basket>(item).unwrap_err();
            assert_eq!(err.to_string(), expected);
            assert_eq!((err.image(), err.target()), (Image::NewImage, "Basket"));
        }
        let err = new_image::<Basket>(serde_json::json!({"lines": {"L": [
            {"M": {"sku": {"S": "a"}, "qty": {"N": "12.5"}}}
        ]}}))
        .unwrap_err();
        assert!(err.attribute_error().to_string().contains("12.5"));

        let keys_only = parse(KEYS_ONLY);
        let err = keys_only.records[0]
            .decoded()
            .unwrap()
            .keys::<Order>()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the record's Keys does not match `Order` at `.`: missing field `customer`; make \
             `Order` and the table's items agree on the shape"
        );
    }

    #[test]
    fn a_malformed_attribute_value_fails_only_its_record() {
        let event = parse(FAILURES);
        assert_eq!(event.records.len(), 6);
        let Record::Undecodable(bad) = &event.records[2] else {
            panic!("record 3 has a malformed attribute value")
        };
        assert_eq!(event.records[2].sequence_number(), Some(seq(3).as_str()));
        assert_eq!(
            bad.reason(),
            "at `dynamodb.NewImage.total.N`: invalid type: floating point, expected a string"
        );
        assert_eq!(bad.raw()["dynamodb"]["NewImage"]["total"]["N"], 99.5);
    }

    /// The failures batch: 1 and 2 succeed, 3 is undecodable, 4's NewImage does not match
    /// `Order`, 5 is rejected by the handler, 6 (a REMOVE) succeeds.
    fn handle(order: Option<Order>, record: EventRecord) -> Result<(), Error> {
        match order {
            Some(order) if order.status == "fraud" => Err(Error::new(
                "Fraud",
                format!("order {} is fraudulent", order.id),
            )),
            Some(_) => Ok(()),
            None => {
                record.keys::<OrderKey>()?;
                Ok(())
            }
        }
    }

    #[test]
    fn stops_at_the_first_failure() {
        let seen = RefCell::new(Vec::new());
        let response = block_on(process_new_images(parse(FAILURES), |order, record| {
            seen.borrow_mut().push(record.event_id.clone());
            let result = handle(order, record);
            async move { result }
        }))
        .unwrap();
        assert_eq!(*seen.borrow(), ["e-1", "e-2"]);
        assert_eq!(failures(&response), [seq(3)]);
    }

    #[test]
    fn can_go_on_and_report_every_failure() {
        let seen = RefCell::new(Vec::new());
        let response = block_on(
            Batch::new()
                .continue_after_failure(true)
                .process_new_images(parse(FAILURES), |order, record| {
                    seen.borrow_mut().push(record.event_id.clone());
                    let result = handle(order, record);
                    async move { result }
                }),
        )
        .unwrap();
        assert_eq!(*seen.borrow(), ["e-1", "e-2", "e-5", "e-6"]);
        assert_eq!(failures(&response), [seq(3), seq(4), seq(5)]);
    }

    #[test]
    fn a_panic_fails_only_its_record() {
        let response = block_on(Batch::new().continue_after_failure(true).process(
            parse(CHANGES),
            |record| async move {
                if record.operation() == Some(OperationType::Modify) {
                    panic!("boom");
                }
                Ok::<(), Error>(())
            },
        ))
        .unwrap();
        assert_eq!(failures(&response), [seq(2)]);
    }

    #[test]
    fn all_good_is_an_empty_list() {
        let response = block_on(process_new_images(parse(CHANGES), |order, record| {
            let result = handle(order, record);
            async move { result }
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"batchItemFailures":[]}"#
        );
    }

    #[test]
    fn new_images_fail_when_the_stream_does_not_carry_them() {
        let called = RefCell::new(0);
        let response = block_on(process_new_images(
            parse(KEYS_ONLY),
            |_order: Option<Order>, _record| {
                *called.borrow_mut() += 1;
                async { Ok::<(), Error>(()) }
            },
        ))
        .unwrap();
        assert_eq!(*called.borrow(), 0);
        assert_eq!(failures(&response), [seq(7)]);
        let record = parse(KEYS_ONLY).records.remove(0);
        let Record::Decoded(mut record) = record else {
            panic!("decodes")
        };
        let Err(failure) = take_new_image_or_removed::<Order>(&mut record) else {
            panic!("no NewImage in a KEYS_ONLY stream")
        };
        assert_eq!(
            failure.to_string(),
            "the INSERT record has no NewImage, as the stream's view type is KEYS_ONLY; set the \
             table's stream view type to NEW_IMAGE or NEW_AND_OLD_IMAGES, or read the record's \
             keys with `dynamodb::process` instead"
        );
    }

    #[test]
    fn a_failed_record_without_a_sequence_number_fails_the_invocation() {
        let mut event = parse(CHANGES);
        let Record::Decoded(record) = &mut event.records[1] else {
            panic!("decodes")
        };
        record.change.sequence_number = None;
        let err = block_on(process(event, |record| async move {
            if record.operation() == Some(OperationType::Modify) {
                return Err(Error::new("Nope", "no"));
            }
            Ok(())
        }))
        .unwrap_err();
        assert_eq!(err.error_type(), "Batch.MissingItemIdentifier");
        assert_eq!(
            err.message(),
            "record 1 of the batch failed and has no `dynamodb.SequenceNumber` to report it by, \
             so the whole invocation fails and Lambda retries the whole batch; DynamoDB Streams \
             always sends a `dynamodb.SequenceNumber`, so check what produced this event"
        );
    }
}
