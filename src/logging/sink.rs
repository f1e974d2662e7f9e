//! Where finished lines go: straight to the output outside an invocation, and into one buffer
//! during an invocation, written with one `write` when the invocation ends (or the buffer passes
//! [`BOUND`], or its lines have waited [`TICK`] to twice that, or the deadline is near).
//!
//! Lambda may freeze the process as soon as an invocation's outcome is posted, so its lines must
//! be out before that; writing each line as it comes would make every log call a syscall. A line
//! must not wait for ever either: an invocation that times out, runs out of memory or is killed
//! would take the lines that explain it along, and a long one would show nothing until it ends.
//! So a flusher thread, started with the first line an invocation buffers, looks every [`TICK`]:
//! lines it finds waiting twice, with no write in between, are written, and so are any waiting
//! when an invocation's deadline is less than a tick away. The line's own path pays one atomic
//! load for it; an invocation shorter than a tick still leaves with one `write`. The
//! buffer is one per process (per copy of lamina), behind a mutex, so lines from other threads
//! and tasks join it whole, in the order they finished.
//!
//! Which invocation a line belongs to: the one its thread is running, on a worker thread (with
//! `AWS_LAMBDA_MAX_CONCURRENCY` > 1 each worker runs its own); on any other thread (a blocking
//! task, a thread the handler started), the one in flight when there is exactly one, as there
//! always is without concurrency. When one invocation ends, every line waiting is written,
//! each already carrying its own request id.

use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::Level;

use super::Output;
use super::line::{self, Fields, Format, Scope};
use crate::context::Context;

/// An invocation's lines are written out once they pass this many bytes.
pub(crate) const BOUND: usize = 64 * 1024;

/// How often the flusher looks at the buffer: a line waits at most about twice this.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// How many ticks with nothing waiting before the flusher parks until the next buffered line.
const IDLE_TICKS: u32 = 10;

static SINK: Mutex<Sink> = Mutex::new(Sink {
    buf: String::new(),
    output: Output::Stdout,
    format: None,
    scopes: Vec::new(),
});

/// How many invocations are in flight: threads with an outermost [`Invocation`] alive. It changes
/// only under the [`SINK`] lock, so a line sees it agree with the scopes' ids; a nested guard,
/// and a flush with nothing waiting, take no lock at all.
static ACTIVE: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// This thread's slot in `Sink::scopes` (once it has entered a scope) and how many of its
    /// [`Invocation`] guards are alive (the loop's and the handler's, in bin mode).
    static HERE: Cell<(Option<usize>, u32)> = const { Cell::new((None, 0)) };
}

/// Whether lines are waiting in the buffer.
static PENDING: AtomicBool = AtomicBool::new(false);

/// How many times the buffer was written out: the flusher's way to tell that lines it saw
/// waiting a tick ago are still the ones waiting.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Whether the flusher is parked (or not started): the next buffered line wakes (or starts) it.
static FLUSHER_IDLE: AtomicBool = AtomicBool::new(true);

/// The flusher thread, once started.
static FLUSHER: std::sync::OnceLock<Option<std::thread::Thread>> = std::sync::OnceLock::new();

struct Sink {
    buf: String,
    output: Output,
    /// `None` until [`configure`] or the first line, which reads the environment.
    format: Option<Format>,
    /// One per thread that has run an invocation; its strings are reused.
    scopes: Vec<Ids>,
}

/// What each line of one invocation carries.
#[derive(Default)]
struct Ids {
    active: bool,
    request_id: String,
    /// Empty when the invocation has none.
    tenant_id: String,
    /// Empty when the invocation is not sampled.
    trace_id: String,
    /// The invocation's deadline, in milliseconds since the epoch.
    deadline_ms: u64,
}

/// The slot of the invocation a line written on this thread now belongs to.
fn slot_now(scopes: &[Ids]) -> Option<usize> {
    match HERE.get() {
        (Some(slot), depth) if depth > 0 => Some(slot),
        _ if ACTIVE.load(Ordering::Acquire) == 1 => scopes.iter().position(|ids| ids.active),
        _ => None,
    }
}

/// The ids for a line written on this thread now.
fn ids(scopes: &[Ids]) -> Option<&Ids> {
    slot_now(scopes).map(|slot| &scopes[slot])
}

impl Sink {
    fn write_out(&mut self) {
        PENDING.store(false, Ordering::Release);
        if self.buf.is_empty() {
            return;
        }
        WRITES.fetch_add(1, Ordering::Relaxed);
        // Nowhere to report a failed write to: the log is what failed.
        let _ = match self.output {
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(self.buf.as_bytes())
                    .and_then(|()| out.flush())
            }
            Output::Stderr => std::io::stderr().write_all(self.buf.as_bytes()),
        };
        self.buf.clear();
        if self.buf.capacity() > 4 * BOUND {
            // One huge line should not pin its memory for the life of the process.
            self.buf = String::new();
        }
    }

    /// Appends what the attached writer keeps for the invocation in `slot` (for every one with
    /// `None`, for a panic hook) to the buffer.
    #[cfg(feature = "metrics")]
    fn drain_attached(&mut self, slot: Option<usize>) {
        if let Some(write) = ATTACHED.get() {
            write(slot, &mut self.buf);
        }
    }

    #[cfg(not(feature = "metrics"))]
    fn drain_attached(&mut self, _slot: Option<usize>) {}
}

/// What an invocation writes besides its lines, appended to the buffer as it ends: the `metrics`
/// feature's EMF documents, kept by that module per slot of [`Sink::scopes`]. The logs know it
/// only as this function, set by [`attach`] when the first metric is recorded, so a function
/// that records none links none of the documents' code. It gets the ending invocation's slot
/// (`None`: every one's, for a panic hook), under the buffer's lock, and settles
/// [`ATTACHED_DUE`].
#[cfg(feature = "metrics")]
static ATTACHED: std::sync::OnceLock<fn(Option<usize>, &mut String)> = std::sync::OnceLock::new();

/// Whether the attached writer has something waiting: the end of an invocation that recorded
/// nothing skips it with one load.
#[cfg(feature = "metrics")]
pub(crate) static ATTACHED_DUE: AtomicBool = AtomicBool::new(false);

/// Sets what every ending invocation writes after its lines; the first call wins.
#[cfg(feature = "metrics")]
pub(crate) fn attach(write: fn(Option<usize>, &mut String)) {
    ATTACHED.get_or_init(|| write);
}

/// Whether an ending scope has something attached to write.
#[cfg(feature = "metrics")]
fn attached_due() -> bool {
    ATTACHED_DUE.load(Ordering::Acquire)
}

#[cfg(not(feature = "metrics"))]
fn attached_due() -> bool {
    false
}

/// Where something recorded on this thread now belongs.
#[cfg(feature = "metrics")]
pub(crate) enum Recording<'a> {
    /// The invocation in this slot of the buffer's scopes: written when it ends.
    Invocation(usize),
    /// No invocation: to be written now, into this buffer.
    Now(&'a mut String),
}

/// Runs `record`, under the buffer's lock, with where this thread's output now belongs; what it
/// writes into [`Recording::Now`] goes out at once.
#[cfg(feature = "metrics")]
pub(crate) fn record_attached<R>(record: impl FnOnce(Recording<'_>) -> R) -> R {
    let mut sink = lock();
    let sink = &mut *sink;
    if let Some(slot) = slot_now(&sink.scopes) {
        return record(Recording::Invocation(slot));
    }
    let result = record(Recording::Now(&mut sink.buf));
    sink.write_out();
    result
}

fn lock() -> MutexGuard<'static, Sink> {
    SINK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sets where lines go and their format.
pub(crate) fn configure(format: Format, output: Output) {
    let mut sink = lock();
    sink.write_out();
    sink.format = Some(format);
    sink.output = output;
}

/// Writes one event's line.
pub(crate) fn emit(level: Level, message: &str, fields: &Fields) {
    let mut sink = lock();
    let sink = &mut *sink;
    let format = *sink
        .format
        .get_or_insert_with(|| super::format(|k| std::env::var(k).ok()));
    // Taken under the lock, so the buffer's lines are in time order. Text lines have no time:
    // CloudWatch Logs adds it.
    let now = match format {
        Format::Json => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
        Format::Text => Duration::ZERO,
    };
    let in_invocation = ACTIVE.load(Ordering::Acquire) > 0;
    let scope = ids(&sink.scopes).map(|ids| Scope {
        request_id: &ids.request_id,
        tenant_id: Some(ids.tenant_id.as_str()).filter(|t| !t.is_empty()),
        trace_id: Some(ids.trace_id.as_str()).filter(|t| !t.is_empty()),
    });
    line::write_line(
        &mut sink.buf,
        format,
        level,
        now,
        message,
        fields,
        scope.as_ref(),
    );
    if !in_invocation || sink.buf.len() >= BOUND {
        sink.write_out();
    } else {
        PENDING.store(true, Ordering::SeqCst);
        if FLUSHER_IDLE.load(Ordering::SeqCst) {
            wake_flusher();
        }
    }
}

/// Starts the flusher, or wakes it from its park.
#[cold]
fn wake_flusher() {
    if !FLUSHER_IDLE.swap(false, Ordering::SeqCst) {
        return;
    }
    let flusher = FLUSHER.get_or_init(|| {
        std::thread::Builder::new()
            .name("lamina-log-flush".to_owned())
            .spawn(run_flusher)
            .map(|handle| handle.thread().clone())
            .ok()
    });
    // Without a thread to be had, lines wait for their invocation's end, as they always could.
    if let Some(thread) = flusher {
        thread.unpark();
    }
}

/// The flusher's loop: see the module's documentation.
fn run_flusher() {
    let mut idle = 0;
    let mut waiting_since: Option<u64> = None;
    loop {
        std::thread::park_timeout(TICK);
        if !PENDING.load(Ordering::SeqCst) {
            waiting_since = None;
            idle += 1;
            if idle >= IDLE_TICKS {
                FLUSHER_IDLE.store(true, Ordering::SeqCst);
                // A line buffered after the check above, but before `FLUSHER_IDLE` was set,
                // saw the flusher awake and did not wake it: look once more before parking.
                if PENDING.load(Ordering::SeqCst) {
                    FLUSHER_IDLE.store(false, Ordering::SeqCst);
                } else {
                    std::thread::park();
                }
                idle = 0;
            }
            continue;
        }
        idle = 0;
        let writes = WRITES.load(Ordering::Relaxed);
        let waited_a_tick = waiting_since == Some(writes);
        let mut sink = lock();
        if waited_a_tick || sink.deadline_within(TICK) {
            sink.write_out();
            waiting_since = None;
        } else {
            waiting_since = Some(writes);
        }
    }
}

impl Sink {
    /// Whether an invocation in flight reaches its deadline within `span` from now.
    fn deadline_within(&self, span: Duration) -> bool {
        let now_ms = crate::context::epoch_ms_now();
        let span_ms = u64::try_from(span.as_millis()).unwrap_or(u64::MAX);
        self.scopes
            .iter()
            .any(|ids| ids.active && ids.deadline_ms <= now_ms.saturating_add(span_ms))
    }
}

/// The request ids of the invocations in flight in this process (this copy of lamina's): each
/// thread's outermost [`Invocation`] scope that is alive. Empty without taking the lock when none.
pub(crate) fn running_request_ids() -> Vec<String> {
    if ACTIVE.load(Ordering::Acquire) == 0 {
        return Vec::new();
    }
    let sink = lock();
    let running = sink.scopes.iter().filter(|ids| ids.active);
    running.map(|ids| ids.request_id.clone()).collect()
}

/// Writes out the lines buffered so far.
pub(crate) fn flush() {
    if PENDING.load(Ordering::Acquire) {
        lock().write_out();
    }
}

/// [`flush`] for a panic hook: gives up rather than wait when another thread holds the buffer,
/// or this one does (a panic inside lamina's own logging).
pub(crate) fn flush_if_free() {
    let mut sink = match SINK.try_lock() {
        Ok(sink) => sink,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return,
    };
    sink.drain_attached(None);
    sink.write_out();
}

/// An invocation's logging scope: while one is alive, every line of its thread carries the
/// invocation's request id (and sampled trace id) and waits in the buffer; dropping it writes
/// the buffer out.
///
/// The handler side enters one around the user's code, so the copy of lamina that runs the
/// handler flushes before its result goes back; the invoke loop enters one around the whole
/// invocation, so its own lines carry the request id too. A nested scope is the same
/// invocation's: it keeps the outer one's ids and writes out what waits when it ends.
#[must_use = "the scope ends, and its lines are written, when this is dropped"]
pub(crate) struct Invocation {
    _scope: (),
}

impl Invocation {
    /// Starts the scope of the invocation `context` describes.
    pub(crate) fn enter(context: &Context) -> Invocation {
        let (slot, depth) = HERE.get();
        if depth > 0 {
            HERE.set((slot, depth + 1));
            return Invocation { _scope: () };
        }
        let mut sink = lock();
        if ACTIVE.load(Ordering::Acquire) == 0 {
            sink.write_out();
        }
        let slot = slot.unwrap_or_else(|| {
            sink.scopes.push(Ids::default());
            sink.scopes.len() - 1
        });
        let ids = &mut sink.scopes[slot];
        ids.active = true;
        ids.request_id.clear();
        ids.request_id.push_str(context.request_id());
        ids.tenant_id.clear();
        ids.tenant_id.push_str(context.tenant_id().unwrap_or(""));
        ids.deadline_ms = context.deadline_ms();
        ids.trace_id.clear();
        if let Some(root) = sampled_root(context) {
            root.push_to(&mut ids.trace_id);
        }
        HERE.set((Some(slot), 1));
        ACTIVE.fetch_add(1, Ordering::AcqRel);
        Invocation { _scope: () }
    }
}

impl Drop for Invocation {
    fn drop(&mut self) {
        let (slot, depth) = HERE.get();
        HERE.set((slot, depth - 1));
        if depth > 1 {
            // The handler side's scope inside the loop's (bin mode): its metrics leave now, with
            // its lines, before the loop posts the outcome.
            if PENDING.load(Ordering::Acquire) || attached_due() {
                let mut sink = lock();
                sink.drain_attached(slot);
                sink.write_out();
            }
        } else {
            // The outermost scope: under the lock, so a line from another thread is either in
            // this write or written directly after it.
            let mut sink = lock();
            if attached_due() {
                sink.drain_attached(slot);
            }
            sink.write_out();
            if let Some(slot) = slot {
                sink.scopes[slot].active = false;
            }
            ACTIVE.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The `Root=` trace id of an invocation whose X-Ray trace header says `Sampled=1`. A header
/// the X-Ray module would not trace by (malformed, or not sampled) gives none: logs and traces
/// agree. The parse is the context's, which X-Ray reads too; an unsampled header, which Lambda
/// sends with nearly every invocation, is not parsed at all.
fn sampled_root(context: &Context) -> Option<crate::xray::TraceId> {
    context
        .sampled_trace()
        .filter(|trace| trace.is_sampled())
        .map(|trace| trace.root())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_id_is_the_root_of_a_sampled_header() {
        let root = "1-5759e988-bd862e3fe1be46a994272793";
        let sampled_root = |header: &str| {
            let context = crate::testing::context().trace_header(header).build();
            sampled_root(&context).map(|id| id.to_string())
        };
        assert_eq!(
            sampled_root(&format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1")),
            Some(root.to_owned())
        );
        assert_eq!(
            sampled_root(&format!("Sampled=1; Root={root}; Lineage=a87bd80c:1")),
            Some(root.to_owned())
        );
        assert_eq!(
            sampled_root(&format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=0")),
            None
        );
        assert_eq!(sampled_root(&format!("Root={root}")), None);
        assert_eq!(sampled_root("Parent=53995c3f42cd8ad8;Sampled=1"), None);
        assert_eq!(sampled_root("Root=;Sampled=1"), None);
        assert_eq!(sampled_root(""), None);
    }
}
