//! `_X_AMZN_TRACE_ID`: the trace header of the invocation in flight, where the AWS SDKs and
//! X-Ray tooling look for it.
#![allow(unsafe_code)]

const TRACE_ENV: &str = "_X_AMZN_TRACE_ID";

/// Sets or clears `_X_AMZN_TRACE_ID` for the next invocation, touching the environment only when
/// there is something to change.
pub(crate) struct TraceEnv {
    is_set: bool,
}

impl TraceEnv {
    pub(crate) fn new() -> Self {
        TraceEnv {
            is_set: std::env::var_os(TRACE_ENV).is_some(),
        }
    }

    pub(crate) fn update(&mut self, trace_header: Option<&str>) {
        match trace_header {
            // SAFETY: the environment is written only by the invoke loop, between invocations,
            // while no handler code runs: lamina's runtime is single-threaded, so no thread of
            // ours reads the environment concurrently. A thread the user started that reads the
            // environment at this moment is the risk the Lambda platform contract (a per-process
            // variable for a per-invocation value) leaves open; `Context::xray_trace_header` is the
            // race-free source.
            Some(value) => unsafe { std::env::set_var(TRACE_ENV, value) },
            None if self.is_set => unsafe { std::env::remove_var(TRACE_ENV) },
            None => {}
        }
        self.is_set = trace_header.is_some();
    }
}
