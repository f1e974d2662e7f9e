//! The library's side of the ABI: the table `#[handler]` exports from a handler library.

use std::ffi::c_void;
use std::marker::PhantomData;
use std::os::fd::RawFd;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use super::{ABI_VERSION, Bytes, FunctionTable, InvocationFields, Outcome, StreamHooks};
use crate::__private::{Function, Sink};
use crate::base::endpoint::Endpoint;
use crate::base::lambda_env::{self as config, FunctionConfig};
use crate::context::{Context, local_function_name};
use crate::error::Error;
use crate::handler::{Handler, Reply, StreamTarget};
use crate::logging;
use crate::runtime::panic;

/// The table for the handler `F`: what the symbol `#[handler]` exports returns.
pub fn table<F: Function>() -> *const FunctionTable {
    &Table::<F>::TABLE
}

struct Table<F>(PhantomData<F>);

impl<F: Function> Table<F> {
    const TABLE: FunctionTable = FunctionTable {
        abi_version: ABI_VERSION,
        lamina_version: Bytes::new(env!("CARGO_PKG_VERSION").as_bytes()),
        init: init::<F>,
        fork,
        invoke,
        idle,
        free,
    };
}

/// Builds the handler and erases its type: the table's functions are not generic over it.
struct Boxed;

impl Sink for Boxed {
    type Output = Result<Box<dyn Handler>, Error>;
    fn accept<H, B>(self, build: B) -> Self::Output
    where
        H: Handler + 'static,
        B: FnOnce() -> Result<H, Error>,
    {
        build().map(|handler| Box::new(handler) as Box<dyn Handler>)
    }
}

/// One built handler and the buffers its outcomes point into.
struct Instance {
    handler: Option<Box<dyn Handler>>,
    function: Arc<FunctionConfig>,
    response: Vec<u8>,
    error_type: String,
    error_message: String,
}

impl Instance {
    fn empty() -> Self {
        Instance {
            handler: None,
            function: FunctionConfig::local(|_| None, "lamina"),
            response: Vec::with_capacity(4096),
            error_type: String::new(),
            error_message: String::new(),
        }
    }

    /// Builds the handler as `runtime::start` does in bin mode: log output, panic hook, the
    /// function's identity from the environment it shares with the loader, then `F::with`.
    fn init<F: Function>() -> (Self, Result<(), Error>) {
        let under_lambda = std::env::var(config::RUNTIME_API).ok();
        // The library has its own copy of lamina's logging: its subscriber, its buffer.
        let logging = logging::install(match under_lambda {
            Some(_) => logging::Output::Stdout,
            None => logging::Output::Stderr,
        });
        panic::install_hook();
        let endpoint = under_lambda.as_deref().map(Endpoint::parse);
        if let Some(Ok(endpoint)) = &endpoint {
            panic::enter_init(endpoint);
        }
        let env = |k: &str| std::env::var(k).ok();
        let function = match under_lambda {
            Some(_) => FunctionConfig::from_env(env).map(Arc::new),
            None => Ok(FunctionConfig::local(env, &local_function_name())),
        };
        let mut instance = Instance::empty();
        let built = function.map_err(Error::Config).and_then(|function| {
            instance.function = function;
            panic::catch(|| F::with(Boxed))
        });
        panic::leave();
        // INIT is over: lamina's subscriber becomes the library's, unless `init` installed one.
        drop(logging);
        match built {
            Ok(handler) => {
                instance.handler = Some(handler);
                (instance, Ok(()))
            }
            Err(err) => (instance, Err(err.into_init_error())),
        }
    }

    /// A new instance with a handler from [`Handler::fork`], built on this thread; `None` when the
    /// handler cannot be shared.
    fn fork(&self) -> Option<(Self, Result<(), Error>)> {
        let fork = self.handler.as_ref()?.fork()?;
        let mut forked = Instance::empty();
        forked.function = Arc::clone(&self.function);
        let built = match panic::catch(fork) {
            Ok(None) => return None,
            Ok(Some(handler)) => {
                forked.handler = Some(handler);
                Ok(())
            }
            Err(err) => Err(err),
        };
        Some((forked, built))
    }

    fn invoke(
        &mut self,
        event: &[u8],
        context: &Context,
        stream: Option<&mut dyn StreamTarget>,
    ) -> Result<(), Error> {
        self.response.clear();
        let Some(handler) = self.handler.as_mut() else {
            return Err(Error::new(
                "Runtime.AbiError",
                "invoke was called on a handler whose init failed",
            ));
        };
        panic::enter_invocation(context);
        let mut reply = match stream {
            Some(stream) => Reply::streamed(&mut self.response, stream),
            None => Reply::whole(&mut self.response),
        };
        let result = panic::catch(|| handler.call(event, context, &mut reply));
        panic::leave();
        result
    }

    /// The outcome of the last call, pointing into this instance's buffers.
    fn outcome(&mut self, result: Result<(), Error>) -> Outcome<'static> {
        let mut outcome = Outcome::unset();
        match result {
            Ok(()) => {
                outcome.status = Outcome::OK;
                outcome.body = unbounded(&self.response);
            }
            Err(err) => {
                self.error_type.clear();
                self.error_type.push_str(err.error_type());
                self.error_message = err.message();
                outcome.status = Outcome::ERROR;
                outcome.error_type = unbounded(self.error_type.as_bytes());
                outcome.error_message = unbounded(self.error_message.as_bytes());
            }
        }
        outcome
    }
}

/// Borrows `bytes` for as long as the loader keeps to the contract: until its next call on the
/// instance that owns them.
fn unbounded(bytes: &[u8]) -> Bytes<'static> {
    Bytes {
        ptr: bytes.as_ptr(),
        len: bytes.len(),
        borrows: PhantomData,
    }
}

/// A panic in lamina's own glue, which `panic::catch` around the user's code does not cover,
/// must still not unwind into the loader.
fn glue_failure() -> Error {
    Error::new(
        "Runtime.AbiError",
        "the handler library panicked outside the handler; see the log above",
    )
}

unsafe extern "C" fn init<F: Function>(instance: *mut *mut c_void, outcome: *mut Outcome<'static>) {
    let (mut built, result) = match std::panic::catch_unwind(Instance::init::<F>) {
        Ok(built) => built,
        Err(_) => (Instance::empty(), Err(glue_failure())),
    };
    let report = built.outcome(result);
    // SAFETY: the loader passes pointers it owns, as the contract requires.
    unsafe {
        *outcome = report;
        *instance = Box::into_raw(Box::new(built)).cast();
    }
}

unsafe extern "C" fn fork(
    instance: *mut c_void,
    forked: *mut *mut c_void,
    outcome: *mut Outcome<'static>,
) {
    // SAFETY: `instance` came from `init`, and no other call on it (another `fork` included) runs
    // during `fork`.
    let parent = unsafe { &*instance.cast::<Instance>() };
    let built = std::panic::catch_unwind(AssertUnwindSafe(|| parent.fork()))
        .unwrap_or_else(|_| Some((Instance::empty(), Err(glue_failure()))));
    let (report, new) = match built {
        Some((mut new, result)) => {
            let report = new.outcome(result);
            (report, Box::into_raw(Box::new(new)).cast())
        }
        None => {
            let mut report = Outcome::unset();
            report.status = Outcome::OK;
            (report, std::ptr::null_mut())
        }
    };
    // SAFETY: the loader passes pointers it owns.
    unsafe {
        *outcome = report;
        *forked = new;
    }
}

unsafe extern "C" fn invoke(
    instance: *mut c_void,
    event: Bytes<'_>,
    fields: *const InvocationFields<'_>,
    stream: *const StreamHooks,
    outcome: *mut Outcome<'static>,
) {
    // SAFETY: `instance` came from `init`, and the loader calls one function at a time.
    let instance = unsafe { &mut *instance.cast::<Instance>() };
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the loader's event, fields and stream hooks are valid for this call.
        let event = unsafe { event.get() }.unwrap_or_default();
        let context = unsafe { Context::from_fields(&*fields, &instance.function) };
        let mut hooks = unsafe { stream.as_ref() }.map(LoaderStream);
        let target = hooks.as_mut().map(|hooks| hooks as &mut dyn StreamTarget);
        instance.invoke(event, &context, target)
    }))
    .unwrap_or_else(|_| Err(glue_failure()));
    let report = instance.outcome(result);
    // SAFETY: the loader owns `outcome`.
    unsafe { *outcome = report };
}

/// The loader's stream, as the handler sees it.
struct LoaderStream<'a>(&'a StreamHooks);

impl StreamTarget for LoaderStream<'_> {
    fn open(&mut self, content_type: &str) -> std::io::Result<Option<RawFd>> {
        let mut socket = -1;
        // SAFETY: the hooks are valid for this invoke, on this thread.
        let status = unsafe {
            (self.0.open)(
                self.0.target,
                Bytes::new(content_type.as_bytes()),
                &mut socket,
            )
        };
        if status == StreamHooks::SENT {
            Ok((socket >= 0).then_some(socket))
        } else {
            Err(std::io::Error::other(
                "the loader could not start the streamed response",
            ))
        }
    }

    fn write(&mut self, pieces: &[&[u8]]) -> std::io::Result<()> {
        let mut lent = [Bytes::ABSENT; 16];
        let mut status = StreamHooks::SENT;
        for batch in pieces.chunks(lent.len()) {
            for (slot, piece) in lent.iter_mut().zip(batch) {
                *slot = Bytes::new(piece);
            }
            // SAFETY: as in `open`; `lent` holds `batch.len()` valid pieces for the call.
            status = unsafe { (self.0.write)(self.0.target, lent.as_ptr(), batch.len()) };
            if status != StreamHooks::SENT {
                break;
            }
        }
        if status == StreamHooks::SENT {
            Ok(())
        } else {
            Err(std::io::Error::other("the loader's stream is closed"))
        }
    }
}

unsafe extern "C" fn idle(instance: *mut c_void, socket: i32) {
    // SAFETY: `instance` came from `init` or `fork`, and the loader calls one function at a time
    // on it.
    let instance = unsafe { &mut *instance.cast::<Instance>() };
    if let Some(handler) = instance.handler.as_mut() {
        // A panic in a background task stays in its task; one here is lamina's own.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| handler.until_readable(socket)));
    }
}

unsafe extern "C" fn free(instance: *mut c_void) {
    if !instance.is_null() {
        // SAFETY: `instance` came from `init` and is freed once.
        drop(unsafe { Box::from_raw(instance.cast::<Instance>()) });
    }
}
