//! A handler library that is not built with `#[lamina::handler]`: it speaks the ABI by hand,
//! never writes the environment, and answers every invocation with the `_X_AMZN_TRACE_ID` it
//! sees. The layer tests use it to show that the loader (the `bootstrap`'s std) leaves that
//! variable to the library.
#![allow(unsafe_code)]

use std::ffi::c_void;

use lamina::abi::{ABI_VERSION, Bytes, FunctionTable, InvocationFields, Outcome, StreamHooks};

unsafe extern "C" fn init(instance: *mut *mut c_void, outcome: *mut Outcome<'static>) {
    let mut report = Outcome::unset();
    report.status = Outcome::OK;
    // SAFETY: the loader passes pointers it owns. No state: a dangling, never-read instance.
    unsafe {
        *instance = std::ptr::NonNull::<c_void>::dangling().as_ptr();
        *outcome = report;
    }
}

unsafe extern "C" fn invoke(
    _: *mut c_void,
    _: Bytes<'_>,
    _: *const InvocationFields<'_>,
    _: *const StreamHooks,
    outcome: *mut Outcome<'static>,
) {
    let seen = std::env::var("_X_AMZN_TRACE_ID").ok();
    let response = serde_json::to_vec(&serde_json::json!({ "trace_env": seen }))
        .expect("a JSON object of one string");
    let mut report = Outcome::unset();
    report.status = Outcome::OK;
    // Leaked: a test process answers a handful of invocations, and the body must outlive the call.
    report.body = Bytes::new(response.leak());
    // SAFETY: the loader owns `outcome`.
    unsafe { *outcome = report };
}

unsafe extern "C" fn free(_: *mut c_void) {}

/// Nothing runs in the background here.
unsafe extern "C" fn idle(_: *mut c_void, _: i32) {}

/// Never shared: the probe serves one invocation at a time.
unsafe extern "C" fn fork(
    _: *mut c_void,
    forked: *mut *mut c_void,
    outcome: *mut Outcome<'static>,
) {
    let mut report = Outcome::unset();
    report.status = Outcome::OK;
    // SAFETY: the loader owns both pointers.
    unsafe {
        *forked = std::ptr::null_mut();
        *outcome = report;
    }
}

static TABLE: FunctionTable = FunctionTable {
    abi_version: ABI_VERSION,
    lamina_version: Bytes::new(env!("CARGO_PKG_VERSION").as_bytes()),
    init,
    fork,
    invoke,
    idle,
    free,
};

/// The entry point, as a lamina handler library exports it.
#[unsafe(no_mangle)]
pub extern "C" fn lamina_handler_abi() -> *const FunctionTable {
    &TABLE
}
