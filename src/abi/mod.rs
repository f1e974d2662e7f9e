//! The C ABI between the lamina `bootstrap` of the runtime layer and a handler library.
//!
//! In layer mode a function ships as a shared library (`crate-type = ["cdylib"]`) and the layer's
//! `/opt/bootstrap` runs the invoke loop. `#[lamina::handler]` makes every crate it is used in
//! export one symbol, [`ENTRY_SYMBOL`]:
//!
//! ```text
//! extern "C" fn lamina_handler_abi() -> *const FunctionTable
//! ```
//!
//! The table starts with [`ABI_VERSION`], so a loader can check the version before it reads
//! anything else, and holds four functions:
//!
//! - `init(&mut instance, &mut outcome)`: builds the handler (runs the user's `init`), once,
//!   before the first invocation. It always stores an instance, even when `outcome` reports an
//!   init error, so the loader can `free` it.
//! - `fork(instance, &mut forked, &mut outcome)` (since version 2): builds one more instance of
//!   the same function for another worker thread, sharing the first one's state. It stores null
//!   (and reports success) when the function cannot be served from several threads (its state
//!   is not `Sync`); otherwise an instance, even when `outcome` reports an error.
//! - `invoke(instance, event, &fields, stream, &mut outcome)`: runs one invocation. `stream`
//!   (since version 3) is the loader's [`StreamHooks`] for this invocation, or null where the
//!   response can only be sent whole: through it the library starts a streamed response and
//!   writes its bytes as the handler produces them. Once a stream has started, the outcome's
//!   body is ignored; an error outcome then ends the stream with the error in its trailers.
//! - `idle(instance, socket)` (since version 2): called between invocations while the loader
//!   waits for `/next` on `socket` (a file descriptor); runs the instance's background tasks
//!   until the socket is readable, or returns at once when there are none.
//! - `free(instance)`: drops the handler and its state.
//!
//! Only bytes and plain integers cross: the event, the invocation's [`InvocationFields`] and an
//! [`Outcome`] (a response body, or an error's type and message). Everything an [`Outcome`] points
//! to is owned by the library and stays valid until the next call on the same instance, so a
//! response reaches the Runtime API without an extra allocation. The library catches every
//! panic before it reaches the boundary; under `panic = "abort"` the library's own panic hook
//! reports the failure to the Runtime API before the process dies, as in bin mode.
//!
//! Which calls may overlap: calls on one instance never do, and come from one thread, the one that
//! built the instance (`init`'s or `fork`'s caller). `fork` is called on the thread that will use
//! the new instance, one fork at a time and never while any `invoke` runs; once every worker has
//! forked, `invoke`s on different instances run at the same time on their own threads (Managed
//! Instances, `AWS_LAMBDA_MAX_CONCURRENCY`). The library reads the function's identity
//! (`AWS_LAMBDA_FUNCTION_NAME` and so on) from the process environment it shares with the loader.

#![allow(unsafe_code)]

mod export;
mod fields;
mod host;

use std::ffi::c_void;
use std::marker::PhantomData;
use std::process::ExitCode;

use crate::error::Error;

pub use host::{LoadError, LoadedHandler};

#[doc(hidden)]
pub use export::table;

/// The version of this contract. A loader refuses a library whose table carries another one.
pub const ABI_VERSION: u32 = 3;

/// The name of the symbol every handler library exports (without a trailing NUL).
pub const ENTRY_SYMBOL: &str = "lamina_handler_abi";

/// The type of [`ENTRY_SYMBOL`].
pub type EntryFn = unsafe extern "C" fn() -> *const FunctionTable;

/// Runs a handler library: the invoke loop under Lambda, else one local invocation, exactly as a
/// bin-mode function's `main` does. `load` finds and initializes the library; it runs in the INIT
/// phase, and its error is the init error reported to the Runtime API.
///
/// This is the whole of the runtime layer's `bootstrap` after `dlopen`.
pub fn serve(load: impl FnOnce() -> Result<LoadedHandler, Error>) -> ExitCode {
    crate::runtime::start(load)
}

/// What a handler library exports: the contract's version and its three functions.
#[repr(C)]
pub struct FunctionTable {
    /// [`ABI_VERSION`] of the lamina the library was built with. Always the first field.
    pub abi_version: u32,
    /// The lamina crate version the library was built with (UTF-8), for error messages.
    pub lamina_version: Bytes<'static>,
    /// Builds the handler. Writes the new instance to its first argument in every case.
    pub init: unsafe extern "C" fn(instance: *mut *mut c_void, outcome: *mut Outcome<'static>),
    /// Builds one more instance sharing `instance`'s state, or stores null when it cannot.
    pub fork: unsafe extern "C" fn(
        instance: *mut c_void,
        forked: *mut *mut c_void,
        outcome: *mut Outcome<'static>,
    ),
    /// Runs one invocation on an instance `init` returned; `stream` may be null.
    pub invoke: unsafe extern "C" fn(
        instance: *mut c_void,
        event: Bytes<'_>,
        fields: *const InvocationFields<'_>,
        stream: *const StreamHooks,
        outcome: *mut Outcome<'static>,
    ),
    /// Runs `instance`'s background tasks until `socket` is readable.
    pub idle: unsafe extern "C" fn(instance: *mut c_void, socket: i32),
    /// Drops an instance `init` returned.
    pub free: unsafe extern "C" fn(instance: *mut c_void),
}

// SAFETY: the table is immutable and its one pointer is to a `'static` string.
unsafe impl Sync for FunctionTable {}

/// A borrowed byte string: a pointer and a length. A null pointer means "absent", which is
/// not the same as empty.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Bytes<'a> {
    ptr: *const u8,
    len: usize,
    borrows: PhantomData<&'a [u8]>,
}

impl<'a> Bytes<'a> {
    /// Absent.
    pub const ABSENT: Bytes<'static> = Bytes {
        ptr: std::ptr::null(),
        len: 0,
        borrows: PhantomData,
    };

    /// Borrows `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Bytes {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            borrows: PhantomData,
        }
    }

    /// Borrows `text`, or is absent.
    pub fn from_option(text: Option<&'a str>) -> Self {
        text.map_or(Bytes::ABSENT, |t| Bytes::new(t.as_bytes()))
    }

    /// The bytes, or `None` when absent.
    ///
    /// # Safety
    /// The pointer and length must describe memory that is valid for `'a`, as every `Bytes` made
    /// by [`Bytes::new`] does; a `Bytes` from across the ABI is trusted to follow the contract.
    pub unsafe fn get(self) -> Option<&'a [u8]> {
        if self.ptr.is_null() {
            None
        } else {
            // SAFETY: the caller vouches for pointer and length.
            Some(unsafe { std::slice::from_raw_parts(self.ptr, self.len) })
        }
    }
}

/// What Lambda says about one invocation, as the loader read it from `/next`.
///
/// Every field but the deadline borrows the loader's memory for the duration of one `invoke`.
#[repr(C)]
pub struct InvocationFields<'a> {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: Bytes<'a>,
    /// The deadline, in milliseconds since the Unix epoch.
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: Bytes<'a>,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_header: Bytes<'a>,
    /// The client context, as JSON.
    pub client_context: Bytes<'a>,
    /// The Cognito identity, as JSON.
    pub cognito_identity: Bytes<'a>,
    /// `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Bytes<'a>,
    /// `Lambda-Runtime-Invocation-Id` (since ABI version 2), which the library's panic report
    /// echoes.
    pub invocation_id: Bytes<'a>,
}

/// The loader's streamed response for one invocation (since ABI version 3), valid for the
/// duration of one `invoke` and called only from the thread that called it.
///
/// A handler that streams calls `open` once, before its first byte, then `write` with the pieces
/// it has ready (one or several at a time, so the loader can send them in one system call).
/// Both return [`StreamHooks::SENT`] or [`StreamHooks::CLOSED`]: the Runtime API could not be
/// reached (`open`; nothing was sent, so the invocation's error still goes to `/error`), or it
/// closed the stream (`write`: the caller went away or the invocation ended; stop writing).
#[repr(C)]
pub struct StreamHooks {
    /// The loader's stream, passed back to each call.
    pub target: *mut c_void,
    /// Starts the response with this `Content-Type`, and stores the socket it is written on (or
    /// -1), for the library's panic hook to end the stream under `panic = "abort"`.
    pub open:
        unsafe extern "C" fn(target: *mut c_void, content_type: Bytes<'_>, socket: *mut i32) -> u32,
    /// Sends the next `count` pieces of the response (`pieces` points to that many), each a
    /// chunk of the stream, in order; blocks while the reader is behind.
    pub write:
        unsafe extern "C" fn(target: *mut c_void, pieces: *const Bytes<'_>, count: usize) -> u32,
}

impl StreamHooks {
    /// The call went through.
    pub const SENT: u32 = 0;
    /// The stream could not be started, or is closed.
    pub const CLOSED: u32 = 1;
}

/// What `init` or `invoke` reports back.
#[repr(C)]
pub struct Outcome<'a> {
    /// [`Outcome::OK`] or [`Outcome::ERROR`].
    pub status: u32,
    /// The response JSON, when `status` is [`Outcome::OK`] (empty after `init`).
    pub body: Bytes<'a>,
    /// The error's `errorType`, when `status` is [`Outcome::ERROR`].
    pub error_type: Bytes<'a>,
    /// The error's `errorMessage`, when `status` is [`Outcome::ERROR`].
    pub error_message: Bytes<'a>,
}

impl Outcome<'_> {
    /// The call succeeded.
    pub const OK: u32 = 0;
    /// The call failed; `error_type` and `error_message` say why.
    pub const ERROR: u32 = 1;

    /// An outcome for the library to fill in; reads as a failure if it is left untouched.
    pub const fn unset() -> Outcome<'static> {
        Outcome {
            status: u32::MAX,
            body: Bytes::ABSENT,
            error_type: Bytes::ABSENT,
            error_message: Bytes::ABSENT,
        }
    }
}
