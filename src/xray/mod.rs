//! AWS X-Ray: the invocation's trace header, subsegments for the work a handler does, and
//! their delivery to the X-Ray daemon.
//!
//! Lambda records a segment for each traced invocation itself and tells the function about it in
//! the trace header (`Root=…;Parent=<the function's segment>;Sampled=1`). This module lets the
//! handler
//!
//! - **read and forward the header**: [`Context::trace`](crate::Context::trace) and
//!   [`current`] give the [`TraceHeader`]; [`Trace::forward`] and
//!   [`Subsegment::trace_header`] give the header for an outgoing call, whose `Parent` is the
//!   caller's subsegment. [`propagate`] carries the trace into a spawned task.
//! - **time its work as subsegments**: [`Subsegment`], [`capture`], [`capture_result`],
//!   [`capture_sync`], and the [`XrayLayer`] for `tracing` spans marked `xray = true`.
//!   Subsegments nest: one started while another [`run`](Subsegment::run)s is its child.
//!
//! When the handler returns, before lamina posts its response, the invocation's subsegments are
//! sent to the daemon at `AWS_XRAY_DAEMON_ADDRESS` over UDP, nested in as few documents as fit in
//! the daemon's 64 KB datagrams. Nothing blocks: the socket is non-blocking and a daemon that is
//! not there costs a failed send. An invocation that is not sampled (`Sampled=0`, or no header)
//! records and sends nothing; [`Subsegment`]s are then no-ops. With the `xray-sdk` feature,
//! `sdk::SdkExporter` sends them with `PutTraceSegments` instead, for places with no daemon.
//!
//! A failed invocation also gets X-Ray's error cause (the exception's type and message) on the
//! function's segment, through the `Lambda-Runtime-Function-XRay-Error-Cause` header of the
//! `/error` call.
//!
//! ```no_run
//! use lamina::{xray, Context, Error};
//!
//! # async fn get(_: &str, _: &str) -> Result<u16, Error> { Ok(200) }
//! #[lamina::handler]
//! async fn handle(order: String, ctx: Context) -> Result<(), Error> {
//!     let call = xray::Subsegment::new("inventory");
//!     call.http_request("GET", "https://inventory.internal/items");
//!     let header = call.trace_header().map(|h| h.to_string()); // send as `X-Amzn-Trace-Id`
//!     let status = call.run(get("https://inventory.internal/items", &header.unwrap_or_default())).await?;
//!     call.http_response(status, None).annotate("order", order.as_str());
//!     Ok(())
//! }
//! ```

mod cause;
mod document;
mod emitter;
mod layer;
mod scalar;
#[cfg(feature = "xray-sdk")]
pub mod sdk;
mod segment;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use crate::base::trace_header::{HeaderError, Sampled, TraceHeader};
pub use crate::base::trace_id::{IdError, SegmentId, TraceId};
pub use layer::XrayLayer;
pub use scalar::Scalar;
pub use segment::{Subsegment, capture, capture_result, capture_sync};

pub(crate) use crate::base::trace_header::{from_lambda as header_from_lambda, may_be_sampled};
pub(crate) use cause::{HEADER as ERROR_CAUSE_HEADER, for_invocation as error_cause};

use document::Record;
use emitter::Emitter;

tokio::task_local! {
    /// The trace of the invocation in flight, and the subsegment new ones nest under.
    static CURRENT: Option<Trace>;
}

/// The trace of the invocation in flight, as seen from the current task: the header Lambda
/// passed, and the subsegment in progress here.
///
/// Get one with [`current`]; it is cheap to clone and can be moved to another task or thread.
#[derive(Clone)]
pub struct Trace {
    shared: Arc<Shared>,
    parent: Option<SegmentId>,
}

/// What every task of one invocation shares.
pub(crate) struct Shared {
    /// The header as Lambda sent it, shared with the invocation's `Context`.
    raw: Arc<str>,
    /// Parsed on first use when not recording, so an unsampled invocation that never asks for
    /// its header does not pay for parsing it; `None` inside when it is malformed.
    parsed: OnceLock<Option<TraceHeader>>,
    /// Present when the invocation is sampled and names the function's segment.
    recording: Option<Recording>,
}

thread_local! {
    /// The last invocation's `Shared`, kept for the next one on this thread when nothing else
    /// holds it: one allocation and one free less on every invocation with a trace header,
    /// which Lambda sends with every invocation.
    static SPARE: std::cell::Cell<Option<Arc<Shared>>> = const { std::cell::Cell::new(None) };
}

impl Shared {
    /// A `Shared` for a new invocation, in the spare allocation when there is one.
    fn new(
        raw: Arc<str>,
        parsed: OnceLock<Option<TraceHeader>>,
        recording: Option<Recording>,
    ) -> Arc<Self> {
        let fresh = Shared {
            raw,
            parsed,
            recording,
        };
        match SPARE.take() {
            Some(mut spare) => match Arc::get_mut(&mut spare) {
                Some(slot) => {
                    *slot = fresh;
                    spare
                }
                None => Arc::new(fresh),
            },
            None => Arc::new(fresh),
        }
    }

    /// Offers an invocation's `Shared` for the next invocation, once the invocation is over.
    fn keep_spare(shared: Arc<Self>) {
        if Arc::strong_count(&shared) == 1 {
            SPARE.set(Some(shared));
        }
    }

    /// The parsed header; `None` when it is malformed.
    fn header(&self) -> Option<&TraceHeader> {
        match &self.recording {
            Some(recording) => Some(&*recording.header),
            None => self
                .parsed
                .get_or_init(|| crate::base::trace_header::from_lambda(Some(&self.raw)))
                .as_ref(),
        }
    }
}

pub(crate) struct Recording {
    header: Arc<TraceHeader>,
    function_segment: SegmentId,
    /// One clock reading per invocation, taken when the first time is needed (an invocation
    /// that records nothing reads no clock): every time is that wall-clock reading plus a
    /// monotonic offset, so a child never starts before its parent even if the wall clock steps.
    clock: OnceLock<(f64, Instant)>,
    done: Mutex<Vec<Record>>,
    flushed: AtomicBool,
    /// Where documents go; `None`: the process's daemon (or the SDK exporter).
    emitter: Option<&'static Emitter>,
}

impl Recording {
    fn now(&self) -> f64 {
        let (epoch, started) = self.clock.get_or_init(|| {
            let epoch = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            (epoch, Instant::now())
        });
        epoch + started.elapsed().as_secs_f64()
    }

    /// Sends datagrams outside the flush at the end of the invocation (a subsegment that ended
    /// after it): to the daemon only, as nothing may be awaited here.
    fn send_now(&self, datagrams: &[Vec<u8>]) {
        let emitter = self.emitter.unwrap_or_else(Emitter::global);
        for datagram in datagrams {
            emitter.send(datagram);
        }
    }
}

impl Trace {
    /// The trace for an invocation with this header; `None` without one, or with a malformed
    /// one that says `Sampled=1`.
    pub(crate) fn for_invocation(
        raw: Option<&Arc<str>>,
        parsed: Option<&Arc<TraceHeader>>,
        emitter: Option<&'static Emitter>,
    ) -> Option<Self> {
        let raw = raw?;
        // Without the sampled flag the parse can wait until (and unless) someone asks for the
        // header: what nearly every invocation on Lambda (`Sampled=0`) gets.
        if !crate::base::trace_header::may_be_sampled(raw) {
            return Some(Trace {
                shared: Shared::new(Arc::clone(raw), OnceLock::new(), None),
                parent: None,
            });
        }
        // The context's parse when there is one (see `Context::sampled_trace`).
        let header = match parsed {
            Some(header) => Arc::clone(header),
            None => Arc::new(crate::base::trace_header::from_lambda(Some(raw))?),
        };
        let (recording, parsed) = match header.parent() {
            Some(function_segment) if header.is_sampled() => (
                Some(Recording {
                    header,
                    function_segment,
                    clock: OnceLock::new(),
                    done: Mutex::new(Vec::new()),
                    flushed: AtomicBool::new(false),
                    emitter,
                }),
                OnceLock::new(),
            ),
            _ => (None, OnceLock::from(Some(TraceHeader::clone(&header)))),
        };
        Some(Trace {
            shared: Shared::new(Arc::clone(raw), parsed, recording),
            parent: None,
        })
    }

    /// The header Lambda passed for this invocation.
    pub fn header(&self) -> &TraceHeader {
        // A `Trace` reaches users only through `current()`, which hands out none whose header is
        // malformed.
        self.shared
            .header()
            .expect("current() hands out only traces with a valid header")
    }

    /// The header to send with an outgoing call from here: `Parent` is the subsegment in
    /// progress (the function's segment when there is none). For an unsampled invocation this is
    /// the header as received, so the callee does not record either.
    pub fn forward(&self) -> TraceHeader {
        match (self.parent, &self.shared.recording) {
            (Some(parent), Some(recording)) => recording.header.with_parent(parent),
            _ => self.header().clone(),
        }
    }

    /// Whether subsegments are recorded: the header says `Sampled=1` and names a parent.
    pub fn is_recording(&self) -> bool {
        self.shared.recording.is_some()
    }

    /// Starts a subsegment under the one in progress where this `Trace` was taken.
    pub fn subsegment(&self, name: impl Into<String>) -> Subsegment {
        Subsegment::start(&self.shared, self.parent, name)
    }

    /// Runs `future` inside this trace: what [`current`] and [`Subsegment::new`] see there.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(Some(self), future).await
    }

    /// The datagrams of the invocation's finished subsegments, taken once; subsegments that end
    /// later are sent as they end.
    fn take_datagrams(&self) -> Option<(&Recording, Vec<Vec<u8>>)> {
        let recording = self.shared.recording.as_ref()?;
        let records = {
            let mut done = recording.done.lock().unwrap_or_else(|p| p.into_inner());
            if recording.flushed.swap(true, Ordering::AcqRel) {
                return None;
            }
            std::mem::take(&mut *done)
        };
        if records.is_empty() {
            return None;
        }
        let mut datagrams = Vec::with_capacity(records.len());
        document::documents(&recording.header, records, &mut datagrams);
        Some((recording, datagrams))
    }

    /// Sends the invocation's finished subsegments.
    async fn flush(&self) {
        let Some((recording, datagrams)) = self.take_datagrams() else {
            return;
        };
        #[cfg(feature = "xray-sdk")]
        if recording.emitter.is_none() {
            if let Some(exporter) = sdk::installed() {
                exporter.export(&datagrams).await;
                return;
            }
        }
        recording.send_now(&datagrams);
    }
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("header", &self.shared.raw)
            .field("parent", &self.parent)
            .finish()
    }
}

/// The trace of the invocation in flight on this task, with the subsegment in progress; `None`
/// outside an invocation, in a task spawned without [`propagate`], or when the invocation has no
/// (valid) trace header.
///
/// ```no_run
/// # async fn example() {
/// if let Some(trace) = lamina::xray::current() {
///     let value = trace.forward().to_string(); // the `X-Amzn-Trace-Id` of an outgoing call
/// }
/// # }
/// ```
pub fn current() -> Option<Trace> {
    in_flight().filter(|trace| trace.shared.header().is_some())
}

/// The task's trace as set, without parsing a header that was not parsed yet: for carrying it
/// on, where [`current`] is for handing it out.
pub(crate) fn in_flight() -> Option<Trace> {
    CURRENT.try_with(Clone::clone).ok().flatten()
}

/// Wraps `future` so it runs inside the current trace, wherever it is polled: for
/// `tokio::spawn`, whose tasks do not inherit the spawner's.
///
/// ```no_run
/// # async fn work() {}
/// # async fn example() {
/// tokio::spawn(lamina::xray::propagate(async {
///     let _s = lamina::xray::Subsegment::new("background step"); // nests as if not spawned
///     work().await
/// }));
/// # }
/// ```
pub fn propagate<F: Future>(future: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(in_flight(), future)
}

/// Runs one invocation's future inside its trace (from the context's header), then sends its
/// subsegments. Called by the handler wrapper, so in layer mode this runs in the handler's
/// library, next to the subsegments it records.
pub(crate) fn invocation<F: Future>(
    context: &crate::Context,
    future: F,
) -> impl Future<Output = F::Output> {
    invocation_to(
        context.shared_trace_header(),
        context.sampled_trace(),
        None,
        future,
    )
}

pub(crate) fn invocation_to<F: Future>(
    trace_header: Option<&Arc<str>>,
    parsed: Option<&Arc<TraceHeader>>,
    emitter: Option<&'static Emitter>,
    future: F,
) -> impl Future<Output = F::Output> {
    let trace = Trace::for_invocation(trace_header, parsed, emitter);
    async move {
        let mut unwinding = FlushOnDrop(trace.clone());
        let output = CURRENT.scope(trace.clone(), future).await;
        unwinding.0 = None;
        if let Some(trace) = trace {
            trace.flush().await;
            Shared::keep_spare(trace.shared);
        }
        output
    }
}

/// Sends what a handler that panicked (under `panic = "unwind"`) had recorded, to the daemon:
/// the subsegments up to the panic are often the ones that explain it.
struct FlushOnDrop(Option<Trace>);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        if let Some((recording, datagrams)) = self.0.as_ref().and_then(Trace::take_datagrams) {
            recording.send_now(&datagrams);
        }
    }
}

#[cfg(test)]
mod tests;
