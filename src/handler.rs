//! The one form the invoke loop knows a handler by: JSON bytes in, JSON bytes out.
//!
//! Bin mode wraps the user's typed `async fn` in [`TypedHandler`]; layer mode will wrap a function
//! table loaded from a shared library. Everything after decoding is shared by both.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::os::fd::RawFd;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::deadline::DeadlineGuard;
use crate::error::{Error, EventError, IntoError, ResponseError, short_type_name};
use crate::json;
use crate::logging;
use crate::trace_env::TraceEnv;

/// Where one invocation's response goes: a buffer for a response sent whole (the usual JSON
/// document), and, where the caller can take one, a stream the handler writes as it goes.
pub struct Reply<'a> {
    /// The response sent whole, written here unless the stream was opened.
    pub(crate) body: &'a mut Vec<u8>,
    /// The streamed response; `None` where the caller takes responses whole only.
    pub(crate) stream: Option<&'a mut dyn StreamTarget>,
}

impl<'a> Reply<'a> {
    /// A reply that can only be sent whole.
    pub(crate) fn whole(body: &'a mut Vec<u8>) -> Self {
        Reply { body, stream: None }
    }

    /// A reply that may be streamed to `stream`.
    pub(crate) fn streamed(body: &'a mut Vec<u8>, stream: &'a mut dyn StreamTarget) -> Self {
        Reply {
            body,
            stream: Some(stream),
        }
    }
}

/// The `errorType` of an invocation whose stream the Runtime API closed.
pub(crate) const CLOSED_ERROR_TYPE: &str = "Runtime.StreamClosed";

/// Where a streamed response's bytes go: the Runtime API (through the loader, in layer mode), or
/// stdout for a local invocation.
pub(crate) trait StreamTarget {
    /// Starts the response; returns the socket it is written on, for the panic hook's trailers.
    fn open(&mut self, content_type: &str) -> std::io::Result<Option<RawFd>>;
    /// Sends the next pieces, in order; blocks while the reader is behind (back-pressure).
    fn write(&mut self, pieces: &[&[u8]]) -> std::io::Result<()>;
}

/// A handler in erased form.
pub trait Handler {
    /// Handles one invocation: `event` is the payload as received; the response goes to
    /// `reply`, whose buffer arrives empty.
    ///
    /// # Errors
    /// The error to report for this invocation.
    fn call(&mut self, event: &[u8], context: &Context, reply: &mut Reply<'_>)
    -> Result<(), Error>;

    /// The builder of one more handler for the same function, for a worker thread serving
    /// invocations beside this one (`AWS_LAMBDA_MAX_CONCURRENCY` > 1). The builder runs on that
    /// thread; its handler shares this one's state and has its own tokio runtime.
    ///
    /// `None`, or a builder that returns `Ok(None)`, when the function cannot be served from
    /// several threads: its state is not `Sync`.
    fn fork(&self) -> Option<Fork> {
        None
    }

    /// Called between invocations, once the loop has asked `/next` and waits for its answer on
    /// `socket`: runs the tasks left on the handler's tokio runtime (a refresher `init` spawned,
    /// a flush a handler left behind) until the socket is readable. Returns at once when there
    /// are none, so a function that spawns nothing pays one load per invocation.
    fn until_readable(&mut self, socket: RawFd) {
        let _ = socket;
    }

    /// Whether this handler may stream its responses. `false` lets the loop leave the streaming
    /// path out of a function that never streams: the answer is a constant for a concrete
    /// handler type, so the code behind it is not even linked.
    fn streams(&self) -> bool {
        false
    }
}

/// What [`Handler::fork`] returns: sent to a worker thread, which calls it to build its handler.
pub type Fork = Box<dyn FnOnce() -> Result<Option<Box<dyn Handler>>, Error> + Send>;

impl<H: Handler + ?Sized> Handler for Box<H> {
    fn call(
        &mut self,
        event: &[u8],
        context: &Context,
        reply: &mut Reply<'_>,
    ) -> Result<(), Error> {
        (**self).call(event, context, reply)
    }

    fn fork(&self) -> Option<Fork> {
        (**self).fork()
    }

    fn until_readable(&mut self, socket: RawFd) {
        (**self).until_readable(socket);
    }

    fn streams(&self) -> bool {
        (**self).streams()
    }
}

/// How a handler's state `S` reaches another thread: only when `S: Sync`, which the macro knows
/// at the handler's definition (where `S` is a concrete type) and the generic code behind it does
/// not. The state crosses as a `Box<dyn Any + Send>` that the worker thread downcasts back.
pub struct Share<S: 'static>(Option<fn(&'static S) -> Packed>);

/// A state reference on its way to another thread.
type Packed = Box<dyn Any + Send>;

impl<S: 'static> Share<S> {
    /// The state may be borrowed from any thread.
    pub fn sync() -> Self
    where
        S: Sync,
    {
        Share(Some(|state| Box::new(state)))
    }

    /// The state stays on the thread that built it.
    pub fn not_sync() -> Self {
        Share(None)
    }

    pub(crate) fn pack(&self, state: &'static S) -> Option<Packed> {
        self.0.map(|pack| pack(state))
    }
}

impl<S: 'static> Clone for Share<S> {
    fn clone(&self) -> Self {
        Share(self.0)
    }
}

/// The state [`Share::pack`] packed, on the worker thread.
fn unpack<S: 'static>(packed: Packed) -> Result<&'static S, Error> {
    packed
        .downcast::<&'static S>()
        .map(|state| *state)
        .map_err(|_| Error::new("Runtime.WorkerInit", "the shared state has another type"))
}

/// What a worker thread builds its handler with: its own runtime, the shared state, and the
/// user's function.
pub(crate) type Build<S, F> =
    fn(TaskRuntime, &'static S, Share<S>, F) -> Result<Box<dyn Handler>, Error>;

/// [`Handler::fork`] for a handler made of a runtime, a state and the user's function: `None`
/// when the state cannot be shared, else a builder that gives the worker its own runtime.
pub(crate) fn fork_with<S: 'static, F: Clone + Send + 'static>(
    share: &Share<S>,
    state: &'static S,
    handler: &F,
    build: Build<S, F>,
) -> Option<Fork> {
    let state = share.pack(state)?;
    let share = share.clone();
    let handler = handler.clone();
    Some(Box::new(move || {
        let runtime = TaskRuntime::new().map_err(tokio_error)?;
        build(runtime, unpack::<S>(state)?, share, handler).map(Some)
    }))
}

/// What a handler's `async fn` may return: `Result<R, E>` with `R:` [`Respond`] and
/// `E:` [`IntoError`](crate::error::IntoError).
#[diagnostic::on_unimplemented(
    message = "a lamina handler must return `Result<R, E>`, not `{Self}`",
    label = "this return type",
    note = "`R` is the response (any `serde::Serialize` type, or `lamina::stream::Body` to stream) and `E` any error that converts into `lamina::Error`"
)]
pub trait Outcome {
    /// The response type.
    type Response: Respond;
    /// Converts into lamina's result.
    fn into_result(self) -> Result<Self::Response, Error>;
}

/// What a handler's response can be: any `serde::Serialize` value, sent whole as JSON, or (with
/// the `stream` feature) a `lamina::stream::Body`, streamed as it is produced.
pub trait Respond {
    /// Whether the response is streamed.
    #[doc(hidden)]
    const STREAMS: bool = false;

    /// Sends the response to `reply`, inside the invocation's future (a stream is read there).
    #[doc(hidden)]
    fn respond(self, reply: &mut Reply<'_>) -> impl Future<Output = Result<(), Error>>;
}

impl<T: Serialize> Respond for T {
    async fn respond(self, reply: &mut Reply<'_>) -> Result<(), Error> {
        encode(&self, reply.body)
    }
}

impl<R: Respond, E: IntoError> Outcome for Result<R, E> {
    type Response = R;
    fn into_result(self) -> Result<R, Error> {
        self.map_err(IntoError::into_error)
    }
}

/// The tokio runtime a handler runs on, which never waits for its tasks when dropped.
///
/// It is dropped only on the way out: after an init error (before that error is posted), on a
/// Runtime API failure, when a local invocation ends. A plain `Runtime` would wait there, without
/// limit, for every `spawn_blocking` task still running (a model still loading, say), so the
/// init error would reach Lambda only when the task ended, or never (Lambda then reports an init
/// timeout instead). The process is about to end, which stops those tasks anyway.
pub(crate) struct TaskRuntime {
    runtime: Option<tokio::runtime::Runtime>,
    metrics: tokio::runtime::RuntimeMetrics,
}

impl TaskRuntime {
    /// A current-thread runtime with I/O and timers.
    pub(crate) fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(TaskRuntime {
            metrics: runtime.metrics(),
            runtime: Some(runtime),
        })
    }

    /// Runs one invocation's future to completion under the deadline guard, with X-Ray's trace
    /// set around it and its subsegments sent when it returns, here on the handler's side (in
    /// layer mode, inside the handler's library).
    ///
    /// The guard's wrapper is used only when the guard is on: its timer makes every invocation's
    /// future larger to move.
    pub(crate) fn run_invocation<F: Future>(
        &self,
        deadline: DeadlineGuard,
        context: &Context,
        invocation: F,
    ) -> Result<F::Output, Error> {
        if deadline.is_on() {
            let guarded = deadline.run(context, invocation);
            self.block_on(crate::xray::invocation(context, guarded))
        } else {
            Ok(self.block_on(crate::xray::invocation(context, invocation)))
        }
    }

    /// Runs this runtime's tasks, if it has any, until `socket` is readable (see
    /// [`Handler::until_readable`]).
    ///
    /// The wait for the socket runs on the runtime's blocking pool, so this thread drives the
    /// tasks meanwhile; with no task alive the loop reads the socket at once, as before.
    pub(crate) fn run_until_readable(&self, socket: RawFd) {
        let Some(runtime) = &self.runtime else { return };
        if self.metrics.num_alive_tasks() == 0 {
            return;
        }
        let readable = runtime.spawn_blocking(move || wait_readable(socket));
        // A failed wait (the pool is shutting down) leaves the read to find out.
        let _ = self.block_on(readable);
    }

    /// Runs `future` to completion on this thread.
    pub(crate) fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        match &self.runtime {
            Some(runtime) => runtime.block_on(future),
            // Only `drop` takes the runtime out.
            None => unreachable!("the runtime is used after it was dropped"),
        }
    }
}

/// Blocks until `socket` is readable, closed or failed.
fn wait_readable(socket: RawFd) {
    let mut poll = libc::pollfd {
        fd: socket,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid `pollfd`; the socket stays open while the loop waits on this call.
    #[allow(unsafe_code)]
    while unsafe { libc::poll(&mut poll, 1, -1) } < 0
        && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
    {}
}

impl Drop for TaskRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The error for a tokio runtime that could not be built.
pub(crate) fn tokio_error(err: std::io::Error) -> Error {
    Error::with_type("Runtime.TokioInit", err)
}

/// The user's `async fn(E, Context, &S)`, run on a tokio runtime built in the INIT phase.
pub(crate) struct TypedHandler<S: 'static, F, E> {
    runtime: TaskRuntime,
    state: &'static S,
    share: Share<S>,
    handler: F,
    deadline: DeadlineGuard,
    /// `_X_AMZN_TRACE_ID`, owned by this side: see [`crate::trace_env`].
    trace_env: TraceEnv,
    event: PhantomData<fn(E)>,
}

impl<S: 'static, F, E> TypedHandler<S, F, E> {
    /// Fails on a malformed `LAMINA_DEADLINE_MARGIN_MS`.
    pub(crate) fn new(
        runtime: TaskRuntime,
        state: &'static S,
        share: Share<S>,
        handler: F,
    ) -> Result<Self, Error> {
        Ok(TypedHandler {
            runtime,
            state,
            share,
            handler,
            deadline: DeadlineGuard::from_env()?,
            trace_env: TraceEnv::new(),
            event: PhantomData,
        })
    }
}

impl<S, F, E, Fut> Handler for TypedHandler<S, F, E>
where
    S: 'static,
    F: Fn(E, Context, &'static S) -> Fut + Clone + Send + 'static,
    Fut: Future,
    Fut::Output: Outcome,
    E: DeserializeOwned + 'static,
{
    fn until_readable(&mut self, socket: RawFd) {
        self.runtime.run_until_readable(socket);
    }

    fn streams(&self) -> bool {
        <<Fut::Output as Outcome>::Response as Respond>::STREAMS
    }

    fn fork(&self) -> Option<Fork> {
        fork_with(
            &self.share,
            self.state,
            &self.handler,
            |runtime, state, share, handler| {
                let handler = TypedHandler::<S, F, E>::new(runtime, state, share, handler)?;
                Ok(Box::new(handler))
            },
        )
    }

    fn call(
        &mut self,
        event: &[u8],
        context: &Context,
        reply: &mut Reply<'_>,
    ) -> Result<(), Error> {
        // The handler side's own scope: in layer mode this copy of lamina, not the loop's, holds
        // the lines the user's code logs, and writes them out when it is dropped, before the
        // loop posts the outcome.
        let _logs = logging::Invocation::enter(context);
        // Set here, not by the loop: in layer mode only this copy of std may write the
        // environment the handler's threads read (see `crate::trace_env`).
        self.trace_env.update(context.xray_trace_header());
        let event = decode_logged::<E>(event)?;
        let call = (self.handler)(event, context.clone(), self.state);
        let invocation = async { call.await.into_result()?.respond(reply).await };
        self.runtime
            .run_invocation(self.deadline, context, invocation)?
    }
}

/// [`decode`], logging a failure without the event's values.
pub(crate) fn decode_logged<E: DeserializeOwned>(bytes: &[u8]) -> Result<E, Error> {
    decode::<E>(bytes).inspect_err(|err| {
        // Logged here, on the side that decoded, because only here is serde's error still a
        // value whose payload quotes can be cut out (in layer mode the loop sees text).
        if let Error::InvalidEvent(e) = err {
            tracing::error!(
                error_type = err.error_type(),
                "invocation failed: {}",
                e.without_values()
            );
        }
    })
}

/// Decodes an event. An empty payload (an invoke without one) reads as JSON `null`, so
/// `Option<T>` and `()` events accept it.
///
/// The fast path is [`json::from_slice_fast`]; only a failure pays for `serde_json` and then a
/// pass that tracks the JSON path, so the error can say where the event went wrong.
pub(crate) fn decode<E: DeserializeOwned>(bytes: &[u8]) -> Result<E, Error> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        bytes
    };
    if let Some(event) = json::from_slice_fast(bytes) {
        return Ok(event);
    }
    serde_json::from_slice(bytes).map_err(|first| {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let (path, source) = match serde_path_to_error::deserialize::<_, E>(&mut de) {
            Err(tracked) => (tracked.path().to_string(), tracked.into_inner()),
            // Only trailing data fails `from_slice` but not the tracked pass.
            Ok(_) => (".".to_owned(), first),
        };
        Error::InvalidEvent(EventError::new(short_type_name::<E>(), path, source))
    })
}

pub(crate) fn encode<R: Serialize>(value: &R, out: &mut Vec<u8>) -> Result<(), Error> {
    json::to_writer(out, value)
        .map_err(|e| Error::InvalidResponse(ResponseError::new(short_type_name::<R>(), e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Order {
        id: String,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        sku: String,
        qty: u32,
    }

    fn event_error(json: &str) -> (String, String) {
        match decode::<Order>(json.as_bytes()).unwrap_err() {
            Error::InvalidEvent(e) => (e.path().to_owned(), e.to_string()),
            other => panic!("not an event error: {other:?}"),
        }
    }

    #[test]
    fn decode_errors_name_the_json_path() {
        let (path, message) =
            event_error(r#"{"id":"o1","items":[{"sku":"a","qty":1},{"sku":"b","qty":"two"}]}"#);
        assert_eq!(path, "items[1].qty");
        assert_eq!(
            message,
            "the event does not match `Order` at `items[1].qty`: invalid type: string \"two\", expected u32 at line 1 column 62"
        );
        let (path, _) = event_error(r#"{"items":[]}"#);
        assert_eq!(path, ".");
    }

    #[test]
    fn syntax_errors_say_it_is_not_json() {
        let (_, message) = event_error(r#"{"id": "#);
        assert_eq!(
            message,
            "the event is not valid JSON (EOF while parsing a value at line 1 column 7); send a JSON document"
        );
        let (path, _) = event_error(r#"{"id":"o","items":[]} trailing"#);
        assert_eq!(path, ".");
    }

    #[test]
    fn empty_payload_reads_as_null() {
        assert_eq!(decode::<Option<u8>>(b"").unwrap(), None);
        assert_eq!(decode::<Option<u8>>(b" \n").unwrap(), None);
        decode::<()>(b"").unwrap();
        assert_eq!(
            decode::<Order>(b"").unwrap_err().error_type(),
            "Runtime.InvalidEvent"
        );
    }

    #[test]
    fn unencodable_responses_are_errors() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        let err = encode(&map, &mut Vec::new()).unwrap_err();
        assert_eq!(err.error_type(), "Runtime.InvalidResponse");
        assert!(
            err.message().contains("key must be a string"),
            "{}",
            err.message()
        );
    }
}
