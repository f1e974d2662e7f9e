//! The loader's side of the ABI: a handler library's table driven as a [`Handler`].
//!
//! Finding and loading the library (`dlopen`) is the `bootstrap` binary's job; from the table on,
//! everything is here, next to the library's side, so both halves of the contract are tested
//! together.

use std::ffi::c_void;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use super::fields::Scratch;
use super::{ABI_VERSION, Bytes, FunctionTable, Outcome, StreamHooks};
use crate::context::Context;
use crate::error::Error;
use crate::handler::{Fork, Handler, Reply, StreamTarget};

/// Why a handler library could not be loaded: the init error the layer's `bootstrap` reports.
///
/// ```
/// use lamina::abi::LoadError;
///
/// let err = LoadError::NotFound { path: "/var/task/liborders.so".into(), handler: "orders".into() };
/// assert_eq!(err.error_type(), "Runtime.HandlerNotFound");
/// assert!(err.to_string().contains("/var/task/liborders.so"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// `_HANDLER` (the function's Handler setting) is unset or empty.
    NoHandler,
    /// No file where `_HANDLER` points.
    NotFound {
        /// Where the library was looked for.
        path: PathBuf,
        /// The `_HANDLER` value it came from.
        handler: String,
    },
    /// The dynamic loader refused the file (not a shared library, another architecture, a
    /// newer glibc than the runtime has, …).
    Unloadable {
        /// The library.
        path: PathBuf,
        /// What the dynamic loader said.
        reason: String,
    },
    /// The library does not export [`ENTRY_SYMBOL`](super::ENTRY_SYMBOL), or it returned no table.
    NotLamina {
        /// The library.
        path: PathBuf,
    },
    /// The library speaks another version of this ABI.
    AbiMismatch {
        /// The library.
        path: PathBuf,
        /// The library's ABI version.
        found: u32,
        /// The lamina version the library was built with.
        library_lamina: String,
    },
}

impl LoadError {
    /// The `errorType` reported to `/runtime/init/error`.
    pub fn error_type(&self) -> &'static str {
        match self {
            LoadError::NoHandler | LoadError::NotFound { .. } => "Runtime.HandlerNotFound",
            LoadError::Unloadable { .. } | LoadError::NotLamina { .. } => {
                "Runtime.InvalidEntrypoint"
            }
            LoadError::AbiMismatch { .. } => "Runtime.AbiMismatch",
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NoHandler => write!(
                f,
                "`_HANDLER` is empty: set the function's Handler to the name of its handler \
                 library (the crate name: `orders` loads `$LAMBDA_TASK_ROOT/liborders.so`)"
            ),
            LoadError::NotFound { path, handler } => write!(
                f,
                "no handler library at `{}` (from Handler `{handler}`): put the cdylib built \
                 from your crate at the root of the function's zip, or correct the Handler",
                path.display()
            ),
            LoadError::Unloadable { path, reason } => write!(
                f,
                "`{}` could not be loaded: {reason}; build it as a cdylib for provided.al2023 \
                 and the function's architecture (`cargo lambda build --release --lib`)",
                path.display()
            ),
            LoadError::NotLamina { path } => write!(
                f,
                "`{}` does not export `{}`: it was not built from a crate that uses \
                 `#[lamina::handler]`",
                path.display(),
                super::ENTRY_SYMBOL
            ),
            LoadError::AbiMismatch {
                path,
                found,
                library_lamina,
            } => write!(
                f,
                "`{}` was built with lamina {library_lamina} (handler ABI {found}), but this \
                 runtime layer is lamina {} (handler ABI {ABI_VERSION}): rebuild the function \
                 with lamina {}, or use the layer version built from the lamina it uses",
                path.display(),
                env!("CARGO_PKG_VERSION"),
                env!("CARGO_PKG_VERSION"),
            ),
        }
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    /// The init error to report, under [`LoadError::error_type`].
    pub fn into_error(self) -> Error {
        Error::with_type(self.error_type(), self)
    }
}

/// A handler library's instance, driven through its [`FunctionTable`] like any other handler.
pub struct LoadedHandler {
    table: &'static FunctionTable,
    instance: *mut c_void,
    scratch: Scratch,
}

impl LoadedHandler {
    /// Checks the table's version, then runs the library's `init`.
    ///
    /// # Errors
    /// [`LoadError::NotLamina`] for a null table, [`LoadError::AbiMismatch`] for another ABI
    /// version, and the library's own init error (its `errorType` and message as the library
    /// reported them) when its `init` fails.
    ///
    /// # Safety
    /// `table` must be what a loaded library's [`ENTRY_SYMBOL`](super::ENTRY_SYMBOL) returned,
    /// and the library must stay loaded for the rest of the process.
    pub unsafe fn init(table: *const FunctionTable, path: PathBuf) -> Result<Self, Error> {
        if table.is_null() {
            return Err(LoadError::NotLamina { path }.into_error());
        }
        // SAFETY: every version of the contract starts with the version, then the lamina version.
        let found = unsafe { (*table).abi_version };
        if found != ABI_VERSION {
            // SAFETY: as above; the text is bounded by what the library claims.
            let library_lamina = unsafe { (*table).lamina_version.get() }
                .map(|v| String::from_utf8_lossy(&v[..v.len().min(64)]).into_owned())
                .unwrap_or_else(|| "of unknown version".to_owned());
            return Err(LoadError::AbiMismatch {
                path,
                found,
                library_lamina,
            }
            .into_error());
        }
        // SAFETY: the version matches, so the layout is this one, and the library lives forever.
        let table: &'static FunctionTable = unsafe { &*table };
        let mut instance = std::ptr::null_mut();
        let mut outcome = Outcome::unset();
        // SAFETY: both pointers are to locals; `init` writes them.
        unsafe { (table.init)(&mut instance, &mut outcome) };
        let handler = LoadedHandler {
            table,
            instance,
            scratch: Scratch::default(),
        };
        // SAFETY: the outcome points into the instance, untouched since `init`.
        unsafe { read(&outcome) }?;
        Ok(handler)
    }
}

/// A parent instance, for the worker thread that forks it.
struct Parent(&'static FunctionTable, *mut c_void);

// SAFETY: the contract lets `fork` be called from the thread that will use the new instance,
// while no other call on the parent runs: the loop forks every worker before its first invoke,
// and `FORKING` keeps the workers' forks from overlapping one another.
unsafe impl Send for Parent {}

/// Held for each call of a library's `fork`: the workers start at once, but the parent instance
/// is lent to one of them at a time, as the contract promises the library.
static FORKING: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Parent {
    fn fork(self) -> Result<Option<Box<dyn Handler>>, Error> {
        let Parent(table, instance) = self;
        let mut forked = std::ptr::null_mut();
        let mut outcome = Outcome::unset();
        let one_at_a_time = FORKING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // SAFETY: the instance is alive (the loop keeps it until the process ends) and idle, and
        // no other fork of it runs while `one_at_a_time` is held.
        unsafe { (table.fork)(instance, &mut forked, &mut outcome) };
        drop(one_at_a_time);
        if forked.is_null() {
            return Ok(None);
        }
        let handler = LoadedHandler {
            table,
            instance: forked,
            scratch: Scratch::default(),
        };
        // SAFETY: the outcome points into the new instance, untouched since `fork`.
        unsafe { read(&outcome) }?;
        Ok(Some(Box::new(handler) as Box<dyn Handler>))
    }
}

impl Handler for LoadedHandler {
    fn until_readable(&mut self, socket: std::os::fd::RawFd) {
        // SAFETY: the instance is alive and idle.
        unsafe { (self.table.idle)(self.instance, socket) };
    }

    /// The library may stream; only it knows.
    fn streams(&self) -> bool {
        true
    }

    fn fork(&self) -> Option<Fork> {
        let parent = Parent(self.table, self.instance);
        Some(Box::new(move || parent.fork()))
    }

    fn call(
        &mut self,
        event: &[u8],
        context: &Context,
        reply: &mut Reply<'_>,
    ) -> Result<(), Error> {
        let fields = context.to_fields(&mut self.scratch);
        let mut outcome = Outcome::unset();
        let mut target = reply.stream.as_deref_mut();
        let hooks = target.as_mut().map(|target| StreamHooks {
            target: std::ptr::from_mut(target).cast(),
            open: open_stream,
            write: write_stream,
        });
        let hooks_ptr = hooks.as_ref().map_or(std::ptr::null(), std::ptr::from_ref);
        // SAFETY: the instance is alive; event, fields, hooks (and the target they point to)
        // and outcome outlive the call.
        unsafe {
            (self.table.invoke)(
                self.instance,
                Bytes::new(event),
                &fields,
                hooks_ptr,
                &mut outcome,
            );
        };
        // SAFETY: the outcome points into the instance, untouched until the next call.
        let body = unsafe { read(&outcome) }?;
        reply.body.extend_from_slice(body);
        Ok(())
    }
}

/// What [`StreamHooks::target`] points to: the loop's stream for the invocation.
type Target<'a> = &'a mut dyn StreamTarget;

unsafe extern "C" fn open_stream(
    target: *mut c_void,
    content_type: Bytes<'_>,
    socket: *mut i32,
) -> u32 {
    // SAFETY: `target` is the `Target` `call` lent for this invoke, used from its thread only.
    let target = unsafe { &mut *target.cast::<Target<'_>>() };
    // SAFETY: the library passes valid bytes and a valid `socket` pointer.
    let content_type = unsafe { content_type.get() }.unwrap_or_default();
    let content_type = String::from_utf8_lossy(content_type);
    let opened = std::panic::catch_unwind(AssertUnwindSafe(|| target.open(&content_type)));
    match opened {
        Ok(Ok(fd)) => {
            // SAFETY: as above.
            unsafe { *socket = fd.unwrap_or(-1) };
            StreamHooks::SENT
        }
        Ok(Err(err)) => {
            tracing::error!("the streamed response could not be started: {err}");
            StreamHooks::CLOSED
        }
        Err(_) => StreamHooks::CLOSED,
    }
}

unsafe extern "C" fn write_stream(
    target: *mut c_void,
    pieces: *const Bytes<'_>,
    count: usize,
) -> u32 {
    // SAFETY: as in `open_stream`.
    let target = unsafe { &mut *target.cast::<Target<'_>>() };
    // SAFETY: the library passes `count` valid pieces.
    let pieces = unsafe { std::slice::from_raw_parts(pieces, count) };
    let mut borrowed: [&[u8]; WRITE_AT_ONCE] = [&[]; WRITE_AT_ONCE];
    for batch in pieces.chunks(WRITE_AT_ONCE) {
        for (slot, piece) in borrowed.iter_mut().zip(batch) {
            // SAFETY: as above.
            *slot = unsafe { piece.get() }.unwrap_or_default();
        }
        let written =
            std::panic::catch_unwind(AssertUnwindSafe(|| target.write(&borrowed[..batch.len()])));
        if !matches!(written, Ok(Ok(()))) {
            return StreamHooks::CLOSED;
        }
    }
    StreamHooks::SENT
}

/// How many pieces the loader hands its stream in one call.
const WRITE_AT_ONCE: usize = 16;

impl Drop for LoadedHandler {
    fn drop(&mut self) {
        // SAFETY: the instance came from `init` and is freed once.
        unsafe { (self.table.free)(self.instance) };
    }
}

/// The response body of an outcome, or the error it reports.
///
/// # Safety
/// Every [`Bytes`] in `outcome` must still be valid.
unsafe fn read<'a>(outcome: &Outcome<'a>) -> Result<&'a [u8], Error> {
    // SAFETY: the caller vouches for the outcome.
    let text = |bytes: Bytes<'a>| unsafe { bytes.get() }.map(String::from_utf8_lossy);
    match outcome.status {
        Outcome::OK => Ok(unsafe { outcome.body.get() }.unwrap_or_default()),
        Outcome::ERROR => Err(Error::new(
            text(outcome.error_type).map_or("Runtime.AbiError".into(), |t| t.into_owned()),
            text(outcome.error_message).unwrap_or_default(),
        )),
        other => Err(Error::new(
            "Runtime.AbiError",
            format!("the handler library answered with an unknown status {other}"),
        )),
    }
}

#[cfg(all(test, panic = "unwind"))]
mod tests {
    use super::*;
    use crate::__private::{Function, Sink};
    use crate::handler::Handler;

    struct Echo;
    impl Handler for Echo {
        fn call(&mut self, event: &[u8], ctx: &Context, out: &mut Reply<'_>) -> Result<(), Error> {
            match event {
                b"\"fail\"" => Err(Error::new("Mine", format!("failed {}", ctx.request_id()))),
                b"\"panic\"" => panic!("kaboom"),
                _ => {
                    out.body.extend_from_slice(event);
                    Ok(())
                }
            }
        }
    }

    struct Works;
    impl Function for Works {
        fn with<K: Sink>(sink: K) -> K::Output {
            sink.accept(|| Ok(Echo))
        }
    }

    struct InitFails;
    impl Function for InitFails {
        fn with<K: Sink>(sink: K) -> K::Output {
            sink.accept(|| Err::<Echo, _>(Error::from(std::io::Error::other("no config"))))
        }
    }

    struct InitPanics;
    impl Function for InitPanics {
        fn with<K: Sink>(sink: K) -> K::Output {
            sink.accept(|| -> Result<Echo, Error> { panic!("init went wrong") })
        }
    }

    fn loaded<F: Function>() -> Result<LoadedHandler, Error> {
        // SAFETY: the table is this process's own and lives forever.
        unsafe { LoadedHandler::init(super::super::table::<F>(), "self".into()) }
    }

    fn call(handler: &mut LoadedHandler, event: &[u8]) -> Result<Vec<u8>, Error> {
        let ctx = Context::local(std::time::Duration::from_secs(3));
        let mut out = Vec::new();
        handler
            .call(event, &ctx, &mut Reply::whole(&mut out))
            .map(|()| out)
    }

    #[test]
    fn responses_and_errors_cross_the_table() {
        let mut handler = loaded::<Works>().unwrap();
        assert_eq!(call(&mut handler, b"{\"a\":1}").unwrap(), b"{\"a\":1}");
        let err = call(&mut handler, b"\"fail\"").unwrap_err();
        assert_eq!(err.error_type(), "Mine");
        assert!(err.message().starts_with("failed "), "{}", err.message());
        let err = call(&mut handler, b"\"panic\"").unwrap_err();
        assert_eq!(err.error_type(), "Runtime.HandlerPanic");
        assert!(err.message().contains("kaboom"), "{}", err.message());
        assert_eq!(
            call(&mut handler, b"[]").unwrap(),
            b"[]",
            "alive after a panic"
        );
    }

    #[test]
    fn init_errors_keep_their_type() {
        let err = loaded::<InitFails>().err().unwrap();
        assert_eq!(err.error_type(), "Init.Error");
        assert_eq!(err.message(), "no config");
        let err = loaded::<InitPanics>().err().unwrap();
        assert_eq!(err.error_type(), "Runtime.InitPanic");
        assert!(
            err.message().contains("init went wrong"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn other_versions_and_null_tables_are_refused() {
        let mut table = copy_of_exported();
        table.abi_version = ABI_VERSION + 1;
        // SAFETY: a local table with a matching layout.
        let err = unsafe { LoadedHandler::init(&table, "/var/task/libold.so".into()) }
            .err()
            .unwrap();
        assert_eq!(err.error_type(), "Runtime.AbiMismatch");
        let message = err.message();
        assert!(message.contains("/var/task/libold.so"), "{message}");
        assert!(
            message.contains(&format!("ABI {}", ABI_VERSION + 1)),
            "{message}"
        );
        // SAFETY: null is checked first.
        let err = unsafe { LoadedHandler::init(std::ptr::null(), "/x.so".into()) }
            .err()
            .unwrap();
        assert_eq!(err.error_type(), "Runtime.InvalidEntrypoint");
    }

    /// How many calls of `counting_fork` are running, and the most that ever ran at once.
    static FORKS_RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static MOST_FORKS_AT_ONCE: std::sync::atomic::AtomicUsize =
        std::sync::atomic::AtomicUsize::new(0);

    unsafe extern "C" fn counting_fork(
        instance: *mut c_void,
        forked: *mut *mut c_void,
        outcome: *mut Outcome<'static>,
    ) {
        use std::sync::atomic::Ordering::SeqCst;
        let running = FORKS_RUNNING.fetch_add(1, SeqCst) + 1;
        MOST_FORKS_AT_ONCE.fetch_max(running, SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(20));
        FORKS_RUNNING.fetch_sub(1, SeqCst);
        // SAFETY: the loader's pointers, passed on as they came.
        unsafe { (copy_of_exported().fork)(instance, forked, outcome) };
    }

    #[test]
    fn workers_fork_the_parent_one_at_a_time() {
        use std::sync::atomic::Ordering::SeqCst;
        let table: &'static FunctionTable = Box::leak(Box::new(FunctionTable {
            fork: counting_fork,
            ..copy_of_exported()
        }));
        // SAFETY: a leaked table with the exported functions, its `fork` wrapped.
        let parent = unsafe { LoadedHandler::init(table, "self".into()) }.unwrap();
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let fork = parent
                    .fork()
                    .expect("a loaded handler always offers a fork");
                let start = std::sync::Arc::clone(&start);
                std::thread::spawn(move || {
                    start.wait();
                    fork().map(|built| built.is_some())
                })
            })
            .collect();
        for worker in workers {
            assert!(!worker.join().unwrap().unwrap(), "Echo cannot be shared");
        }
        assert_eq!(
            MOST_FORKS_AT_ONCE.load(SeqCst),
            1,
            "forks of one parent overlapped"
        );
    }

    fn copy_of_exported() -> FunctionTable {
        // SAFETY: the exported table is valid and `'static`.
        let exported = unsafe { &*super::super::table::<Works>() };
        FunctionTable {
            abi_version: exported.abi_version,
            lamina_version: exported.lamina_version,
            init: exported.init,
            fork: exported.fork,
            idle: exported.idle,
            invoke: exported.invoke,
            free: exported.free,
        }
    }
}
