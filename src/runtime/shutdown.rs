//! Graceful shutdown: `#[lamina::handler(shutdown = path)]` runs an async hook when Lambda ends
//! the execution environment.
//!
//! Lambda sends `SIGTERM` before it kills an environment only when an extension is registered.
//! So a function with a hook registers an internal extension that subscribes to no events
//! (`POST /2020-01-01/extension/register`, then `GET …/extension/event/next` from a thread of its
//! own, which never returns), during INIT. On `SIGTERM` (or `SIGINT`, which `cargo lambda watch`
//! forwards on Ctrl-C) a thread of lamina's lets the invocations in flight finish (for at most
//! [`DRAIN`]; under Managed Instances several may be), runs the hook on a tokio runtime of its
//! own for what is left of [`BUDGET`] (Lambda sends `SIGKILL` about 500 ms after `SIGTERM` when
//! only internal extensions are registered), writes out the log lines waiting, and exits with
//! status 0. An invocation still running after [`DRAIN`] is named in an error line: its outcome
//! goes with the process.
//!
//! The signal handler chains to the one it replaced, so a listener the function set up before
//! (`tokio::signal` in `init`, say) still hears the signal; one set up after chains to lamina's
//! by itself, as `signal-hook`, under `tokio::signal`, does.
//!
//! A function without a hook registers nothing and installs no signal handler. The hook borrows
//! the state from another thread, so the state must be `Sync`.

#![allow(unsafe_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::base::endpoint::Endpoint;
use crate::base::lambda_env::RUNTIME_API;
use crate::runtime::extension_api::ExtensionApi;

/// How long shutting down may take after `SIGTERM`: the drain of invocations in flight, then the
/// hook.
pub const BUDGET: Duration = Duration::from_millis(400);

/// How long, at most, the invocations in flight are waited for before the hook runs.
pub const DRAIN: Duration = Duration::from_millis(200);

/// The name the internal extension registers under.
const EXTENSION_NAME: &str = "lamina-graceful-shutdown";

/// The write end of the pipe the signal handler wakes the shutdown thread through.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

/// The signals lamina handles, and for each the handler it replaced (its address, `SIG_DFL` or
/// `SIG_IGN`) and whether that one takes `siginfo` (`SA_SIGINFO`).
const SIGNALS: [libc::c_int; 2] = [libc::SIGTERM, libc::SIGINT];
static REPLACED: [AtomicUsize; 2] = [
    AtomicUsize::new(libc::SIG_DFL),
    AtomicUsize::new(libc::SIG_DFL),
];
static REPLACED_TAKES_INFO: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// The hook, ready to run: called once, on the shutdown thread.
pub(crate) type RunHook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// Registers the extension and arms the signal handler, when running under Lambda. A refused
/// registration leaves the function serving without the hook, and says so.
pub(crate) fn install(hook: RunHook) {
    let Ok(address) = std::env::var(RUNTIME_API) else {
        return;
    };
    let Ok(endpoint) = Endpoint::parse(&address) else {
        return;
    };
    let registered = ExtensionApi::register(
        endpoint,
        EXTENSION_NAME,
        &[],
        false,
        Some(Duration::from_secs(2)),
    );
    let api = match registered {
        Ok((api, _)) => api.without_timeout(),
        Err(problem) => {
            tracing::warn!(
                "graceful shutdown is off: registering its extension failed ({problem}); the \
                 shutdown hook will not run"
            );
            return;
        }
    };
    let waiting = std::thread::Builder::new()
        .name("lamina-extension".into())
        .spawn(move || wait_for_events(api));
    let armed = waiting.map_err(|e| e.to_string()).and_then(|_| arm(hook));
    if let Err(problem) = armed {
        tracing::warn!("graceful shutdown is off: {problem}; the shutdown hook will not run");
    }
}

/// Tells Lambda the extension is ready (its first `event/next`) and waits there. No event an
/// internal extension can subscribe to was asked for, so the wait normally lasts for the life of
/// the process; if the API answers, ask again, and stop when it fails.
fn wait_for_events(mut api: ExtensionApi) {
    loop {
        if let Err(err) = api.next() {
            tracing::debug!(%err, "the extension's event/next ended");
            return;
        }
    }
}

/// Installs the `SIGTERM`/`SIGINT` handler and starts the thread that runs `hook` when one comes.
fn arm(hook: RunHook) -> Result<(), String> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("no pipe: {}", std::io::Error::last_os_error()));
    }
    let [read_end, write_end] = fds;
    SIGNAL_PIPE.store(write_end, Ordering::SeqCst);
    std::thread::Builder::new()
        .name("lamina-shutdown".into())
        .spawn(move || {
            wait_for_signal(read_end);
            run(hook);
        })
        .map_err(|e| e.to_string())?;
    for (slot, signal) in SIGNALS.into_iter().enumerate() {
        // SAFETY: zeroed `sigaction`s are valid; the handler calls `write` and the handler it
        // replaced, which was installed to be called from a signal handler.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            let mut replaced: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as OnSignal as usize;
            action.sa_flags = libc::SA_RESTART | libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            let installed = libc::sigaction(signal, &action, &mut replaced);
            REPLACED_TAKES_INFO[slot]
                .store(replaced.sa_flags & libc::SA_SIGINFO != 0, Ordering::SeqCst);
            // Ours already (installed twice): chaining to it would recurse.
            let ours = replaced.sa_sigaction == action.sa_sigaction;
            let replaced = if ours {
                libc::SIG_DFL
            } else {
                replaced.sa_sigaction
            };
            REPLACED[slot].store(replaced, Ordering::SeqCst);
            installed
        };
        if installed != 0 {
            return Err(format!(
                "no signal handler: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

type OnSignal = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut std::ffi::c_void);

extern "C" fn on_signal(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut std::ffi::c_void,
) {
    let fd = SIGNAL_PIPE.load(Ordering::SeqCst);
    // SAFETY: one byte from a live buffer to the pipe; `write` is async-signal-safe. A full pipe
    // already holds a wake-up.
    unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    let Some(slot) = SIGNALS.iter().position(|&s| s == signal) else {
        return;
    };
    let replaced = REPLACED[slot].load(Ordering::SeqCst);
    if replaced == libc::SIG_DFL || replaced == libc::SIG_IGN {
        return;
    }
    // SAFETY: `replaced` is the handler `sigaction` returned for this signal, called the way its
    // flags say it expects.
    unsafe {
        if REPLACED_TAKES_INFO[slot].load(Ordering::SeqCst) {
            std::mem::transmute::<usize, OnSignal>(replaced)(signal, info, context);
        } else {
            std::mem::transmute::<usize, extern "C" fn(libc::c_int)>(replaced)(signal);
        }
    }
}

/// Blocks until the signal handler writes to the pipe.
fn wait_for_signal(read_end: i32) {
    let mut byte = 0u8;
    loop {
        // SAFETY: one byte into a live buffer.
        let read = unsafe { libc::read(read_end, (&mut byte as *mut u8).cast(), 1) };
        if read > 0 {
            return;
        }
        if read == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // The pipe cannot close while the process lives; a failure this strange is waited out.
            std::thread::park();
        }
    }
}

/// Lets the invocations in flight finish, runs the hook within what is left of the budget,
/// writes out the logs, and ends the process.
fn run(hook: RunHook) -> ! {
    let signalled = Instant::now();
    drain(signalled + DRAIN);
    tracing::info!("shutting down: running the shutdown hook");
    let budget = BUDGET.saturating_sub(signalled.elapsed());
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => {
            let finished = runtime.block_on(async { tokio::time::timeout(budget, hook()).await });
            if finished.is_err() {
                tracing::warn!(
                    "the shutdown hook did not finish within {} ms; exiting without it",
                    BUDGET.as_millis()
                );
            }
            runtime.shutdown_background();
        }
        Err(err) => tracing::error!("the shutdown hook could not run: no tokio runtime: {err}"),
    }
    crate::logging::flush();
    std::process::exit(0)
}

/// Waits until no invocation is in flight, or `until`; names those still running then.
fn drain(until: Instant) {
    let mut running = crate::logging::running_request_ids();
    if running.is_empty() {
        return;
    }
    tracing::info!(
        "shutting down: waiting up to {} ms for {} invocation(s) in flight",
        DRAIN.as_millis(),
        running.len()
    );
    while !running.is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(2));
        running = crate::logging::running_request_ids();
    }
    if !running.is_empty() {
        tracing::error!(
            "shutting down with {} invocation(s) still running after {} ms, whose outcomes end \
             with the process: {}",
            running.len(),
            DRAIN.as_millis(),
            running.join(", ")
        );
    }
}
