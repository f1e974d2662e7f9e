//! Kinesis batches, processed in order, with the first failure reported so Lambda checkpoints
//! before it.
//!
//! Lambda reads a shard in order and hands the function a batch of its records. With
//! `ReportBatchItemFailures` enabled on the event source mapping, the function answers with the
//! `sequenceNumber`s that failed, and Lambda then **checkpoints at the lowest sequence number
//! reported and delivers every record after it again**, successes included. So once a record
//! has failed, processing the records after it only does work that will be done again (and
//! lets a later record take effect before an earlier one that has not). [`process`] therefore
//! goes through the records in order and stops at the first failure, reporting that record;
//! [`Batch::continue_after_failure`] changes that for functions that prefer to go on.
//!
//! The event type here is lamina's [`KinesisEvent`], not `aws_lambda_events`' own: that one
//! decodes every record's base64 `data` while the event is decoded, so a single bad record would
//! fail the whole invocation before your code runs, and Lambda would retry the whole batch
//! until the records expire or the mapping's retry limit is reached. Here such a record is kept as [`Record::Undecodable`] and fails on its own.
//!
//! ```no_run
//! use lamina::events::kinesis::{self, KinesisEvent, KinesisEventResponse};
//! use lamina::{Context, Error};
//!
//! #[derive(serde::Deserialize)]
//! struct Click { page: String }
//!
//! #[lamina::handler]
//! async fn clicks(event: KinesisEvent, _ctx: Context) -> Result<KinesisEventResponse, Error> {
//!     kinesis::process_json(event, |click: Click, _record| async move {
//!         println!("click on {}", click.page);
//!         Ok::<(), Error>(())
//!     })
//!     .await
//! }
//! ```
//!
//! As with SQS, a panic fails only its record under `panic = "unwind"`; under `panic = "abort"`
//! the process ends, lamina's panic hook reports the invocation as failed, and Lambda retries
//! the whole batch. Each failure is logged once at WARN with the sequence number and the error,
//! never the data.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use aws_lambda_events::event::kinesis::{
    KinesisEncryptionType, KinesisEventRecord, KinesisRecord,
};
pub use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};

use super::batch::{self, Failure, Guarded};
use super::{PayloadError, decode_json};
use crate::error::Error;

/// A batch of Kinesis records, as Lambda delivers it (`{"Records": [...]}`).
///
/// A record that does not decode (invalid base64 `data`, a missing field) does not fail the
/// whole event: it is kept as [`Record::Undecodable`], and the batch helpers report it failed.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct KinesisEvent {
    /// The records, in shard order.
    pub records: Vec<Record>,
}

/// One record of a [`KinesisEvent`].
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A record that decoded, with its `data` already base64-decoded.
    Decoded(KinesisEventRecord),
    /// A record that did not decode.
    Undecodable(UndecodableRecord),
}

impl Record {
    /// The record's sequence number, when it has one.
    pub fn sequence_number(&self) -> Option<&str> {
        match self {
            Record::Decoded(r) => Some(r.kinesis.sequence_number.as_str()),
            Record::Undecodable(r) => r.sequence_number.as_deref(),
        }
        .filter(|s| !s.is_empty())
    }

    /// The decoded record, if it decoded.
    pub fn decoded(&self) -> Option<&KinesisEventRecord> {
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

    /// Why it did not decode, with the field at fault: ``at `kinesis.data`: Invalid symbol 33,
    /// offset 3.``
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = serde_json::Value::deserialize(deserializer)?;
        match batch::decode_record::<KinesisEventRecord>(&raw) {
            Ok(record) => Ok(Record::Decoded(record)),
            Err(reason) => {
                let sequence_number = raw
                    .pointer("/kinesis/sequenceNumber")
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

impl<'de> Deserialize<'de> for KinesisEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::<Vec<Record>>::deserialize(deserializer)?;
        Ok(KinesisEvent {
            records: wire.records,
        })
    }
}

impl Serialize for KinesisEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Wire {
            records: &self.records,
        }
        .serialize(serializer)
    }
}

impl From<aws_lambda_events::event::kinesis::KinesisEvent> for KinesisEvent {
    fn from(event: aws_lambda_events::event::kinesis::KinesisEvent) -> Self {
        KinesisEvent {
            records: event.records.into_iter().map(Record::Decoded).collect(),
        }
    }
}

impl FromIterator<KinesisEventRecord> for KinesisEvent {
    fn from_iter<I: IntoIterator<Item = KinesisEventRecord>>(records: I) -> Self {
        KinesisEvent {
            records: records.into_iter().map(Record::Decoded).collect(),
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::KinesisEventRecord {}
}

/// What lamina adds to a [`KinesisEventRecord`].
///
/// Sealed: implemented for [`KinesisEventRecord`] only.
pub trait KinesisRecordExt: sealed::Sealed {
    /// The record's data, already decoded from base64 when the event was decoded.
    fn data(&self) -> &[u8];

    /// Decodes the record's data from JSON into `T`.
    ///
    /// # Errors
    /// A [`PayloadError`] saying where the data stopped matching `T`, without quoting it.
    fn data_json<T: DeserializeOwned>(&self) -> Result<T, PayloadError>;

    /// The record's sequence number.
    fn sequence_number(&self) -> &str;

    /// The record's partition key.
    fn partition_key(&self) -> &str;
}

impl KinesisRecordExt for KinesisEventRecord {
    fn data(&self) -> &[u8] {
        &self.kinesis.data
    }

    fn data_json<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        decode_json("record data", &self.kinesis.data)
    }

    fn sequence_number(&self) -> &str {
        &self.kinesis.sequence_number
    }

    fn partition_key(&self) -> &str {
        &self.kinesis.partition_key
    }
}

/// Processes the records of `event` in order with `handler`, stopping at the first failure,
/// and reports that record.
///
/// The same as `Batch::new().process(event, handler)`; the [module docs](self) say why it stops.
///
/// # Errors
/// Only when a failed record has no sequence number to report it by (Kinesis always sends
/// one): the whole invocation then fails, so Lambda retries the whole batch.
pub async fn process<F, Fut, E>(
    event: KinesisEvent,
    handler: F,
) -> Result<KinesisEventResponse, Error>
where
    F: FnMut(KinesisEventRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: crate::error::IntoError,
{
    Batch::new().process(event, handler).await
}

/// Like [`process`], with each record's data decoded from JSON into `T` first. A record whose
/// data does not decode fails like any other; `handler` is not called for it.
///
/// # Errors
/// As for [`process`].
pub async fn process_json<T, F, Fut, E>(
    event: KinesisEvent,
    handler: F,
) -> Result<KinesisEventResponse, Error>
where
    T: DeserializeOwned,
    F: FnMut(T, KinesisEventRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: crate::error::IntoError,
{
    Batch::new().process_json(event, handler).await
}

/// How a batch is processed: the options of [`process`].
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
        event: KinesisEvent,
        mut handler: F,
    ) -> Result<KinesisEventResponse, Error>
    where
        F: FnMut(KinesisEventRecord) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: crate::error::IntoError,
    {
        self.run(event, |record| batch::start(|| handler(record)))
            .await
    }

    /// Like [`Batch::process`], with each record's data decoded from JSON into `T` first.
    ///
    /// # Errors
    /// As for [`process`].
    pub async fn process_json<T, F, Fut, E>(
        &self,
        event: KinesisEvent,
        mut handler: F,
    ) -> Result<KinesisEventResponse, Error>
    where
        T: DeserializeOwned,
        F: FnMut(T, KinesisEventRecord) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: crate::error::IntoError,
    {
        self.run(event, |record| {
            let data = record.data_json::<T>().map_err(Failure::Payload)?;
            batch::start(|| handler(data, record))
        })
        .await
    }

    async fn run<Fut, E>(
        &self,
        event: KinesisEvent,
        mut begin: impl FnMut(KinesisEventRecord) -> Result<Guarded<Fut>, Failure>,
    ) -> Result<KinesisEventResponse, Error>
    where
        Fut: Future<Output = Result<(), E>>,
        E: crate::error::IntoError,
    {
        let stream = batch::Stream {
            source: "Kinesis",
            id_field: "sequenceNumber",
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
        let mut response = KinesisEventResponse::default();
        response.set_failures(failed);
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const CLICKS: &str =
        include_str!("../../tests/integration/fixtures/events/kinesis-clicks.json");

    #[derive(Debug, serde::Deserialize)]
    struct Click {
        page: String,
    }

    fn event() -> KinesisEvent {
        let parsed: KinesisEvent = serde_json::from_str(CLICKS).unwrap();
        let again: KinesisEvent =
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

    fn failures(response: &KinesisEventResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.as_deref())
            .collect()
    }

    fn seq(i: u32) -> String {
        format!("4959033827149025660855969253836157109592157598913658{i:04}")
    }

    #[test]
    fn fixture_keeps_the_undecodable_record_and_decodes_the_rest() {
        let event = event();
        assert_eq!(event.records.len(), 5);
        let first = event.records[0].decoded().unwrap();
        assert_eq!(first.data(), br#"{"page":"/home"}"#);
        assert_eq!(first.partition_key(), "user-1");
        assert_eq!(first.data_json::<Click>().unwrap().page, "/home");
        let Record::Undecodable(bad) = &event.records[2] else {
            panic!("record 2 has invalid base64")
        };
        assert_eq!(event.records[2].sequence_number(), Some(seq(3).as_str()));
        assert!(
            bad.reason().starts_with("at `kinesis.data`: "),
            "{}",
            bad.reason()
        );
        // base64's own message names the offending byte of the data: withheld.
        assert_eq!(
            bad.reason(),
            "at `kinesis.data`: the type's `Deserialize` impl refused it (its message is left out \
             of the logs, as it may quote the event)"
        );
        assert_eq!(bad.raw()["kinesis"]["data"], "not base64!!");
    }

    #[test]
    fn stops_at_the_first_failure() {
        let seen = RefCell::new(Vec::new());
        let response = block_on(process_json(event(), |click: Click, record| {
            seen.borrow_mut().push(click.page);
            let _ = record;
            async { Ok::<(), Error>(()) }
        }))
        .unwrap();
        assert_eq!(*seen.borrow(), ["/home", "/cart"]);
        assert_eq!(failures(&response), [seq(3)]);
    }

    #[test]
    fn can_go_on_and_report_every_failure() {
        // Record 3 is undecodable, record 4 is not JSON, record 5 makes the handler fail.
        let response = block_on(Batch::new().continue_after_failure(true).process_json(
            event(),
            |click: Click, _record| async move {
                if click.page == "/checkout" {
                    Err(Error::new("Nope", "checkout is down"))
                } else {
                    Ok(())
                }
            },
        ))
        .unwrap();
        assert_eq!(failures(&response), [seq(3), seq(4), seq(5)]);
    }

    #[test]
    fn a_panic_fails_only_its_record() {
        let response = block_on(Batch::new().continue_after_failure(true).process(
            event(),
            |record| async move {
                if record.sequence_number().ends_with("0002") {
                    panic!("boom");
                }
                Ok::<(), Error>(())
            },
        ))
        .unwrap();
        assert_eq!(failures(&response), [seq(2), seq(3)]);
    }

    #[test]
    fn all_good_is_an_empty_list() {
        let all_good: KinesisEvent = event()
            .records
            .into_iter()
            .filter_map(|r| r.decoded().cloned())
            .collect();
        let response = block_on(process(all_good, |_| async { Ok::<(), Error>(()) })).unwrap();
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"batchItemFailures":[]}"#
        );
    }
}
