//! The invoke loop: INIT once, then `/next` → handler → `/response` or `/error`, forever.
//!
//! The loop is synchronous on purpose. Lambda runs one invocation at a time per environment and
//! freezes the process between them, so the loop blocks on one keep-alive socket and hands each
//! event to the handler, which runs the user's future to completion on a tokio runtime built once
//! in INIT. No thread, task or poll stands between the socket and the handler.
//!
//! Lambda Managed Instances hand one process up to `AWS_LAMBDA_MAX_CONCURRENCY` invocations at
//! once. Then the same loop runs on that many threads, each a worker with its own keep-alive
//! connection, its own handler (from [`Handler::fork`]: the shared state, its own
//! current-thread tokio runtime) and so its own `/next` long-poll, as Lambda expects. A handler
//! that hogs its thread (CPU-bound work, a blocking call) delays only its own invocation: no
//! worker waits on another's executor to poll `/next` or post an outcome. The process ends when
//! every worker has stopped on a Runtime API failure.

pub(crate) mod api;
pub(crate) mod deadline;
#[cfg_attr(not(feature = "extension"), allow(dead_code))]
pub(crate) mod extension_api;
pub(crate) mod invoke;
pub(crate) mod local;
pub(crate) mod panic;
pub mod shutdown;
mod stream_request;
#[cfg(any(feature = "stream", feature = "http"))]
pub(crate) mod stream_writer;
pub(crate) mod trace_env;

use std::process::ExitCode;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use crate::base::endpoint::Endpoint;
use crate::base::lambda_env::{self as config, FunctionConfig};
use crate::error::{ApiError, ApiErrorKind, Error, ResponseTooLarge};
use crate::handler::{Handler, Reply};
use crate::logging;
use api::{Delivery, Next, RuntimeApi};
use stream_request::{ApiStream, StreamState, broken_stream, finish_stream};

/// [`Error::InvalidEvent`]'s `errorType`, which is also how it arrives from a handler library.
const EVENT_ERROR_TYPE: &str = "Runtime.InvalidEvent";

/// The response buffer each worker starts with, and the most it keeps between invocations.
const RESPONSE_START: usize = 4096;
const RESPONSE_KEPT: usize = 64 * 1024;

/// How long to wait before asking again after `/next` said there is nothing (`204`).
const NOTHING_PAUSE: Duration = Duration::from_millis(10);

/// Runs the function: under Lambda when `AWS_LAMBDA_RUNTIME_API` is set, else one local
/// invocation. `init` builds the handler; it runs once, before the first invocation.
pub(crate) fn start<H: Handler>(init: impl FnOnce() -> Result<H, Error>) -> ExitCode {
    match std::env::var(config::RUNTIME_API) {
        Ok(address) => serve(&address, init),
        Err(std::env::VarError::NotPresent) => crate::runtime::local::invoke(init),
        Err(std::env::VarError::NotUnicode(_)) => {
            let _logging = logging::install(logging::Output::Stdout);
            tracing::error!("`{}` is not valid UTF-8; exiting", config::RUNTIME_API);
            ExitCode::FAILURE
        }
    }
}

/// Serves invocations from the Runtime API at `address` until it fails.
fn serve<H: Handler>(address: &str, init: impl FnOnce() -> Result<H, Error>) -> ExitCode {
    let logging = logging::install(logging::Output::Stdout);
    let endpoint = match Endpoint::parse(address) {
        Ok(endpoint) => endpoint,
        Err(err) => {
            // Without an address there is nobody to report an init error to.
            tracing::error!("{err}; exiting");
            return ExitCode::FAILURE;
        }
    };
    let mut api = RuntimeApi::new(endpoint);
    panic::install_hook();
    panic::enter_init(api.endpoint());
    let started = FunctionConfig::from_env(|k| std::env::var(k).ok())
        .map_err(Error::Config)
        .and_then(|function| Ok((Arc::new(function), panic::catch(init)?)));
    panic::leave();
    // INIT is over: lamina's subscriber becomes the process's, unless `init` installed one.
    drop(logging);
    match started {
        Ok((function, handler)) if function.max_concurrency > 1 => {
            if handler.streams() {
                serve_concurrently::<_, true>(api, &function, handler)
            } else {
                serve_concurrently::<_, false>(api, &function, handler)
            }
        }
        Ok((function, handler)) if handler.streams() => {
            serve_one::<_, true>(api, &function, handler, 0)
        }
        Ok((function, handler)) => serve_one::<_, false>(api, &function, handler, 0),
        Err(err) => {
            let err = err.into_init_error();
            tracing::error!(
                error_type = err.error_type(),
                "init failed: {}",
                err.message()
            );
            match api.fail_init(&err) {
                Ok(Delivery::Accepted) => {}
                Ok(other) => tracing::warn!(?other, "the Runtime API did not take the init error"),
                Err(api_err) => tracing::error!(
                    "could not report the init error: {}",
                    Error::RuntimeApi(api_err).message()
                ),
            }
            ExitCode::FAILURE
        }
    }
}

/// Serves up to `function.max_concurrency` invocations at once: this thread and one worker
/// thread per forked handler, each with its own connection.
fn serve_concurrently<H: Handler, const STREAMS: bool>(
    api: RuntimeApi,
    function: &Arc<FunctionConfig>,
    handler: H,
) -> ExitCode {
    let workers = function.max_concurrency;
    let (ready, started) = mpsc::channel();
    for index in 1..workers {
        let Some(fork) = handler.fork() else { break };
        let (endpoint, function, ready) =
            (api.endpoint().clone(), Arc::clone(function), ready.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("lamina-worker-{index}"))
            .spawn(move || {
                let handler = match panic::catch(fork) {
                    Ok(Some(handler)) => handler,
                    Ok(None) => return drop(ready.send(Ok(false))),
                    Err(err) => return drop(ready.send(Err(err))),
                };
                let _ = ready.send(Ok(true));
                drop(ready);
                // A worker's loop ends only on a fatal Runtime API error (a `5xx`: the documented
                // "non-recoverable state"), which is the whole environment's: end the process
                // with it, as the single loop does, instead of serving on with a slot fewer
                // while the main thread waits in `/next`.
                let code =
                    serve_one::<_, STREAMS>(RuntimeApi::new(endpoint), &function, handler, index);
                logging::flush();
                exit_process(code);
            });
        if let Err(err) = spawned {
            tracing::error!("could not start worker thread {index}: {err}");
        }
    }
    drop(ready);
    // Every worker builds its handler before this thread's first invocation: a handler library
    // is forked only while its first instance is idle (see `lamina::abi`).
    let mut serving = 1;
    for built in started {
        match built {
            Ok(true) => serving += 1,
            Ok(false) => {}
            Err(err) => tracing::error!(
                error_type = err.error_type(),
                "a worker could not build its handler: {}",
                err.message()
            ),
        }
    }
    if serving == 1 {
        tracing::warn!(
            "{} is {workers}, but this function serves one invocation at a time: its handler \
             cannot be shared by worker threads (a `#[lamina::handler]` whose state is not \
             `Sync`, or a `lamina::compat` service). Make the state `Sync` (put what changes \
             behind a `Mutex` or atomics) to serve {workers} at once",
            config::MAX_CONCURRENCY
        );
    } else if serving < workers {
        tracing::warn!("serving {serving} invocations at once of the {workers} asked for");
    }
    // Returned only on a fatal error; the workers, parked in `/next`, end with the process
    // (joining them would wait for ever).
    serve_one::<_, STREAMS>(api, function, handler, 0)
}

/// How soon after its restart a loop may panic again before the process gives up on it.
const RESTART_WINDOW: Duration = Duration::from_secs(1);

/// Runs one thread's invoke loop (`worker` 0 is the main thread's), and runs it again, on a new
/// connection, when it panics outside any handler (a handler's panics are caught and reported as
/// its invocation's error, and never get here): the panic is logged, and the thread keeps its
/// slot instead of leaving the function with one fewer. A loop that panics again within
/// [`RESTART_WINDOW`] of its restart is broken for good: the process ends with a failure.
fn serve_one<H: Handler, const STREAMS: bool>(
    api: RuntimeApi,
    function: &Arc<FunctionConfig>,
    mut handler: H,
    worker: u32,
) -> ExitCode {
    let endpoint = api.endpoint().clone();
    let mut api = Some(api);
    supervised(worker, || {
        let mut api = api
            .take()
            .unwrap_or_else(|| RuntimeApi::new(endpoint.clone()));
        invoke_loop::<_, STREAMS>(&mut api, function, &mut handler)
    })
}

/// Calls `serve` until it returns, again after each panic, unless two come within
/// [`RESTART_WINDOW`].
fn supervised(worker: u32, mut serve: impl FnMut() -> ExitCode) -> ExitCode {
    let mut restarted: Option<std::time::Instant> = None;
    loop {
        let payload = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut serve)) {
            Ok(code) => return code,
            Err(payload) => payload,
        };
        let message = panic::payload_text(&*payload);
        if restarted.is_some_and(|at| at.elapsed() < RESTART_WINDOW) {
            tracing::error!(
                worker,
                "the invoke loop panicked again within {} ms of its restart ({message}); exiting",
                RESTART_WINDOW.as_millis()
            );
            return ExitCode::FAILURE;
        }
        tracing::error!(
            worker,
            "the invoke loop panicked outside any handler ({message}); an invocation it had \
             received, if any, gets no outcome; serving on, on a new connection"
        );
        restarted = Some(std::time::Instant::now());
    }
}

/// Ends the process from a worker thread with the code its loop returned.
fn exit_process(code: ExitCode) -> ! {
    std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
}

/// The loop of one worker; `STREAMS` is the handler's [`Handler::streams`], so a function that
/// never streams has no streaming code in it.
fn invoke_loop<H: Handler, const STREAMS: bool>(
    api: &mut RuntimeApi,
    function: &Arc<FunctionConfig>,
    handler: &mut H,
) -> ExitCode {
    let mut response = Vec::with_capacity(RESPONSE_START);
    loop {
        let next = match api.next(function, &mut |socket| handler.until_readable(socket)) {
            Ok(next) => next,
            Err(err) => return fatal(err),
        };
        let (context, result, stream, _logs) = match next {
            Next::Invocation { context, event } => {
                // The loop's own lines about this invocation carry its request id too.
                let logs = logging::Invocation::enter(&context);
                panic::enter_invocation(&context);
                response.clear();
                let (result, stream) = if STREAMS {
                    let mut stream = ApiStream::new(api, &context);
                    let mut reply = Reply::streamed(&mut response, &mut stream);
                    let result = panic::catch(|| handler.call(&event, &context, &mut reply));
                    (result, stream.state)
                } else {
                    let mut reply = Reply::whole(&mut response);
                    let result = panic::catch(|| handler.call(&event, &context, &mut reply));
                    (result, StreamState::Unopened)
                };
                panic::leave();
                api.give_back(event);
                (context, result, stream, logs)
            }
            Next::Unusable(fault) => {
                let problem = format!("invocation skipped: {}", fault.problem);
                let Some(request_id) = fault.request_id else {
                    tracing::error!("{problem}; without a request id it cannot be answered");
                    continue;
                };
                let err = Error::RuntimeApi(ApiError::new(ApiErrorKind::Protocol {
                    path: "/2018-06-01/runtime/invocation/next".to_owned(),
                    problem,
                }));
                if let Err(api_err) = finish(api, &request_id, None, None, Err(err)) {
                    return fatal(api_err);
                }
                continue;
            }
            Next::Nothing => {
                std::thread::sleep(NOTHING_PAUSE);
                continue;
            }
        };
        let finished = match stream {
            StreamState::Open { bytes } if STREAMS => {
                finish_stream(api, context.request_id(), bytes, result)
            }
            StreamState::Broken { bytes, problem } if STREAMS => {
                broken_stream(context.request_id(), bytes, &problem, result);
                Ok(())
            }
            _ => finish(
                api,
                context.request_id(),
                context.invocation_id.get(),
                context.xray_trace_header(),
                result.map(|()| &response[..]),
            ),
        };
        if let Err(err) = finished {
            return fatal(err);
        }
        if response.capacity() > RESPONSE_KEPT {
            // One large response should not pin its memory in every worker for good.
            response = Vec::with_capacity(RESPONSE_START);
        }
    }
}

/// Lambda's limit for a buffered response, which its Runtime API enforces with `413`
/// ("Exceeded maximum allowed payload size (6291556 bytes)"): 6 MiB and 100 bytes. A larger
/// response is failed without being sent, rather than written in full only to be refused.
pub(crate) const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// Posts the outcome of one invocation. A response refused as too large (`413`) is replaced by
/// an error the caller can read; other refusals (`4xx`: the invocation already ended) are logged.
/// `invocation_id` is echoed; `trace_header` is the invocation's, for the X-Ray error cause of a
/// failure.
fn finish(
    api: &mut RuntimeApi,
    request_id: &str,
    invocation_id: Option<&str>,
    trace_header: Option<&str>,
    result: Result<&[u8], Error>,
) -> Result<(), ApiError> {
    let delivery = match &result {
        Ok(body) if body.len() > MAX_RESPONSE_BYTES => Delivery::TooLarge,
        Ok(body) => {
            logging::flush();
            api.respond(request_id, invocation_id, body)?
        }
        Err(err) => {
            if err.error_type() == EVENT_ERROR_TYPE {
                // The handler's side logged where and why, without the event's values; serde's
                // message, which quotes them, goes only to the caller that sent them.
                tracing::error!(
                    error_type = EVENT_ERROR_TYPE,
                    "invocation failed: the event did not decode (the error document sent to \
                     the caller has serde's full message)"
                );
            } else {
                tracing::error!(
                    error_type = err.error_type(),
                    "invocation failed: {}",
                    err.message()
                );
            }
            // Lambda may freeze the process once the outcome is posted.
            logging::flush();
            api.fail(request_id, invocation_id, err, trace_header)?
        }
    };
    match (delivery, result) {
        (Delivery::Accepted, _) => Ok(()),
        (Delivery::TooLarge, Ok(body)) => {
            let err = Error::ResponseTooLarge(ResponseTooLarge::new(body.len()));
            finish(api, request_id, invocation_id, trace_header, Err(err))
        }
        (Delivery::TooLarge, Err(_)) => {
            tracing::error!(
                request_id,
                "the Runtime API refused even the error document as too large"
            );
            Ok(())
        }
        (Delivery::Gone, _) => {
            tracing::warn!(
                request_id,
                "the invocation ended (timed out) before its outcome was posted; the Runtime API \
                 refused it with 410 Gone"
            );
            Ok(())
        }
        (Delivery::Rejected { status, body }, _) => {
            tracing::warn!(
                request_id,
                status,
                body,
                "the Runtime API refused the invocation's outcome"
            );
            Ok(())
        }
    }
}

fn fatal(err: ApiError) -> ExitCode {
    tracing::error!("{}; exiting", Error::RuntimeApi(err).message());
    ExitCode::FAILURE
}

#[cfg(all(test, panic = "unwind"))]
mod tests {
    use super::*;

    #[test]
    fn a_loop_that_panics_outside_a_handler_is_run_again() {
        let mut runs = 0;
        let code = supervised(3, || {
            runs += 1;
            if runs == 1 {
                panic!("a bug in the loop");
            }
            ExitCode::from(7)
        });
        assert_eq!((runs, code), (2, ExitCode::from(7)));
    }

    #[test]
    fn a_loop_that_panics_again_right_after_its_restart_ends_the_process() {
        let mut runs = 0;
        let code = supervised(1, || {
            runs += 1;
            panic!("broken for good");
        });
        assert_eq!((runs, code), (2, ExitCode::FAILURE));
    }
}
