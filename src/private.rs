//! What `#[lamina::handler]` expands to. Not a public API: anything here may change in any
//! release, and the macro and this crate are released in lockstep.

use std::future::Future;
use std::marker::PhantomData;
use std::process::ExitCode;

use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::Error;
use crate::runtime::invoke::{TaskRuntime, TypedHandler, tokio_error};

pub use crate::handler::{Fork, Handler, Reply, Respond, Share};

/// A handler, type-checked: what `#[handler]` defines for the function it annotates, and the
/// one thing both `main` (bin mode) and the exported ABI table (layer mode) are built from.
pub trait Function {
    /// Hands `sink` the function that builds the handler (the INIT phase: the tokio runtime,
    /// then the user's `init`).
    ///
    /// A sink rather than a returned `impl Handler`: an opaque return type would carry the
    /// handler's bounds a second time, and rustc would report each mistake twice.
    fn with<K: Sink>(sink: K) -> K::Output;
}

/// What a [`Function`]'s builder is handed to: the invoke loop, or the ABI table.
pub trait Sink {
    /// What the sink makes of the builder.
    type Output;
    /// Takes the builder.
    fn accept<H, B>(self, build: B) -> Self::Output
    where
        H: Handler + 'static,
        B: FnOnce() -> Result<H, Error>;
}

/// Bin mode: the generated `main`.
pub fn serve<F: Function>() -> ExitCode {
    struct Serve;
    impl Sink for Serve {
        type Output = ExitCode;
        fn accept<H, B>(self, build: B) -> ExitCode
        where
            H: Handler + 'static,
            B: FnOnce() -> Result<H, Error>,
        {
            crate::runtime::start(build)
        }
    }
    F::with(Serve)
}

/// Layer mode: the generated `lamina_handler_abi` symbol.
pub fn export<F: Function>() -> *const crate::abi::FunctionTable {
    crate::abi::table::<F>()
}

/// Which form of handler a function is, told by its event type at the macro's call site:
/// `(&&Pick::<E>::NEW).form()` is [`HttpForm`] for `lamina::http::Request` and [`JsonForm`]
/// for every other type.
///
/// Method lookup tries `&&Pick<E>` first, which only [`PickHttp`]'s impl (for
/// `&Pick<Request>`) takes; for any other `E` it derefs to `&Pick<E>`, which [`PickJson`]
/// takes. A trait bound could not make this choice: `Request` is a foreign type, so a blanket
/// impl over `DeserializeOwned` would overlap with one for it.
pub struct Pick<E>(PhantomData<fn() -> E>);

impl<E> Pick<E> {
    /// The probe.
    pub const NEW: Self = Pick(PhantomData);
}

/// Picks [`JsonForm`]; see [`Pick`].
pub trait PickJson {
    /// The form.
    fn form(&self) -> JsonForm {
        JsonForm
    }
}
impl<E> PickJson for Pick<E> {}

/// Picks [`HttpForm`]; see [`Pick`].
pub trait PickHttp {
    /// The form.
    fn form(&self) -> HttpForm {
        HttpForm
    }
}
#[cfg(feature = "http")]
impl PickHttp for &Pick<crate::http::Request> {}

/// Whether a handler's state `S` may be shared by worker threads, told at the macro's call site
/// (where `S` is concrete): `(&&ShareProbe::<S>::NEW).share()` is [`Share::sync`] when
/// `S: Sync` and [`Share::not_sync`] otherwise, by the same method lookup as [`Pick`].
pub struct ShareProbe<S>(PhantomData<fn() -> S>);

impl<S> ShareProbe<S> {
    /// The probe.
    pub const NEW: Self = ShareProbe(PhantomData);
}

/// Picks [`Share::sync`]; see [`ShareProbe`].
pub trait ProbeSync<S: 'static> {
    /// The way to share `S`.
    fn share(&self) -> Share<S>;
}
impl<S: Sync + 'static> ProbeSync<S> for &ShareProbe<S> {
    fn share(&self) -> Share<S> {
        Share::sync()
    }
}

/// Picks [`Share::not_sync`]; see [`ShareProbe`].
pub trait ProbeNotSync<S: 'static> {
    /// The way to share `S`: not at all.
    fn share(&self) -> Share<S>;
}
impl<S: 'static> ProbeNotSync<S> for ShareProbe<S> {
    fn share(&self) -> Share<S> {
        Share::not_sync()
    }
}

/// A function's shutdown hook, or none: what the macro passes for `shutdown = path`.
#[diagnostic::on_unimplemented(
    message = "`shutdown` must be an `async fn(&{S})` (or `async fn()` without state) returning `()` or `Result<(), E>`",
    label = "the shutdown hook",
    note = "the hook runs on a thread of its own after SIGTERM and borrows the state there, so `{S}` must be `Sync`"
)]
pub trait Shutdown<S: 'static> {
    /// Registers the hook, in INIT, once the state is built.
    fn install(self, state: &'static S);
}

/// No `shutdown = ...`: nothing is registered and no signal handler installed.
pub struct NoShutdown;

impl<S: 'static> Shutdown<S> for NoShutdown {
    fn install(self, _: &'static S) {}
}

/// `shutdown = path`, as a function of the state.
pub struct Hook<F>(pub F);

#[diagnostic::do_not_recommend]
impl<S, F, Fut> Shutdown<S> for Hook<F>
where
    S: Sync + 'static,
    F: FnOnce(&'static S) -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: HookOutcome,
{
    fn install(self, state: &'static S) {
        let Hook(hook) = self;
        crate::runtime::shutdown::install(Box::new(move || {
            Box::pin(async move { hook(state).await.report() })
        }));
    }
}

/// What a shutdown hook returns: `()`, or a `Result` whose error is logged.
pub trait HookOutcome {
    /// Logs a failure.
    fn report(self);
}

impl HookOutcome for () {
    fn report(self) {}
}

impl<X: IntoError> HookOutcome for Result<(), X> {
    fn report(self) {
        if let Err(err) = self {
            let err = err.into_error();
            tracing::error!(
                error_type = err.error_type(),
                "the shutdown hook failed: {}",
                err.message()
            );
        }
    }
}

/// A handler whose event and response are JSON documents.
pub struct JsonForm;

/// A handler whose event is an HTTP request (`lamina::http`).
pub struct HttpForm;

impl JsonForm {
    /// What [`Function::with`] calls for a handler without state: checks every type of the
    /// handler, then hands its builder to `sink`.
    ///
    /// The macro spells out each type parameter with the user's own tokens, as in
    /// `.handler::<Order, lamina::Context, Result<Receipt, MyError>, Receipt, MyError, _, _, _>(handle, sink)`.
    /// rustc blames an unmet bound on the turbofish argument for that parameter, and that
    /// argument carries the span of the user's type, so "`Order` cannot be a lamina event"
    /// lands on `Order`. Every requirement on the handler is a bound here and nowhere else the
    /// user's types reach, so each mistake is reported exactly once; inside this function the
    /// bounds imply `build`'s.
    pub fn handler<E, C, O, R, X, F, Fut, K, D>(self, handler: F, shutdown: D, sink: K) -> K::Output
    where
        E: Event + 'static,
        C: IsContext,
        O: Returns<Response = R, Error = X>,
        R: Response,
        X: IntoError,
        F: Fn(E, C) -> Fut + Copy + Send + 'static,
        Fut: Future<Output = O>,
        K: Sink,
        D: Shutdown<()>,
    {
        sink.accept(move || {
            let (runtime, state) = init_state(|| async { Ok::<(), Error>(()) })?;
            shutdown.install(state);
            TypedHandler::new(
                runtime,
                state,
                Share::sync(),
                move |event: E, context: Context, _: &'static ()| {
                    let output = handler(event, C::from_context(context));
                    async move { output.await.into_result() }
                },
            )
        })
    }

    /// What [`Function::with`] calls for a handler with state: [`JsonForm::handler`], plus the
    /// `init` function, whose check the macro blames on the `init = path` it was given.
    pub fn handler_with_state<S, I, E, C, O, R, X, F, Fut, K, D>(
        self,
        init: I,
        handler: F,
        share: Share<S>,
        shutdown: D,
        sink: K,
    ) -> K::Output
    where
        S: 'static,
        I: Init<S>,
        E: Event + 'static,
        C: IsContext,
        O: Returns<Response = R, Error = X>,
        R: Response,
        X: IntoError,
        F: Fn(E, C, &'static S) -> Fut + Copy + Send + 'static,
        Fut: Future<Output = O>,
        K: Sink,
        D: Shutdown<S>,
    {
        sink.accept(move || {
            let (runtime, state) = init_state(move || {
                let state = init.call();
                async move { state.await.into_result() }
            })?;
            shutdown.install(state);
            TypedHandler::new(
                runtime,
                state,
                share,
                move |event: E, context: Context, state: &'static S| {
                    let output = handler(event, C::from_context(context), state);
                    async move { output.await.into_result() }
                },
            )
        })
    }
}

#[cfg(feature = "http")]
impl HttpForm {
    /// [`JsonForm::handler`] for a handler taking `lamina::http::Request`.
    pub fn handler<E, C, O, R, X, F, Fut, K, D>(self, handler: F, shutdown: D, sink: K) -> K::Output
    where
        E: FromHttpRequest + 'static,
        C: IsContext,
        O: Returns<Response = R, Error = X>,
        R: crate::http::IntoResponse,
        X: IntoError,
        F: Fn(E, C) -> Fut + Copy + Send + 'static,
        Fut: Future<Output = O>,
        K: Sink,
        D: Shutdown<()>,
    {
        sink.accept(move || {
            let (runtime, state) = init_state(|| async { Ok::<(), Error>(()) })?;
            shutdown.install(state);
            crate::http::HttpHandler::new(
                runtime,
                state,
                Share::sync(),
                move |request: crate::http::Request, context: Context, _: &'static ()| {
                    let output = handler(E::from_request(request), C::from_context(context));
                    async move { output.await.into_result().map_err(IntoError::into_error) }
                },
            )
        })
    }

    /// [`JsonForm::handler_with_state`] for a handler taking `lamina::http::Request`.
    pub fn handler_with_state<S, I, E, C, O, R, X, F, Fut, K, D>(
        self,
        init: I,
        handler: F,
        share: Share<S>,
        shutdown: D,
        sink: K,
    ) -> K::Output
    where
        S: 'static,
        I: Init<S>,
        E: FromHttpRequest + 'static,
        C: IsContext,
        O: Returns<Response = R, Error = X>,
        R: crate::http::IntoResponse,
        X: IntoError,
        F: Fn(E, C, &'static S) -> Fut + Copy + Send + 'static,
        Fut: Future<Output = O>,
        K: Sink,
        D: Shutdown<S>,
    {
        sink.accept(move || {
            let (runtime, state) = init_state(move || {
                let state = init.call();
                async move { state.await.into_result() }
            })?;
            shutdown.install(state);
            crate::http::HttpHandler::new(
                runtime,
                state,
                share,
                move |request: crate::http::Request, context: Context, state: &'static S| {
                    let output = handler(E::from_request(request), C::from_context(context), state);
                    async move { output.await.into_result().map_err(IntoError::into_error) }
                },
            )
        })
    }
}

/// Only `lamina::http::Request` is: the identity, which lets [`HttpForm::handler`] name the
/// event type as the user wrote it.
#[cfg(feature = "http")]
pub trait FromHttpRequest {
    /// The identity.
    fn from_request(request: crate::http::Request) -> Self;
}
#[cfg(feature = "http")]
impl FromHttpRequest for crate::http::Request {
    fn from_request(request: crate::http::Request) -> Self {
        request
    }
}

/// Runs `init` once, in the INIT phase, on the tokio runtime every invocation will run on, and
/// returns both.
///
/// The state lives as long as the process: it is leaked on purpose, so every invocation can
/// borrow it as `&'static S` and nothing pays for reference counting. Lambda ends the process
/// without running destructors anyway.
fn init_state<S, IFut>(init: impl FnOnce() -> IFut) -> Result<(TaskRuntime, &'static S), Error>
where
    S: 'static,
    IFut: Future<Output = Result<S, Error>>,
{
    // On an init error or panic the runtime is dropped here, before the error is posted: it
    // must not wait for the blocking tasks `init` started (see `TaskRuntime`).
    let runtime = TaskRuntime::new().map_err(tokio_error)?;
    let state = runtime.block_on(init())?;
    let state: &'static S = Box::leak(Box::new(state));
    Ok((runtime, state))
}

// The blanket impls below are `do_not_recommend`: rustc then reports the unmet bound as the
// trait named here, with its message, instead of as the serde or `From` bound behind it
// followed by a list of every type that does implement that one.

/// An event type a handler can take.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a lamina event: it does not implement `serde::Deserialize`",
    label = "not decodable from JSON",
    note = "add `#[derive(serde::Deserialize)]` to `{Self}`, with owned fields (`String`, not `&str`)"
)]
pub trait Event: DeserializeOwned {}
#[diagnostic::do_not_recommend]
impl<T: DeserializeOwned> Event for T {}

/// A response type a handler can return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a lamina response: it does not implement `serde::Serialize`",
    label = "not encodable as JSON",
    note = "add `#[derive(serde::Serialize)]` to `{Self}` (or return `lamina::stream::Body` to stream the response)"
)]
pub trait Response: Respond {}
#[diagnostic::do_not_recommend]
impl<T: Respond> Response for T {}

pub use crate::error::IntoError;

/// Only [`Context`] is.
#[diagnostic::on_unimplemented(
    message = "the second argument of a lamina handler must be `lamina::Context`, not `{Self}`",
    label = "expected `lamina::Context`",
    note = "write the handler as `async fn name(event: E, ctx: lamina::Context) -> Result<R, lamina::Error>`"
)]
pub trait IsContext {
    /// The identity: lets [`serve`] name the argument's type as written by the user.
    fn from_context(context: Context) -> Self;
}
impl IsContext for Context {
    fn from_context(context: Context) -> Self {
        context
    }
}

/// What a handler's `async fn` returns: a `Result`, whatever its parts.
///
/// Unlike [`Outcome`](crate::Outcome), this puts no bound on the parts, which [`serve`] checks separately, each
/// at its own span: a bad response type is reported on the response, not on the whole `Result`.
#[diagnostic::on_unimplemented(
    message = "a lamina handler must return `Result<R, E>`, not `{Self}`",
    label = "not a `Result`",
    note = "`R` is the response (any `serde::Serialize` type) and `E` any error that converts into `lamina::Error`: write `-> Result<{Self}, lamina::Error>` and return `Ok(...)`"
)]
pub trait Returns {
    /// `R`.
    type Response;
    /// `E`.
    type Error;
    /// The identity.
    fn into_result(self) -> Result<Self::Response, Self::Error>;
}
impl<R, X> Returns for Result<R, X> {
    type Response = R;
    type Error = X;
    fn into_result(self) -> Self {
        self
    }
}

/// A function that can build a handler's state `S`: an `async fn() -> Result<S, E>`.
///
/// One trait for the whole signature, rather than one bound per part as for the handler: the
/// macro sees only the path to `init`, not its types, so every mistake in it lands on that path
/// anyway, and this way the message shows the signature `init` has next to the one it needs.
#[diagnostic::on_unimplemented(
    message = "`init` must be an `async fn() -> Result<{S}, E>`, not `{Self}`",
    label = "the state initializer",
    note = "the handler borrows its state as `&{S}`, so `init` builds a `{S}`; `E` is `lamina::Error`, `anyhow::Error`, `Box<dyn std::error::Error + Send + Sync>`, `String`, or any `std::error::Error + Send + Sync + 'static`"
)]
pub trait Init<S> {
    /// What `init` returns.
    type Output: InitResult<S>;
    /// `init`'s future.
    type Future: Future<Output = Self::Output>;
    /// Calls `init`.
    fn call(self) -> Self::Future;
}
#[diagnostic::do_not_recommend]
impl<S, I, Fut> Init<S> for I
where
    I: FnOnce() -> Fut,
    Fut: Future,
    Fut::Output: InitResult<S>,
{
    type Output = Fut::Output;
    type Future = Fut;
    fn call(self) -> Fut {
        self()
    }
}

/// What an `init` function returns: the state, or an error that converts into [`Error`].
pub trait InitResult<S> {
    /// `Ok(state)`, or the init error.
    fn into_result(self) -> Result<S, Error>;
}
impl<S, X: IntoError> InitResult<S> for Result<S, X> {
    fn into_result(self) -> Result<S, Error> {
        self.map_err(IntoError::into_error)
    }
}
