//! SQS batches, processed one message at a time, with exactly the failed messages reported
//! back.
//!
//! Lambda hands a function up to 10,000 SQS messages at once. Without a partial batch response,
//! one failed message makes Lambda return the whole batch to the queue, and every message that
//! had succeeded is processed again. With `ReportBatchItemFailures` enabled on the event source
//! mapping, the function answers with the `messageId`s that failed and only those come back.
//! Getting that list right is bookkeeping every SQS function repeats: [`process`] does it.
//!
//! ```no_run
//! use lamina::events::sqs::{self, SqsBatchResponse, SqsEvent};
//! use lamina::{Context, Error};
//!
//! #[derive(serde::Deserialize)]
//! struct Order { id: String, qty: u32 }
//!
//! #[lamina::handler]
//! async fn orders(event: SqsEvent, _ctx: Context) -> Result<SqsBatchResponse, Error> {
//!     sqs::process_json(event, |order: Order, _message| async move {
//!         if order.qty == 0 {
//!             return Err(Error::new("EmptyOrder", format!("order {} has no items", order.id)));
//!         }
//!         Ok(())
//!     })
//!     .await
//! }
//! ```
//!
//! What the helpers guarantee:
//!
//! - **Exactly the failed messages are reported**: one whose function returned `Err`, panicked,
//!   or (with [`process_json`]) whose body did not decode into your type. Each failure is logged
//!   once at WARN with the message id and the error, never the body; the messages a FIFO
//!   failure holds back are summed up in one more line.
//! - **FIFO order is kept.** For a FIFO queue (its ARN ends in `.fifo`) messages are processed
//!   in order, one at a time, and processing stops at the first failure: that message and every
//!   one after it are reported, so none overtakes a message it must follow. With
//!   [`Batch::fifo_skip_failed_groups`] only the rest of the failed message's group is held back.
//! - **Standard queues may interleave**: [`Batch::concurrency`] lets up to that many messages'
//!   futures run at once on lamina's single-threaded runtime (while one waits on I/O, another
//!   runs). The set of failures is the same as in order.
//! - **A panic fails only its message** when the function is built with `panic = "unwind"`.
//!   Under `panic = "abort"` (what `cargo lambda build --release` injects unless your workspace
//!   sets `panic`) a panic ends the process: lamina's panic hook reports the whole invocation as
//!   failed, and Lambda retries the whole batch.
//!
//! Enable `ReportBatchItemFailures` on the event source mapping
//! (`FunctionResponseTypes: [ReportBatchItemFailures]`): without it Lambda ignores the response
//! and treats the batch as a success.

use std::collections::HashSet;
use std::future::Future;

use serde::de::DeserializeOwned;

pub use aws_lambda_events::event::sqs::{
    BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute,
};

use super::batch::{self, Failure, Guarded};
use super::{PayloadError, decode_json};
use crate::error::Error;

/// Processes every message of `event` with `handler`, in order, and reports the failed ones.
///
/// The same as `Batch::new().process(event, handler)`; see [`Batch`] for concurrency and FIFO
/// options, and the [module docs](self) for what is guaranteed.
///
/// # Errors
/// Only when a message failed and has no `messageId` to report it by (SQS always sends one):
/// the whole invocation then fails, so Lambda retries the whole batch.
pub async fn process<F, Fut, E>(event: SqsEvent, handler: F) -> Result<SqsBatchResponse, Error>
where
    F: FnMut(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: crate::error::IntoError,
{
    Batch::new().process(event, handler).await
}

/// Like [`process`], with each message's body decoded from JSON into `T` first. A message whose
/// body does not decode fails on its own; `handler` is not called for it.
///
/// # Errors
/// As for [`process`].
pub async fn process_json<T, F, Fut, E>(
    event: SqsEvent,
    handler: F,
) -> Result<SqsBatchResponse, Error>
where
    T: DeserializeOwned,
    F: FnMut(T, SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: crate::error::IntoError,
{
    Batch::new().process_json(event, handler).await
}

/// Whether the batch comes from a FIFO queue: its `eventSourceARN` ends in `.fifo`.
pub fn is_fifo(event: &SqsEvent) -> bool {
    event.records.iter().any(|m| {
        m.event_source_arn
            .as_deref()
            .is_some_and(|arn| arn.ends_with(".fifo"))
    })
}

/// How a batch is processed: the options of [`process`].
///
/// ```no_run
/// # use lamina::events::sqs::{Batch, SqsEvent, SqsBatchResponse};
/// # async fn f(event: SqsEvent) -> Result<SqsBatchResponse, lamina::Error> {
/// Batch::new()
///     .concurrency(8)
///     .process(event, |message| async move {
///         // call a service for `message`
///         Ok::<(), lamina::Error>(())
///     })
///     .await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Batch {
    concurrency: usize,
    skip_failed_groups: bool,
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}

impl Batch {
    /// One message at a time, in order; a FIFO batch stops at its first failure.
    pub fn new() -> Self {
        Batch {
            concurrency: 1,
            skip_failed_groups: false,
        }
    }

    /// Lets up to `limit` messages of a standard queue be in progress at once (0 counts as 1).
    ///
    /// They interleave on lamina's single-threaded runtime, so this pays off when the work
    /// waits on I/O. A FIFO batch ignores it: its messages are always processed in order.
    pub fn concurrency(mut self, limit: usize) -> Self {
        self.concurrency = limit.max(1);
        self
    }

    /// For a FIFO batch: after a failure, go on with the other message groups and hold back
    /// only the rest of the failed message's group (its `MessageGroupId`), instead of stopping.
    ///
    /// SQS only orders messages within a group, so this keeps every guarantee FIFO gives while
    /// letting unrelated groups make progress.
    pub fn fifo_skip_failed_groups(mut self, skip: bool) -> Self {
        self.skip_failed_groups = skip;
        self
    }

    /// Processes every message of `event` with `handler` and reports the failed ones.
    ///
    /// # Errors
    /// As for [`process`].
    pub async fn process<F, Fut, E>(
        &self,
        event: SqsEvent,
        mut handler: F,
    ) -> Result<SqsBatchResponse, Error>
    where
        F: FnMut(SqsMessage) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: crate::error::IntoError,
    {
        self.run(event, |message| batch::start(|| handler(message)))
            .await
    }

    /// Like [`Batch::process`], with each body decoded from JSON into `T` first.
    ///
    /// # Errors
    /// As for [`process`].
    pub async fn process_json<T, F, Fut, E>(
        &self,
        event: SqsEvent,
        mut handler: F,
    ) -> Result<SqsBatchResponse, Error>
    where
        T: DeserializeOwned,
        F: FnMut(T, SqsMessage) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: crate::error::IntoError,
    {
        self.run(event, |message| {
            let body = message.body_json::<T>().map_err(Failure::Payload)?;
            batch::start(|| handler(body, message))
        })
        .await
    }

    async fn run<Fut, E>(
        &self,
        event: SqsEvent,
        mut begin: impl FnMut(SqsMessage) -> Result<Guarded<Fut>, Failure>,
    ) -> Result<SqsBatchResponse, Error>
    where
        Fut: Future<Output = Result<(), E>>,
        E: crate::error::IntoError,
    {
        let fifo = is_fifo(&event);
        let ids: Vec<Option<String>> = event.records.iter().map(|m| m.message_id.clone()).collect();
        let mut failed = vec![false; ids.len()];
        if fifo {
            self.run_fifo(event.records, &ids, &mut failed, begin).await;
        } else {
            let mut messages: Vec<Option<SqsMessage>> =
                event.records.into_iter().map(Some).collect();
            let results = batch::bounded(messages.len(), self.concurrency, |i| {
                match messages[i].take() {
                    Some(message) => begin(message),
                    None => Err(Failure::Undecodable("taken twice".to_owned())),
                }
            })
            .await;
            for (i, result) in results.into_iter().enumerate() {
                if let Err(failure) = result {
                    log_failure(ids[i].as_deref(), &failure);
                    failed[i] = true;
                }
            }
        }
        respond(&ids, &failed)
    }

    async fn run_fifo<Fut, E>(
        &self,
        messages: Vec<SqsMessage>,
        ids: &[Option<String>],
        failed: &mut [bool],
        mut begin: impl FnMut(SqsMessage) -> Result<Guarded<Fut>, Failure>,
    ) where
        Fut: Future<Output = Result<(), E>>,
        E: crate::error::IntoError,
    {
        let mut failed_groups: HashSet<Option<String>> = HashSet::new();
        for (i, message) in messages.into_iter().enumerate() {
            let group = message.message_group_id().map(str::to_owned);
            if failed_groups.contains(&group) {
                failed[i] = true;
                continue;
            }
            let result = match begin(message) {
                Ok(future) => future.await,
                Err(failure) => Err(failure),
            };
            let Err(failure) = result else { continue };
            log_failure(ids[i].as_deref(), &failure);
            failed[i] = true;
            if self.skip_failed_groups {
                tracing::warn!(
                    message_id = ids[i].as_deref().unwrap_or("<none>"),
                    message_group_id = group.as_deref().unwrap_or("<none>"),
                    "holding back the rest of this FIFO message group: its later messages in \
                     this batch are reported failed without being processed, to keep their order"
                );
                failed_groups.insert(group);
            } else {
                let rest = failed.len() - i - 1;
                if rest > 0 {
                    tracing::warn!(
                        message_id = ids[i].as_deref().unwrap_or("<none>"),
                        unprocessed = rest,
                        "stopping the FIFO batch at this failure: the messages after it are \
                         reported failed without being processed, to keep their order"
                    );
                }
                failed[i + 1..].iter_mut().for_each(|f| *f = true);
                return;
            }
        }
    }
}

fn log_failure(message_id: Option<&str>, failure: &Failure) {
    tracing::warn!(
        message_id = message_id.unwrap_or("<none>"),
        error = %failure,
        "SQS message failed; reporting it in batchItemFailures so SQS delivers it again"
    );
}

fn respond(ids: &[Option<String>], failed: &[bool]) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for (i, (id, _)) in ids.iter().zip(failed).enumerate().filter(|(_, (_, f))| **f) {
        match id {
            Some(id) => response.add_failure(id.clone()),
            None => {
                return Err(Error::new(
                    "Batch.MissingItemIdentifier",
                    format!(
                        "message {i} of the batch failed and has no `messageId` to report it by, \
                         so the whole invocation fails and Lambda retries the whole batch; \
                         SQS always sends a `messageId`, so check what produced this event"
                    ),
                ));
            }
        }
    }
    Ok(response)
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::SqsMessage {}
}

/// What lamina adds to an [`SqsMessage`].
///
/// Sealed: implemented for [`SqsMessage`] only.
pub trait SqsMessageExt: sealed::Sealed {
    /// Decodes the body from JSON into `T`.
    ///
    /// # Errors
    /// A [`PayloadError`] saying where the body stopped matching `T`, without quoting it.
    fn body_json<T: DeserializeOwned>(&self) -> Result<T, PayloadError>;

    /// The FIFO message group (`attributes.MessageGroupId`); `None` on a standard queue.
    fn message_group_id(&self) -> Option<&str>;

    /// How many times SQS has delivered this message (`attributes.ApproximateReceiveCount`).
    fn receive_count(&self) -> Option<u32>;
}

impl SqsMessageExt for SqsMessage {
    fn body_json<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        decode_json(
            "message body",
            self.body.as_deref().unwrap_or("").as_bytes(),
        )
    }

    fn message_group_id(&self) -> Option<&str> {
        self.attributes.get("MessageGroupId").map(String::as_str)
    }

    fn receive_count(&self) -> Option<u32> {
        self.attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const STANDARD: &str =
        include_str!("../../tests/integration/fixtures/events/sqs-standard.json");
    const FIFO: &str = include_str!("../../tests/integration/fixtures/events/sqs-fifo.json");

    #[derive(Debug, serde::Deserialize)]
    struct Order {
        id: String,
        qty: u32,
    }

    fn event(json: &str) -> SqsEvent {
        let parsed: SqsEvent = serde_json::from_str(json).unwrap();
        let again: SqsEvent =
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

    fn failures(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    /// The orders in the standard fixture: `o-1` fine, `m-2` not JSON, `o-3` qty 0 (the
    /// handler rejects it), `m-4` the wrong shape, `o-5` fine, `o-6` panics.
    async fn handle(order: Order, _message: SqsMessage) -> Result<(), Error> {
        match (order.id.as_str(), order.qty) {
            ("o-6", _) => panic!("order o-6 exploded"),
            (id, 0) => Err(Error::new("EmptyOrder", format!("order {id} is empty"))),
            _ => Ok(()),
        }
    }

    #[test]
    fn fixture_round_trips_and_fifo_is_detected() {
        assert!(!is_fifo(&event(STANDARD)));
        let fifo = event(FIFO);
        assert!(is_fifo(&fifo));
        assert_eq!(fifo.records[0].message_group_id(), Some("customer-a"));
        assert_eq!(fifo.records[0].receive_count(), Some(1));
    }

    #[test]
    fn standard_batch_reports_exactly_the_failed_messages() {
        let expected = ["m-2", "m-3", "m-4", "m-6"];
        let response = block_on(process_json(event(STANDARD), handle)).unwrap();
        assert_eq!(failures(&response), expected);
        for limit in [2, 3, 10] {
            let response = block_on(
                Batch::new()
                    .concurrency(limit)
                    .process_json(event(STANDARD), handle),
            )
            .unwrap();
            assert_eq!(failures(&response), expected, "concurrency {limit}");
        }
    }

    #[test]
    fn fifo_stops_at_the_first_failure_and_reports_the_rest() {
        let seen = RefCell::new(Vec::new());
        let response = block_on(Batch::new().concurrency(8).process(event(FIFO), |m| {
            let id = m.message_id.clone().unwrap();
            seen.borrow_mut().push(id.clone());
            async move {
                if id == "f-3" {
                    Err(Error::new("Nope", "f-3 fails"))
                } else {
                    Ok(())
                }
            }
        }))
        .unwrap();
        assert_eq!(*seen.borrow(), ["f-1", "f-2", "f-3"]);
        assert_eq!(failures(&response), ["f-3", "f-4", "f-5"]);
    }

    #[test]
    fn fifo_can_hold_back_only_the_failed_group() {
        // Groups: f-1 a, f-2 b, f-3 a, f-4 b, f-5 a. f-1 fails: a is held back, b goes on.
        let seen = RefCell::new(Vec::new());
        let response = block_on(Batch::new().fifo_skip_failed_groups(true).process(
            event(FIFO),
            |m| {
                let id = m.message_id.clone().unwrap();
                seen.borrow_mut().push(id.clone());
                async move {
                    if id == "f-1" {
                        Err(Error::new("Nope", "f-1 fails"))
                    } else {
                        Ok(())
                    }
                }
            },
        ))
        .unwrap();
        assert_eq!(*seen.borrow(), ["f-1", "f-2", "f-4"]);
        assert_eq!(failures(&response), ["f-1", "f-3", "f-5"]);
    }

    #[test]
    fn an_all_good_batch_reports_an_empty_list() {
        let response = block_on(process(event(FIFO), |_| async { Ok::<(), Error>(()) })).unwrap();
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"batchItemFailures":[]}"#
        );
    }

    #[test]
    fn a_failure_without_a_message_id_fails_the_invocation() {
        let mut batch = event(STANDARD);
        batch.records[1].message_id = None;
        let err = block_on(process(batch, |m| async move {
            match m.message_id {
                Some(_) => Ok(()),
                None => Err(Error::new("Nope", "no id")),
            }
        }))
        .unwrap_err();
        assert_eq!(err.error_type(), "Batch.MissingItemIdentifier");
        assert!(err.message().starts_with("message 1 of the batch failed"));
    }
}
