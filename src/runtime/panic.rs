//! Panics in user code: an invocation error under `panic = "unwind"`, and still reported before
//! the process dies under `panic = "abort"` (the profile `cargo lambda build --release` injects).
//!
//! Under `abort` nothing can be caught, so the panic hook itself posts the error for the
//! invocation in flight (or the init error) on a fresh connection, with a short timeout, before
//! returning to let the process abort. Without that the caller would wait for the function's
//! timeout. This is the one piece of per-invocation state on a global: a panic hook has no other
//! way to learn which invocation it interrupts.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::sync::{Mutex, Once};
use std::time::Duration;

use crate::error::{Error, PanicError};
use crate::logging;
use crate::runtime::api::{Delivery, RuntimeApi};
use crate::runtime::endpoint::Endpoint;

/// How long the dying process waits for the Runtime API to take its report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);

thread_local! {
    /// The message and location of the latest panic on this thread, kept by the hook for the
    /// `catch_unwind` that will see only the payload.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// What the hook reports under `panic = "abort"`.
static IN_FLIGHT: Mutex<InFlight> = Mutex::new(InFlight {
    endpoint: None,
    phase: Phase::Idle,
    request_id: String::new(),
});

struct InFlight {
    endpoint: Option<Endpoint>,
    phase: Phase,
    request_id: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Init,
    Invocation,
}

/// Installs lamina's panic hook once, in front of the existing one (which still prints).
pub(crate) fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = describe(info);
            LAST_PANIC.with(|last| *last.borrow_mut() = Some(message.clone()));
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
pub(crate) fn catch<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = LAST_PANIC
                .with(|last| last.borrow_mut().take())
                .unwrap_or_else(|| payload_text(&*payload).to_owned());
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

/// Under `panic = "abort"`, tells the hook which invocation is running.
pub(crate) fn enter_invocation(request_id: &str) {
    if cfg!(panic = "abort") {
        let mut in_flight = lock();
        in_flight.phase = Phase::Invocation;
        in_flight.request_id.clear();
        in_flight.request_id.push_str(request_id);
    }
}

/// Under `panic = "abort"`, tells the hook that no user code is running.
pub(crate) fn leave() {
    if cfg!(panic = "abort") {
        lock().phase = Phase::Idle;
    }
}

fn lock() -> std::sync::MutexGuard<'static, InFlight> {
    IN_FLIGHT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn report_before_abort(message: String) {
    // `try_lock`: a panic while the lock is held must not deadlock the dying process.
    let Ok(in_flight) = IN_FLIGHT.try_lock() else {
        return;
    };
    let Some(endpoint) = in_flight.endpoint.clone() else {
        return;
    };
    let mut api = RuntimeApi::with_timeout(endpoint, Some(REPORT_TIMEOUT));
    let mut error = Error::Panic(PanicError::new(message));
    let outcome = match in_flight.phase {
        Phase::Idle => return,
        Phase::Init => {
            error = error.into_init_error();
            api.fail_init(&error)
        }
        Phase::Invocation => {
            // The handler side keeps the in-flight invocation's trace header there, in this copy of
            // lamina's environment (the handler library's, in layer mode).
            let trace_header = std::env::var("_X_AMZN_TRACE_ID").ok();
            api.fail(&in_flight.request_id, &error, trace_header.as_deref())
        }
    };
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

fn describe(info: &PanicHookInfo<'_>) -> String {
    let text = payload_text(info.payload());
    match info.location() {
        Some(at) => format!("{text} at {}:{}:{}", at.file(), at.line(), at.column()),
        None => text.to_owned(),
    }
}

fn payload_text(payload: &(dyn Any + Send)) -> &str {
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
    fn catch_passes_results_through() {
        assert_eq!(catch(|| Ok(3)).unwrap(), 3);
        let err = catch::<()>(|| Err(Error::new("Mine", "no"))).unwrap_err();
        assert_eq!(err.error_type(), "Mine");
    }
}
