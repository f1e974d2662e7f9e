//! `_X_AMZN_TRACE_ID`: the trace header of the invocation in flight, where the AWS SDKs and
//! X-Ray tooling look for it.
//!
//! The handler's side owns the variable: [`TraceEnv`] lives in the handler wrapper, which in
//! layer mode runs inside the handler library. The library links its own std, with its own
//! environment lock, and its code (the user's threads, tokio's blocking pool, the SDKs) reads the
//! environment through that lock. A write from the `bootstrap`'s std would take the other lock,
//! so glibc's `setenv` could replace or reallocate `environ` under one of those readers. Written
//! here, under the same lock its readers take, the write cannot race them; in bin mode there is
//! only one std, so the same code is right in both modes. The invoke loop never touches it.
#![allow(unsafe_code)]

const TRACE_ENV: &str = "_X_AMZN_TRACE_ID";

/// Sets or clears `_X_AMZN_TRACE_ID` for the invocation about to run, touching the environment
/// only when there is something to change.
pub(crate) struct TraceEnv {
    /// Only under Lambda: a local run (`cargo run`, the layer's bootstrap without the Runtime
    /// API) leaves a variable the user exported to test propagation as it is.
    under_lambda: bool,
    is_set: bool,
}

impl TraceEnv {
    pub(crate) fn new() -> Self {
        TraceEnv {
            under_lambda: std::env::var_os(crate::runtime::config::RUNTIME_API).is_some(),
            is_set: std::env::var_os(TRACE_ENV).is_some(),
        }
    }

    pub(crate) fn update(&mut self, trace_header: Option<&str>) {
        if !self.under_lambda {
            return;
        }
        match trace_header {
            // SAFETY: written by the handler side before the user's code runs for the invocation,
            // under the environment lock of the std that code reads through (see the module
            // docs): lamina's readers, and the user's std readers on any thread, are excluded
            // for the write. A thread that reads the environment with libc's `getenv` directly is
            // the risk the Lambda platform contract (a per-process variable for a per-invocation
            // value) leaves open; `Context::xray_trace_header` is the race-free source.
            Some(value) => unsafe { std::env::set_var(TRACE_ENV, value) },
            // SAFETY: as above.
            None if self.is_set => unsafe { std::env::remove_var(TRACE_ENV) },
            None => {}
        }
        self.is_set = trace_header.is_some();
    }
}
