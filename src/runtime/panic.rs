//! Panics in user code: an invocation error under `panic = "unwind"`, and still reported before
//! the process dies under `panic = "abort"` (the profile `cargo lambda build --release` injects).
//!
//! Under `abort` nothing can be caught, so the panic hook itself posts the error for the
//! invocation in flight (or the init error) on a fresh connection, with a short timeout, before
//! returning to let the process abort. Without that the caller would wait for the function's
//! timeout. This is the one piece of per-invocation state on a global: a panic hook has no other
//! way to learn which invocation it interrupts.
//!
//! With several invocations in flight (`AWS_LAMBDA_MAX_CONCURRENCY`, one per worker thread), the
//! panicking thread's invocation gets the panic, and every other one in flight gets a
//! `Runtime.ProcessAborted` error naming it: the abort ends them all, and none is left for the
//! caller to wait out. A panic on a thread with no invocation of its own (a blocking task) is
//! the invocation's when only one is in flight. An invocation another worker receives while the
//! report is posted, or within [`LATE_GRACE`] after it, is failed the same way by that worker,
//! which then runs nothing; the process aborts after the grace. A worker whose handler returns in
//! that time posts nothing: its invocation was in flight when the report was posted, so it has its
//! error already.
//!
//! Only the first panic is reported. A thread that panics while another's report is being posted
//! waits for it (bounded) instead of returning to abort the process under that report.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ops::{Deref, DerefMut};
use std::os::fd::RawFd;
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::sync::{Mutex, MutexGuard, Once, TryLockError};
use std::time::{Duration, Instant};

use crate::base::endpoint::Endpoint;
use crate::error::{Error, PanicError};
use crate::logging;
use crate::runtime::api::{Delivery, RuntimeApi};

/// How long the dying process waits for the Runtime API to take its report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a panicking thread waits for another thread's report to be posted. That report
/// usually takes a millisecond; this bounds the rare one that meets a slow or dropped connection
/// (each read and write has `REPORT_TIMEOUT`, and a failed connection is retried).
const REPORT_WAIT: Duration = Duration::from_secs(10);
/// With several workers, how long the reporting thread waits before the abort, so an invocation
/// another worker has just received (its `/next` answered as the panic struck) is failed too.
const LATE_GRACE: Duration = Duration::from_millis(50);

thread_local! {
    /// The latest panic on this thread, kept by the hook for the `catch_unwind` that will see
    /// only the payload.
    static LAST_PANIC: RefCell<Option<LastPanic>> = const { RefCell::new(None) };
    /// Whether this thread holds `IN_FLIGHT`: its panic hook must not wait for the lock.
    static HOLDS_IN_FLIGHT: Cell<bool> = const { Cell::new(false) };
    /// This thread's slot in `IN_FLIGHT.invocations`, once it has run an invocation.
    static SLOT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// What the hook saw of a panic: its message and location.
struct LastPanic {
    /// The payload's text, then ` at file:line:column`.
    described: String,
    /// How much of `described` is the payload's text: what ties it to the payload `catch` gets.
    text_len: usize,
}

/// What the hook reports under `panic = "abort"`.
static IN_FLIGHT: Mutex<InFlight> = Mutex::new(InFlight {
    endpoint: None,
    phase: Phase::Idle,
    invocations: Vec::new(),
    reported: String::new(),
});

struct InFlight {
    endpoint: Option<Endpoint>,
    phase: Phase,
    /// One slot per thread that has run an invocation; its strings are reused.
    invocations: Vec<Running>,
    /// What the reported panic said, for an invocation that arrives after it.
    reported: String,
}

/// One worker thread's invocation.
#[derive(Default)]
struct Running {
    busy: bool,
    request_id: String,
    invocation_id: String,
    trace_header: String,
    /// The socket of the invocation's streamed response, once it has begun.
    stream: Option<RawFd>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Invocations (if any are `busy`) or nothing.
    Idle,
    Init,
    /// A panic was reported (or its report failed): the process is ending, and a later panic
    /// must not post a second outcome.
    Reported,
}

/// `IN_FLIGHT`, locked by this thread.
struct Held(MutexGuard<'static, InFlight>);

impl Held {
    fn new(guard: MutexGuard<'static, InFlight>) -> Self {
        HOLDS_IN_FLIGHT.set(true);
        Held(guard)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        HOLDS_IN_FLIGHT.set(false);
    }
}

impl Deref for Held {
    type Target = InFlight;
    fn deref(&self) -> &InFlight {
        &self.0
    }
}

impl DerefMut for Held {
    fn deref_mut(&mut self) -> &mut InFlight {
        &mut self.0
    }
}

/// Installs lamina's panic hook once, in front of the existing one (which still prints).
pub(crate) fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text_len = payload_text(info.payload()).len();
            let message = describe(info);
            LAST_PANIC.with(|last| {
                *last.borrow_mut() = Some(LastPanic {
                    described: message.clone(),
                    text_len,
                });
            });
            previous(info);
            if cfg!(panic = "abort") {
                // The invocation's lines first: they go out before its error is posted, and
                // the report's own lines after it, before the process ends.
                logging::flush_before_abort();
                report_before_abort(message);
                logging::flush_before_abort();
            }
        }));
    });
}

/// Runs `f`, turning a panic into [`Error::Panic`].
///
/// The hook's message is used only if it is about the payload caught here: `resume_unwind`
/// does not run the hook, so after a panic that user code caught, the hook's message is stale.
pub(crate) fn catch<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    // A panic caught (and kept quiet) before this call must not name one inside it.
    LAST_PANIC.with(|last| last.borrow_mut().take());
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let text = payload_text(&*payload);
            let message = LAST_PANIC
                .with(|last| last.borrow_mut().take())
                .filter(|last| last.described.get(..last.text_len) == Some(text))
                .map_or_else(|| text.to_owned(), |last| last.described);
            Err(Error::Panic(PanicError::new(message)))
        }
    }
}

/// Under `panic = "abort"`, tells the hook that init is running against `endpoint`.
pub(crate) fn enter_init(endpoint: &Endpoint) {
    if cfg!(panic = "abort") {
        let mut in_flight = lock();
        in_flight.endpoint = Some(endpoint.clone());
        in_flight.phase = Phase::Init;
    }
}

/// Under `panic = "abort"`, tells the hook which invocation this thread is running.
pub(crate) fn enter_invocation(context: &crate::Context) {
    if cfg!(panic = "abort") {
        let mut in_flight = lock();
        let slot = match SLOT.get() {
            Some(slot) => slot,
            None => {
                in_flight.invocations.push(Running::default());
                let slot = in_flight.invocations.len() - 1;
                SLOT.set(Some(slot));
                slot
            }
        };
        if in_flight.phase == Phase::Reported {
            fail_late(&in_flight, context);
            // This worker must not start the handler.
            wait_for_the_abort(in_flight);
        }
        let running = &mut in_flight.invocations[slot];
        running.busy = true;
        running.stream = None;
        for (field, value) in [
            (&mut running.request_id, context.request_id()),
            (
                &mut running.invocation_id,
                context.invocation_id.get().unwrap_or(""),
            ),
            // Only a sampled invocation's error gets an X-Ray cause, which needs the header.
            (
                &mut running.trace_header,
                match context.sampled_trace() {
                    Some(trace) if trace.is_sampled() => context.xray_trace_header().unwrap_or(""),
                    _ => "",
                },
            ),
        ] {
            field.clear();
            field.push_str(value);
        }
    }
}

/// Under `panic = "abort"`, tells the hook that this thread runs no user code.
///
/// After a panic's report it never returns: whatever this thread was running got its outcome from
/// the report, and the process aborts within [`LATE_GRACE`].
pub(crate) fn leave() {
    if cfg!(panic = "abort") {
        let mut in_flight = lock();
        match in_flight.phase {
            Phase::Init => in_flight.phase = Phase::Idle,
            Phase::Reported => wait_for_the_abort(in_flight),
            Phase::Idle => {}
        }
        if let Some(slot) = SLOT.get() {
            in_flight.invocations[slot].busy = false;
            in_flight.invocations[slot].stream = None;
        }
    }
}

/// Parks this thread for good after a panic's report: the reporting thread aborts the process
/// within [`LATE_GRACE`], and nothing this thread could post would be right any more.
fn wait_for_the_abort(in_flight: Held) -> ! {
    drop(in_flight);
    loop {
        std::thread::park();
    }
}

#[cfg(any(feature = "stream", feature = "http"))]
/// Under `panic = "abort"`, tells the hook that this thread's invocation now streams its
/// response on `socket`: a panic then ends that stream with error trailers, since `/error` is
/// closed to an invocation whose response has begun.
pub(crate) fn stream_opened(socket: Option<RawFd>) {
    if cfg!(panic = "abort") {
        let mut in_flight = lock();
        if let Some(slot) = SLOT.get() {
            in_flight.invocations[slot].stream = socket;
        }
    }
}

fn lock() -> Held {
    Held::new(
        IN_FLIGHT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    )
}

/// Locks `IN_FLIGHT` for a report, waiting up to `REPORT_WAIT` for another thread's report.
fn lock_for_report() -> Option<Held> {
    let deadline = Instant::now() + REPORT_WAIT;
    loop {
        match IN_FLIGHT.try_lock() {
            Ok(guard) => return Some(Held::new(guard)),
            Err(TryLockError::Poisoned(poisoned)) => return Some(Held::new(poisoned.into_inner())),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => return None,
        }
    }
}

fn report_before_abort(message: String) {
    // A panic on the thread that holds the lock (inside lamina's own bookkeeping) must not
    // deadlock the dying process; what the lock guards may be half-written anyway. (A panic
    // inside this very report never gets here: std aborts a panic in a panic hook at once.)
    if HOLDS_IN_FLIGHT.get() {
        return;
    }
    // Returning would abort the process, and with it a report another thread is posting.
    let Some(mut in_flight) = lock_for_report() else {
        tracing::error!("another panic's report is still being posted; the process aborts");
        return;
    };
    let busy = in_flight.invocations.iter().filter(|r| r.busy).count();
    match in_flight.phase {
        Phase::Idle if busy == 0 => return,
        Phase::Reported => {
            // The thread whose panic was reported is about to end the process; aborting here
            // could still cut off its last log lines.
            drop(in_flight);
            std::thread::sleep(REPORT_WAIT);
            return;
        }
        Phase::Init | Phase::Idle => {}
    }
    let Some(endpoint) = in_flight.endpoint.clone() else {
        return;
    };
    let phase = std::mem::replace(&mut in_flight.phase, Phase::Reported);
    let mut api = RuntimeApi::with_timeout(endpoint, Some(REPORT_TIMEOUT));
    if phase == Phase::Init {
        let error = Error::Panic(PanicError::new(message)).into_init_error();
        log_report(api.fail_init(&error));
        return;
    }
    let own = SLOT
        .get()
        .filter(|&slot| in_flight.invocations[slot].busy)
        .or_else(|| {
            // A thread of no invocation (a blocking task, a thread the handler started): the
            // panic is the invocation's when there is only one.
            (busy == 1)
                .then(|| in_flight.invocations.iter().position(|r| r.busy))
                .flatten()
        });
    let panicked = own.map(|slot| in_flight.invocations[slot].request_id.clone());
    in_flight.reported = format!(
        "{} panicked under panic = \"abort\" ({message})",
        match &panicked {
            Some(id) => format!("invocation {id}"),
            None => "a thread of no invocation".to_owned(),
        }
    );
    for (slot, running) in in_flight.invocations.iter().enumerate() {
        if !running.busy {
            continue;
        }
        let error = if Some(slot) == own {
            Error::Panic(PanicError::new(message.clone()))
        } else {
            aborted(&in_flight.reported)
        };
        #[cfg(any(feature = "stream", feature = "http"))]
        if let Some(socket) = running.stream {
            if Some(slot) == own {
                // This thread is inside the handler, between two writes: the stream is at a
                // chunk boundary, and its end can carry the panic.
                log_stream_report(crate::runtime::api::abort_stream(socket, &error));
            }
            // Another worker's stream may be mid-write; the abort cuts it off, and the Runtime
            // API sees a chunked body that never ended, which is an error, not a response.
            continue;
        }
        let optional = |s: &str| Some(s).filter(|s| !s.is_empty()).map(str::to_owned);
        let invocation_id = optional(&running.invocation_id);
        let trace_header = optional(&running.trace_header);
        log_report(api.fail(
            &running.request_id,
            invocation_id.as_deref(),
            &error,
            trace_header.as_deref(),
        ));
    }
    if in_flight.invocations.len() > 1 {
        // Other workers may be receiving invocations right now; `enter_invocation` fails those.
        drop(in_flight);
        std::thread::sleep(LATE_GRACE);
    }
}

/// The error of an invocation that the abort of another's panic ends.
fn aborted(reported: &str) -> Error {
    Error::new(
        "Runtime.ProcessAborted",
        format!(
            "the process ended while this invocation ran: {reported}; build with panic = \
             \"unwind\" to keep concurrent invocations apart"
        ),
    )
}

/// Fails an invocation a worker received after a panic was reported.
fn fail_late(in_flight: &InFlight, context: &crate::Context) {
    let Some(endpoint) = in_flight.endpoint.clone() else {
        return;
    };
    let mut api = RuntimeApi::with_timeout(endpoint, Some(REPORT_TIMEOUT));
    log_report(api.fail(
        context.request_id(),
        context.invocation_id.get(),
        &aborted(&in_flight.reported),
        None,
    ));
}

fn log_report(outcome: Result<Delivery, crate::error::ApiError>) {
    match outcome {
        Ok(Delivery::Accepted) => {
            tracing::error!(
                "reported the panic to the Runtime API; the process aborts (panic = \"abort\")"
            )
        }
        Ok(other) => tracing::error!(?other, "the Runtime API did not take the panic report"),
        Err(err) => tracing::error!(%err, "could not report the panic to the Runtime API"),
    }
}

#[cfg(any(feature = "stream", feature = "http"))]
fn log_stream_report(outcome: std::io::Result<u16>) {
    match outcome {
        Ok(status) => tracing::error!(
            status,
            "ended the streamed response with the panic in its trailers; the process aborts \
             (panic = \"abort\")"
        ),
        Err(err) => tracing::error!(%err, "could not end the streamed response with the panic"),
    }
}

fn describe(info: &PanicHookInfo<'_>) -> String {
    let text = payload_text(info.payload());
    match info.location() {
        Some(at) => format!("{text} at {}:{}:{}", at.file(), at.line(), at.column()),
        None => text.to_owned(),
    }
}

pub(crate) fn payload_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a panic without a message"
    }
}

#[cfg(all(test, panic = "unwind"))]
mod tests {
    use super::*;

    #[test]
    fn catch_keeps_message_and_location() {
        install_hook();
        let err = catch::<()>(|| panic!("boom {}", 7)).unwrap_err();
        assert_eq!(err.error_type(), "Runtime.HandlerPanic");
        let message = err.message();
        assert!(
            message.starts_with("handler panicked: boom 7 at src/runtime/panic.rs:"),
            "{message}"
        );
    }

    #[test]
    fn a_resume_unwind_after_a_caught_panic_is_not_reported_with_the_stale_message() {
        install_hook();
        let err = catch::<()>(|| {
            let _ = std::panic::catch_unwind(|| panic!("caught and handled"));
            std::panic::resume_unwind(Box::new("resumed"))
        })
        .unwrap_err();
        assert_eq!(err.message(), "handler panicked: resumed");

        // A panic caught before `catch` runs does not name one inside it either.
        let _ = std::panic::catch_unwind(|| panic!("resumed"));
        let err = catch::<()>(|| std::panic::resume_unwind(Box::new("resumed"))).unwrap_err();
        assert_eq!(err.message(), "handler panicked: resumed");
    }

    #[test]
    fn a_panic_resumed_with_its_own_payload_keeps_its_location() {
        install_hook();
        let err = catch::<()>(|| {
            let payload = std::panic::catch_unwind(|| panic!("rethrown")).unwrap_err();
            std::panic::resume_unwind(payload)
        })
        .unwrap_err();
        let message = err.message();
        assert!(
            message.starts_with("handler panicked: rethrown at src/runtime/panic.rs:"),
            "{message}"
        );
    }

    #[test]
    fn catch_passes_results_through() {
        assert_eq!(catch(|| Ok(3)).unwrap(), 3);
        let err = catch::<()>(|| Err(Error::new("Mine", "no"))).unwrap_err();
        assert_eq!(err.error_type(), "Mine");
    }
}
