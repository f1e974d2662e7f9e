//! The extension's life: register, `init`, subscribe, then events and telemetry batches until
//! `SHUTDOWN`.

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::base::endpoint::Endpoint;
use crate::base::lambda_env::{MAX_CONCURRENCY, RUNTIME_API};
use crate::error::{ConfigError, Error, IntoError, PanicError, write_diagnostic};
use crate::extension::event::{self, Event, EventKind, Parsed};
use crate::extension::listener::{self, Delivery};
use crate::extension::next::NextThread;
use crate::extension::{BoxFuture, Extension, OnBatch, Registration, Subscription};
use crate::logging;
use crate::runtime::extension_api::{ExtensionApi, LOGS, Stop};
use crate::runtime::panic::payload_text;

/// How long before a `SHUTDOWN` event's deadline lamina ends the process itself.
const SHUTDOWN_MARGIN: Duration = Duration::from_millis(20);

/// Which side of the function's process the extension runs on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    External,
    Internal,
}

/// Runs the extension on the current tokio runtime until `SHUTDOWN` (or a fatal error).
pub(crate) async fn run<S, H, Fut, E>(
    extension: Extension<S>,
    handler: H,
    kind: Kind,
) -> Result<(), Error>
where
    H: FnMut(Event, &'static S) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: IntoError,
{
    let logging = (kind == Kind::External).then(|| logging::install(logging::Output::Stdout));
    let started = start(extension, kind).await;
    drop(logging);
    let started = started?;
    serve(started, handler).await
}

/// Registers the extension on this thread, then runs it on a thread of its own.
pub(crate) fn spawn<S, H, Fut, E>(
    extension: Extension<S>,
    handler: H,
) -> Result<Registration, Error>
where
    H: FnMut(Event, &'static S) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>>,
    E: IntoError,
{
    let (registered, registration) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("lamina-extension".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    let _ = registered.send(Err(crate::runtime::invoke::tokio_error(err)));
                    return;
                }
            };
            runtime.block_on(async move {
                match start(extension, Kind::Internal).await {
                    Ok(started) => {
                        let _ = registered.send(Ok(started.registration.clone()));
                        if let Err(err) = serve(started, handler).await {
                            tracing::error!("the internal extension stopped: {}", err.message());
                        }
                    }
                    Err(err) => {
                        let _ = registered.send(Err(err));
                    }
                }
            });
            runtime.shutdown_background();
        })
        .map_err(|err| Error::with_type("Extension.NoThread", err))?;
    registration.recv().unwrap_or_else(|_| {
        Err(Error::new(
            "Extension.Stopped",
            "the internal extension's thread ended before it registered",
        ))
    })
}

/// A registered extension, its state made, its subscription made.
struct Started<S: 'static> {
    api: ExtensionApi,
    registration: Registration,
    state: &'static S,
    telemetry: Option<(mpsc::Receiver<Delivery>, OnBatch<S>)>,
    stop_on_error: bool,
}

async fn start<S>(extension: Extension<S>, kind: Kind) -> Result<Started<S>, Error> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::new(
            "Extension.NoRuntime",
            "lamina::extension runs on a tokio runtime: call it from `#[tokio::main]`",
        ));
    }
    let address =
        std::env::var(RUNTIME_API).map_err(|_| Error::Config(ConfigError::missing(RUNTIME_API)))?;
    let endpoint = Endpoint::parse(&address).map_err(Error::Config)?;
    let managed = std::env::var(MAX_CONCURRENCY).is_ok_and(|v| !v.trim().is_empty());
    let name = extension.name.clone().unwrap_or_else(default_name);
    let events = allowed(extension.events.as_deref(), kind, managed);
    let (mut api, body) = register(endpoint, &name, &events)?;
    let registration = Registration::parse(&body, api.id());

    let made = Caught::new((extension.init)(registration.clone())).await;
    let state: &'static S = match made {
        Ok(state) => Box::leak(Box::new(state)),
        Err(err) => return Err(stop(&mut api, Stop::Init, err)),
    };
    let telemetry = match extension.telemetry {
        Some((subscription, on_batch)) => match subscribe(&mut api, subscription, managed) {
            Ok(deliveries) => Some((deliveries, on_batch)),
            Err(err) => return Err(stop(&mut api, Stop::Init, err)),
        },
        None => None,
    };
    Ok(Started {
        api,
        registration,
        state,
        telemetry,
        stop_on_error: extension.stop_on_error,
    })
}

/// The executable's file name, as Lambda started it (`/opt/extensions/NAME`).
fn default_name() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_exe().ok())
        .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "lamina-extension".to_owned())
}

/// The events to register for: what was asked (or everything) less what Lambda does not allow
/// this kind of extension here.
fn allowed(asked: Option<&[EventKind]>, kind: Kind, managed: bool) -> Vec<EventKind> {
    let permitted: &[EventKind] = match (kind, managed) {
        (Kind::External, false) => &[EventKind::Invoke, EventKind::Shutdown],
        (Kind::External, true) => &[EventKind::Shutdown],
        (Kind::Internal, false) => &[EventKind::Invoke],
        (Kind::Internal, true) => &[],
    };
    let Some(asked) = asked else {
        return permitted.to_vec();
    };
    let (kept, left): (Vec<EventKind>, Vec<EventKind>) =
        asked.iter().partition(|event| permitted.contains(event));
    if !left.is_empty() {
        let names: Vec<&str> = left.iter().map(|e| e.as_str()).collect();
        let why = match (kind, managed) {
            (Kind::Internal, true) => {
                "an internal extension under Managed Instances gets no events"
            }
            (Kind::Internal, false) => "an internal extension gets no SHUTDOWN",
            _ => "an external extension under Managed Instances gets SHUTDOWN only",
        };
        tracing::warn!("not registering for {}: {why}", names.join(", "));
    }
    kept
}

/// Registers; a `403` for a registration with `INVOKE` (Managed Instances refuse it) is asked
/// again without.
fn register(
    endpoint: Endpoint,
    name: &str,
    events: &[EventKind],
) -> Result<(ExtensionApi, Vec<u8>), Error> {
    let names = |events: &[EventKind]| events.iter().map(|e| e.as_str()).collect::<Vec<_>>();
    match ExtensionApi::register(endpoint.clone(), name, &names(events), true, None) {
        Err(Error::RuntimeApi(err))
            if err.status() == Some(403) && events.contains(&EventKind::Invoke) =>
        {
            tracing::warn!(
                "Lambda refused INVOKE events ({err}); registering without them (Managed Instances \
                 send extensions no INVOKE)"
            );
            let rest: Vec<EventKind> = events
                .iter()
                .copied()
                .filter(|e| *e != EventKind::Invoke)
                .collect();
            ExtensionApi::register(endpoint, name, &names(&rest), true, None)
        }
        registered => registered,
    }
}

/// Binds the listener, subscribes it, and starts serving it.
fn subscribe(
    api: &mut ExtensionApi,
    subscription: Subscription,
    managed: bool,
) -> Result<mpsc::Receiver<Delivery>, Error> {
    let subscription = if managed && subscription.path == LOGS {
        tracing::warn!("Managed Instances have no Logs API; subscribing through the Telemetry API");
        subscription.through_telemetry()
    } else {
        subscription
    };
    let listener = listener::bind(subscription.port).map_err(|err| {
        Error::new(
            "Extension.TelemetryListener",
            format!(
                "the telemetry listener could not bind port {}: {err}",
                subscription.port
            ),
        )
    })?;
    let body = subscription.body(&listener.uri, managed);
    let (status, answer) = api.subscribe(subscription.path, body.as_bytes())?;
    if !(200..300).contains(&status) {
        return Err(Error::new(
            "Extension.SubscriptionRefused",
            format!(
                "Lambda refused the subscription to `{}` with {status}: {answer}",
                subscription.path
            ),
        ));
    }
    if status == 202 {
        tracing::info!("the subscription was accepted but will deliver nothing here: {answer}");
    }
    let (deliveries, received) = mpsc::channel(1);
    listener
        .serve(deliveries)
        .map_err(|err| Error::with_type("Extension.NoThread", err))?;
    Ok(received)
}

/// Reports `err` where Lambda expects it, logs it, and returns it.
fn stop(api: &mut ExtensionApi, stop: Stop, err: Error) -> Error {
    let reason = err.error_type().rsplit('.').next().unwrap_or("Unknown");
    let header = format!("Extension.{reason}");
    let mut body = Vec::with_capacity(128);
    write_diagnostic(err.error_type(), &err.message(), &mut body);
    tracing::error!("the extension stops: {}", err.message());
    if let Err(report) = api.report(stop, &header, &body) {
        tracing::warn!(
            "the extension's error could not be reported: {}",
            report.message()
        );
    }
    logging::flush();
    err
}

/// The event lane: waiting for `event/next`, or running the handler on an event.
enum Lane<Fut> {
    Waiting,
    Handling(Caught<Fut>, EventKind),
}

/// The telemetry lane's batch in the handler, and where its outcome goes.
type BatchSlot = Option<(
    Caught<BoxFuture<'static, Result<(), Error>>>,
    std::sync::mpsc::SyncSender<Result<(), String>>,
)>;

/// What one turn of the loop saw.
enum Step {
    Polled(Result<Vec<u8>, Error>),
    Handled(Result<(), Error>, EventKind),
    Delivered(Option<Delivery>),
    BatchHandled(Result<(), Error>),
}

async fn serve<S, H, Fut, E>(started: Started<S>, mut handler: H) -> Result<(), Error>
where
    H: FnMut(Event, &'static S) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: IntoError,
{
    let Started {
        api,
        state,
        telemetry,
        stop_on_error,
        ..
    } = started;
    let (mut deliveries, mut on_batch) = match telemetry {
        Some((deliveries, on_batch)) => (Some(deliveries), Some(on_batch)),
        None => (None, None),
    };
    let mut next = NextThread::start(api)?;
    let mut lane: Lane<Fut> = Lane::Waiting;
    let mut batch: BatchSlot = None;
    loop {
        let step =
            poll_fn(|cx| poll_step(cx, &mut next, &mut lane, &mut batch, &mut deliveries)).await;
        match step {
            Step::Polled(Ok(body)) => match event::parse(&body) {
                Ok(Parsed::Event(event)) => {
                    let kind = event.kind();
                    if let Event::Shutdown(shutdown) = &event {
                        end_at(shutdown.deadline_ms());
                    }
                    let handling = Caught::new_with(|| handler(event, state));
                    lane = Lane::Handling(handling, kind);
                }
                Ok(Parsed::Unknown(kind)) => {
                    tracing::warn!("an event of a type lamina does not know ({kind}) is skipped");
                    next.ask();
                }
                Err(problem) => {
                    tracing::warn!("an unreadable event is skipped: {problem}");
                    next.ask();
                }
            },
            Step::Polled(Err(err)) => {
                tracing::error!("the extension stops: {}", err.message());
                logging::flush();
                return Err(err);
            }
            Step::Handled(result, kind) => {
                lane = Lane::Waiting;
                if let Err(err) = result {
                    if stop_on_error {
                        return Err(match next.into_api() {
                            Some(mut api) => stop(&mut api, Stop::Exit, err),
                            None => err,
                        });
                    }
                    tracing::error!(
                        error_type = err.error_type(),
                        "the extension's handler failed on {}: {}",
                        kind.as_str(),
                        err.message()
                    );
                }
                if kind == EventKind::Shutdown {
                    logging::flush();
                    return Ok(());
                }
                next.ask();
            }
            Step::Delivered(Some(delivery)) => {
                let Some(on_batch) = on_batch.as_mut() else {
                    continue;
                };
                let handling = Caught::new_with(|| on_batch(delivery.batch, state));
                batch = Some((handling, delivery.done));
            }
            Step::Delivered(None) => deliveries = None,
            Step::BatchHandled(result) => {
                let Some((_, done)) = batch.take() else {
                    continue;
                };
                if let Err(err) = &result {
                    tracing::error!(
                        error_type = err.error_type(),
                        "the extension's telemetry handler failed: {}",
                        err.message()
                    );
                }
                let _ = done.send(result.map_err(|err| err.message()));
            }
        }
    }
}

fn poll_step<Fut, E>(
    cx: &mut TaskContext<'_>,
    next: &mut NextThread,
    lane: &mut Lane<Fut>,
    batch: &mut BatchSlot,
    deliveries: &mut Option<mpsc::Receiver<Delivery>>,
) -> Poll<Step>
where
    Fut: Future<Output = Result<(), E>>,
    E: IntoError,
{
    match lane {
        Lane::Waiting => {
            if let Poll::Ready(polled) = next.poll_answer(cx) {
                return Poll::Ready(Step::Polled(polled));
            }
        }
        Lane::Handling(handling, kind) => {
            if let Poll::Ready(result) = Pin::new(handling).poll(cx) {
                return Poll::Ready(Step::Handled(result, *kind));
            }
        }
    }
    match batch {
        Some((handling, _)) => {
            if let Poll::Ready(result) = Pin::new(handling).poll(cx) {
                return Poll::Ready(Step::BatchHandled(result));
            }
        }
        None => {
            if let Some(received) = deliveries {
                if let Poll::Ready(delivery) = received.poll_recv(cx) {
                    return Poll::Ready(Step::Delivered(delivery));
                }
            }
        }
    }
    Poll::Pending
}

/// Ends the process with status 0 shortly before `deadline_ms` (a `SHUTDOWN` event's), if it
/// is still running then.
fn end_at(deadline_ms: u64) {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let wait = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(SHUTDOWN_MARGIN);
    let spawned = std::thread::Builder::new()
        .name("lamina-extension-deadline".into())
        .spawn(move || {
            std::thread::sleep(wait);
            tracing::warn!("the SHUTDOWN handler is still running at the deadline; exiting");
            logging::flush();
            std::process::exit(0);
        });
    if spawned.is_err() {
        tracing::warn!("no thread to end the process at the SHUTDOWN deadline");
    }
}

/// A handler's future with its panics caught (as [`Error::Panic`]) and its error made a lamina
/// [`Error`]; never polled again once it has finished.
pub(crate) struct Caught<F> {
    future: Option<Pin<Box<F>>>,
    early: Option<Error>,
}

impl<F> Caught<F> {
    fn new(future: F) -> Self {
        Caught {
            future: Some(Box::pin(future)),
            early: None,
        }
    }

    /// Calls `make` (catching a panic in the call itself) and wraps its future.
    fn new_with(make: impl FnOnce() -> F) -> Self {
        match catch_unwind(AssertUnwindSafe(make)) {
            Ok(future) => Caught::new(future),
            Err(payload) => Caught {
                future: None,
                early: Some(panicked(&*payload)),
            },
        }
    }
}

fn panicked(payload: &(dyn std::any::Any + Send)) -> Error {
    Error::Panic(PanicError::new(payload_text(payload).to_owned()))
}

impl<F, T, E> Future for Caught<F>
where
    F: Future<Output = Result<T, E>>,
    E: IntoError,
{
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(err) = this.early.take() {
            return Poll::Ready(Err(err));
        }
        let Some(future) = this.future.as_mut() else {
            return Poll::Ready(Err(Error::new(
                "Extension.Finished",
                "a finished handler was polled",
            )));
        };
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => {
                this.future = None;
                Poll::Ready(result.map_err(IntoError::into_error))
            }
            Err(payload) => {
                let future = this.future.take();
                let _ = catch_unwind(AssertUnwindSafe(move || drop(future)));
                Poll::Ready(Err(panicked(&*payload)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_registers_what_lambda_allows_it() {
        use EventKind::{Invoke, Shutdown};
        assert_eq!(allowed(None, Kind::External, false), [Invoke, Shutdown]);
        assert_eq!(allowed(None, Kind::External, true), [Shutdown]);
        assert_eq!(allowed(None, Kind::Internal, false), [Invoke]);
        assert_eq!(allowed(None, Kind::Internal, true), []);
        assert_eq!(allowed(Some(&[Invoke]), Kind::External, true), []);
        assert_eq!(
            allowed(Some(&[Shutdown, Invoke]), Kind::Internal, false),
            [Invoke]
        );
        assert_eq!(
            allowed(Some(&[Shutdown]), Kind::External, false),
            [Shutdown]
        );
    }
}
