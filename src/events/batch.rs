//! The engine behind the SQS, Kinesis and DynamoDB Streams batch helpers: run one future per
//! item, in order or interleaved up to a bound, and turn each item's error or panic into a failure
//! of that item alone.
//!
//! lamina runs handlers on a `current_thread` tokio runtime, so "concurrently" means the items'
//! futures are interleaved on that one thread: while one waits on I/O, another runs. That needs
//! no `Send` bound and no spawning; a small bounded join here does it, instead of pulling in
//! `futures-util` for `FuturesUnordered`. Its trade-off: every wake-up polls each in-flight
//! future once, which costs O(bound) per wake-up, and is nothing next to the I/O being waited
//! on for the bounds a batch uses (tens, not thousands).

use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use serde::de::DeserializeOwned;

use crate::error::{Error, IntoError};

use super::PayloadError;

/// Decodes one record of a Kinesis or DynamoDB Streams batch from its JSON, or says why it does
/// not: the field at fault and serde's message without the values (which may quote the data).
/// Only a record that does not decode pays for tracking the path.
pub(crate) fn decode_record<R: DeserializeOwned>(raw: &serde_json::Value) -> Result<R, String> {
    if let Ok(record) = R::deserialize(raw) {
        return Ok(record);
    }
    serde_path_to_error::deserialize::<_, R>(raw).map_err(|err| {
        format!(
            "at `{}`: {}",
            err.path(),
            crate::error::json_error_without_values(err.inner())
        )
    })
}

/// Why one item of a batch failed.
pub(crate) enum Failure {
    /// The user's function returned this error.
    Handler(Error),
    /// The user's function panicked with this message.
    Panic(String),
    /// The item's payload did not decode into the user's type.
    Payload(PayloadError),
    /// The item itself could not be decoded (a Kinesis record with invalid base64).
    Undecodable(String),
    /// The item decoded but cannot be handed to the user's function as asked: a DynamoDB image
    /// that does not match the user's type, or is missing. The message says why.
    #[cfg(feature = "dynamodb-streams")]
    Item(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Handler(e) => write!(f, "{} ({})", e.message(), e.error_type()),
            Failure::Panic(message) => write!(f, "panicked: {message}"),
            Failure::Payload(e) => fmt::Display::fmt(e, f),
            Failure::Undecodable(message) => f.write_str(message),
            #[cfg(feature = "dynamodb-streams")]
            Failure::Item(message) => f.write_str(message),
        }
    }
}

/// A future that reports a panic in its poll as a [`Failure`] instead of unwinding further.
///
/// Under `panic = "abort"` there is nothing to catch: the process ends, lamina's panic hook
/// reports the invocation as failed, and Lambda retries the whole batch.
pub(crate) struct Guarded<Fut> {
    future: Option<Pin<Box<Fut>>>,
}

impl<Fut> Guarded<Fut> {
    pub(crate) fn new(future: Fut) -> Self {
        Guarded {
            future: Some(Box::pin(future)),
        }
    }
}

impl<Fut, E> Future for Guarded<Fut>
where
    Fut: Future<Output = Result<(), E>>,
    E: IntoError,
{
    type Output = Result<(), Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => {
                self.future = None;
                Poll::Ready(result.map_err(|e| Failure::Handler(e.into_error())))
            }
            Err(payload) => {
                // The future is in an unknown state: drop it now, and keep a panic in its
                // destructor from escaping too.
                let future = self.future.take();
                let _ = catch_unwind(AssertUnwindSafe(move || drop(future)));
                Poll::Ready(Err(Failure::Panic(panic_text(&*payload))))
            }
        }
    }
}

/// Calls the user's function for one item, catching a panic in the call itself (before any
/// future exists).
pub(crate) fn start<Fut>(call: impl FnOnce() -> Fut) -> Result<Guarded<Fut>, Failure> {
    catch_unwind(AssertUnwindSafe(call))
        .map(Guarded::new)
        .map_err(|payload| Failure::Panic(panic_text(&*payload)))
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// How a stream source (Kinesis, DynamoDB Streams) names its records, for [`in_order`]'s log
/// lines and errors.
pub(crate) struct Stream {
    /// The service that sends the records, as its docs name it: `Kinesis`.
    pub(crate) source: &'static str,
    /// The field that identifies a record in `batchItemFailures`: `sequenceNumber`.
    pub(crate) id_field: &'static str,
    /// Whether to go on after the first failure.
    pub(crate) continue_after_failure: bool,
}

/// Runs stream records one at a time, in order, and returns the identifiers to report in
/// `batchItemFailures`: the first failed record's, or with `continue_after_failure` every failed
/// record's.
///
/// Lambda checkpoints at the lowest identifier reported and delivers everything after it again,
/// so the records after a failure are not started unless asked. `run(record)` processes one
/// record and returns its identifier (when it has one) and its result.
pub(crate) async fn in_order<R, Fut>(
    stream: &Stream,
    records: Vec<R>,
    mut run: impl FnMut(R) -> (Option<String>, Fut),
) -> Result<Vec<String>, Error>
where
    Fut: Future<Output = Result<(), Failure>>,
{
    let mut failed = Vec::new();
    let total = records.len();
    for (i, record) in records.into_iter().enumerate() {
        let (id, result) = run(record);
        let Err(failure) = result.await else { continue };
        tracing::warn!(
            sequence_number = id.as_deref().unwrap_or("<none>"),
            error = %failure,
            "{} record failed; reporting it in batchItemFailures so Lambda delivers it and the \
             records after it again",
            stream.source
        );
        let Some(id) = id else {
            return Err(Error::new(
                "Batch.MissingItemIdentifier",
                format!(
                    "record {i} of the batch failed and has no `{field}` to report it by, so the \
                     whole invocation fails and Lambda retries the whole batch; {source} always \
                     sends a `{field}`, so check what produced this event",
                    field = stream.id_field,
                    source = stream.source,
                ),
            ));
        };
        failed.push(id);
        if !stream.continue_after_failure {
            let rest = total - i - 1;
            if rest > 0 {
                tracing::debug!(
                    unprocessed = rest,
                    "stopping at the first failure: Lambda delivers the records after it again"
                );
            }
            break;
        }
    }
    Ok(failed)
}

/// Runs `count` items with at most `limit` in flight, and returns every item's result by index.
///
/// `begin(i)` starts item `i`: its guarded future, or the failure that kept it from starting.
pub(crate) async fn bounded<Fut, E>(
    count: usize,
    limit: usize,
    mut begin: impl FnMut(usize) -> Result<Guarded<Fut>, Failure>,
) -> Vec<Result<(), Failure>>
where
    Fut: Future<Output = Result<(), E>>,
    E: IntoError,
{
    let limit = limit.max(1);
    let mut results: Vec<Option<Result<(), Failure>>> = (0..count).map(|_| None).collect();
    let mut in_flight: Vec<(usize, Guarded<Fut>)> = Vec::with_capacity(limit.min(count));
    let mut next = 0;
    poll_fn(|cx| {
        loop {
            while in_flight.len() < limit && next < count {
                match begin(next) {
                    Ok(future) => in_flight.push((next, future)),
                    Err(failure) => results[next] = Some(Err(failure)),
                }
                next += 1;
            }
            let before = in_flight.len();
            let mut i = 0;
            while i < in_flight.len() {
                match Pin::new(&mut in_flight[i].1).poll(cx) {
                    Poll::Ready(result) => {
                        let (index, _) = in_flight.swap_remove(i);
                        results[index] = Some(result);
                    }
                    Poll::Pending => i += 1,
                }
            }
            if in_flight.is_empty() && next >= count {
                return Poll::Ready(());
            }
            if in_flight.len() == before {
                // Nothing finished, so nothing new can start: wait for a wake-up.
                return Poll::Pending;
            }
        }
    })
    .await;
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Failure::Undecodable("not run".to_owned()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// Yields to the executor `n` times, so futures interleave deterministically.
    async fn yield_times(n: usize) {
        for _ in 0..n {
            let mut yielded = false;
            poll_fn(|cx| {
                if yielded {
                    Poll::Ready(())
                } else {
                    yielded = true;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            })
            .await;
        }
    }

    #[test]
    fn never_more_than_the_limit_in_flight_and_every_result_kept() {
        let live = Rc::new(RefCell::new((0usize, 0usize)));
        let results = block_on(bounded(10, 3, |i| {
            let live = Rc::clone(&live);
            start(move || async move {
                {
                    let mut l = live.borrow_mut();
                    l.0 += 1;
                    l.1 = l.1.max(l.0);
                }
                yield_times(10 - i).await;
                live.borrow_mut().0 -= 1;
                match i {
                    3 => Err(Error::new("Odd", "three")),
                    7 => panic!("seven"),
                    _ => Ok(()),
                }
            })
        }));
        assert_eq!(live.borrow().1, 3, "peak in flight");
        let failed: Vec<String> = results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().err().map(|f| format!("{i}: {f}")))
            .collect();
        assert_eq!(failed, ["3: three (Odd)", "7: panicked: seven"]);
    }

    #[test]
    fn a_panic_when_starting_fails_only_that_item() {
        let results = block_on(bounded(3, 2, |i| {
            start(move || {
                if i == 1 {
                    panic!("no future for you");
                }
                async { Ok::<(), Error>(()) }
            })
        }));
        assert!(results[0].is_ok() && results[2].is_ok());
        assert_eq!(
            results[1].as_ref().unwrap_err().to_string(),
            "panicked: no future for you"
        );
    }
}
