//! How the user's typed `async fn` runs as a [`Handler`]: the tokio runtime it runs on, built
//! once in INIT (and once per worker), the deadline guard and X-Ray around each invocation, and
//! the event decoded with its failure logged.

use std::future::Future;
use std::marker::PhantomData;
use std::os::fd::RawFd;

use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::Error;
use crate::handler::{Fork, Handler, Outcome, Packed, Reply, Respond, Share, decode};
use crate::logging;
use crate::runtime::deadline::DeadlineGuard;
use crate::runtime::trace_env::TraceEnv;

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
    /// `_X_AMZN_TRACE_ID`, owned by this side: see [`crate::runtime::trace_env`].
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
        // environment the handler's threads read (see `crate::runtime::trace_env`).
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
