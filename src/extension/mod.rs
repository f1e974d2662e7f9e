//! Lambda extensions on lamina: the Extensions API, and the Telemetry and Logs APIs.
//!
//! An external extension is a program of its own, which Lambda starts from
//! `/opt/extensions/NAME` (a layer's `extensions/NAME`) beside the function; its `main` hands
//! lamina a handler for the events it registers for:
//!
//! ```no_run
//! use lamina::extension::Event;
//!
//! async fn on_event(event: Event) -> Result<(), lamina::Error> {
//!     match event {
//!         Event::Invoke(invoke) => println!("invoked: {}", invoke.request_id()),
//!         Event::Shutdown(shutdown) => println!("shutting down: {}", shutdown.reason()),
//!         _ => {}
//!     }
//!     Ok(())
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), lamina::Error> {
//!     lamina::extension::run(on_event).await
//! }
//! ```
//!
//! [`Extension`] sets the rest: the name, the events, state made once by an `init` and
//! borrowed by every call, a telemetry subscription and its handler, and
//! [`Extension::spawn`] for an internal extension, which runs inside the function's own process.
//!
//! What lamina does for the extension:
//!
//! - **Registers** it (`Lambda-Extension-Name`: the executable's file name unless
//!   [`Extension::name`] says otherwise; the account id asked for) and hands `init` the
//!   [`Registration`]. An `init` that fails, or a subscription Lambda refuses, is reported to
//!   `/extension/init/error` (`Lambda-Extension-Function-Error-Type: Extension.<Reason>`) and
//!   returned, so `main` ends with a non-zero status, as Lambda expects.
//! - **Waits for events** with `event/next` on a thread of its own, so the runtime's other
//!   tasks (and the telemetry handler) run meanwhile. A handler's error on one event is
//!   logged and the next event is waited for, unless [`Extension::stop_on_error`] asked to stop:
//!   then it is reported to `/extension/exit/error` and returned. A panic counts as an error.
//! - **Shuts down**: after `SHUTDOWN` the handler runs until it returns or until shortly before
//!   the event's deadline, whichever comes first; then `run` returns (or, at the deadline,
//!   lamina writes out the log lines waiting and ends the process with status 0).
//! - **Telemetry**: see [`Subscription`]. Batches are handed to the telemetry handler one at a
//!   time, concurrently with the event handler.
//!
//! Lambda limits what an extension may register for, and lamina registers what is allowed,
//! saying in a log line what it left out:
//!
//! | | outside Managed Instances | under Managed Instances |
//! |---|---|---|
//! | external | `INVOKE`, `SHUTDOWN` | `SHUTDOWN` only (Lambda refuses `INVOKE` with `403`) |
//! | internal | `INVOKE` (never `SHUTDOWN`) | no events |
//!
//! A registration refused with `403` while it asked for `INVOKE` is made once more without it.

mod batch;
mod driver;
mod event;
mod listener;
mod next;
mod record;
mod registration;
mod subscription;

use std::future::Future;
use std::pin::Pin;

pub use event::{Event, EventKind, Invoke, Shutdown, ShutdownReason};
pub use record::{
    ExtensionState, InitStart, LogLine, LogsDropped, PhaseDone, PhaseMetrics, PhaseReport, Record,
    Report, ReportMetrics, RuntimeDone, RuntimeDoneMetrics, Span, Start, Status, SubscriptionState,
    Telemetry, Tracing,
};
pub use registration::Registration;
pub use subscription::{MANAGED_INSTANCES_SCHEMA_VERSION, SCHEMA_VERSION, Stream, Subscription};

use crate::error::{Error, IntoError};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;
type Init<S> = Box<dyn FnOnce(Registration) -> BoxFuture<'static, Result<S, Error>> + Send>;
type OnBatch<S> =
    Box<dyn FnMut(Vec<Telemetry>, &'static S) -> BoxFuture<'static, Result<(), Error>> + Send>;

/// Runs an external extension registered for `INVOKE` and `SHUTDOWN` (`SHUTDOWN` alone under
/// Managed Instances), calling `handler` for each event. Returns after `SHUTDOWN`.
///
/// # Errors
/// The registration failed, the Extensions API failed, or (after [`Extension::stop_on_error`])
/// the handler did.
pub async fn run<H, Fut, E>(mut handler: H) -> Result<(), Error>
where
    H: FnMut(Event) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: IntoError,
{
    Extension::new().run(move |event, _| handler(event)).await
}

/// An extension, configured: built with [`Extension::new`] (no state) or
/// [`Extension::with_init`], then [`Extension::run`] (external) or [`Extension::spawn`]
/// (internal).
///
/// ```no_run
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use lamina::extension::{Event, Extension, Record, Registration, Stream, Subscription, Telemetry};
///
/// #[derive(Default)]
/// struct Counts { invocations: AtomicU64, billed_ms: AtomicU64 }
///
/// async fn init(_registration: Registration) -> Result<Counts, lamina::Error> {
///     Ok(Counts::default())
/// }
///
/// async fn on_event(event: Event, counts: &Counts) -> Result<(), lamina::Error> {
///     if let Event::Invoke(_) = event {
///         counts.invocations.fetch_add(1, Ordering::Relaxed);
///     }
///     Ok(())
/// }
///
/// async fn on_batch(batch: Vec<Telemetry>, counts: &Counts) -> Result<(), lamina::Error> {
///     for item in batch {
///         if let Record::Report(report) = item.record {
///             let billed = report.metrics.billed_duration_ms.unwrap_or(0);
///             counts.billed_ms.fetch_add(billed, Ordering::Relaxed);
///         }
///     }
///     Ok(())
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), lamina::Error> {
///     Extension::with_init(init)
///         .name("billing-counter")
///         .telemetry(Subscription::telemetry(&[Stream::Platform]), on_batch)
///         .run(on_event)
///         .await
/// }
/// ```
pub struct Extension<S: 'static = ()> {
    name: Option<String>,
    events: Option<Vec<EventKind>>,
    init: Init<S>,
    telemetry: Option<(Subscription, OnBatch<S>)>,
    stop_on_error: bool,
}

impl Extension<()> {
    /// An extension without state.
    pub fn new() -> Self {
        Extension::with_init(|_| async { Ok::<(), Error>(()) })
    }
}

impl Default for Extension<()> {
    fn default() -> Self {
        Extension::new()
    }
}

impl<S: 'static> Extension<S> {
    /// An extension whose state `init` makes once, after the registration and before the
    /// first event; every handler call borrows it. An `init` error is reported to
    /// `/extension/init/error`.
    pub fn with_init<I, Fut, E>(init: I) -> Self
    where
        I: FnOnce(Registration) -> Fut + Send + 'static,
        Fut: Future<Output = Result<S, E>> + 'static,
        E: IntoError,
    {
        Extension {
            name: None,
            events: None,
            init: Box::new(move |registration| {
                let made = init(registration);
                Box::pin(async move { made.await.map_err(IntoError::into_error) })
            }),
            telemetry: None,
            stop_on_error: false,
        }
    }

    /// The name to register under (`Lambda-Extension-Name`). Lambda requires an external
    /// extension's to be its file name in `/opt/extensions`, which is the default.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The events to register for (default: every event allowed; see the
    /// [module's table](self)). Events Lambda does not allow this extension are left out, with
    /// a log line.
    pub fn events(mut self, events: &[EventKind]) -> Self {
        self.events = Some(events.to_vec());
        self
    }

    /// Subscribes to telemetry (or logs) and hands every batch to `handler`.
    pub fn telemetry<H, Fut, E>(mut self, subscription: Subscription, mut handler: H) -> Self
    where
        H: FnMut(Vec<Telemetry>, &'static S) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: IntoError,
    {
        let handler: OnBatch<S> = Box::new(move |batch, state| {
            let handled = handler(batch, state);
            Box::pin(async move { handled.await.map_err(IntoError::into_error) })
        });
        self.telemetry = Some((subscription, handler));
        self
    }

    /// Ends the extension on the first error of its event handler: the error is reported to
    /// `/extension/exit/error` and returned from [`Extension::run`].
    pub fn stop_on_error(mut self) -> Self {
        self.stop_on_error = true;
        self
    }

    /// Runs the extension as an external one, calling `handler` for each event, until
    /// `SHUTDOWN` has been handled. Call it on a tokio runtime (any flavour, with its timers
    /// on for the handler's own use).
    ///
    /// # Errors
    /// The registration, `init` or the subscription failed; the Extensions API failed; or,
    /// after [`Extension::stop_on_error`], the handler did.
    pub async fn run<H, Fut, E>(self, handler: H) -> Result<(), Error>
    where
        H: FnMut(Event, &'static S) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: IntoError,
    {
        driver::run(self, handler, driver::Kind::External).await
    }

    /// Starts the extension as an internal one, inside the function's process: call it from
    /// the function's `init`, which it blocks until Lambda has registered the extension (and
    /// the extension's `init` and subscription are done); then it serves events on a thread of
    /// its own, with a current-thread tokio runtime of its own.
    ///
    /// # Errors
    /// The registration, `init` or the subscription failed, or no thread could be started.
    pub fn spawn<H, Fut, E>(self, handler: H) -> Result<Registration, Error>
    where
        H: FnMut(Event, &'static S) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>>,
        E: IntoError,
    {
        driver::spawn(self, handler)
    }
}
