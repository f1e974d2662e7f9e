//! A handler library from a future lamina: it exports the entry point, but its table carries
//! another ABI version. The layer's bootstrap must refuse it before calling anything in it.
#![allow(unsafe_code)]

use std::ffi::c_void;

use lamina::abi::{ABI_VERSION, Bytes, FunctionTable, InvocationFields, Outcome, StreamHooks};

unsafe extern "C" fn never_init(_: *mut *mut c_void, _: *mut Outcome<'static>) {
    std::process::abort();
}

unsafe extern "C" fn never_fork(_: *mut c_void, _: *mut *mut c_void, _: *mut Outcome<'static>) {
    std::process::abort();
}

unsafe extern "C" fn never_idle(_: *mut c_void, _: i32) {
    std::process::abort();
}

unsafe extern "C" fn never_invoke(
    _: *mut c_void,
    _: Bytes<'_>,
    _: *const InvocationFields<'_>,
    _: *const StreamHooks,
    _: *mut Outcome<'static>,
) {
    std::process::abort();
}

unsafe extern "C" fn never_free(_: *mut c_void) {
    std::process::abort();
}

static TABLE: FunctionTable = FunctionTable {
    abi_version: ABI_VERSION + 1,
    lamina_version: Bytes::new(b"9.9.9"),
    init: never_init,
    fork: never_fork,
    invoke: never_invoke,
    idle: never_idle,
    free: never_free,
};

/// The entry point, as a lamina handler library exports it.
#[unsafe(no_mangle)]
pub extern "C" fn lamina_handler_abi() -> *const FunctionTable {
    &TABLE
}
