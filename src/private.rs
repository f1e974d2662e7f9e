//! What `#[lamina::handler]` expands to. Not a public API: anything here may change in any
//! release, and the macro and this crate are released in lockstep.

use std::future::Future;
use std::process::ExitCode;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::Error;
use crate::handler::{Outcome, TypedHandler};

pub use crate::handler::Handler;

/// Runs a handler that takes no state.
pub fn run<E, F, Fut>(handler: F) -> ExitCode
where
    E: DeserializeOwned,
    F: Fn(E, Context) -> Fut,
    Fut: Future,
    Fut::Output: Outcome,
{
    run_with_state(
        || async { Ok::<(), Error>(()) },
        move |event, context, _: &'static ()| handler(event, context),
    )
}

/// Runs `init` once, in the INIT phase, and then serves every invocation with `handler`, which
/// borrows the state `init` built.
///
/// The state lives as long as the process: it is leaked on purpose, so every invocation can
/// borrow it as `&'static S` and nothing pays for reference counting. Lambda ends the process
/// without running destructors anyway.
pub fn run_with_state<S, I, IFut, IErr, E, F, Fut>(init: I, handler: F) -> ExitCode
where
    S: 'static,
    I: FnOnce() -> IFut,
    IFut: Future<Output = Result<S, IErr>>,
    IErr: Into<Error>,
    E: DeserializeOwned,
    F: Fn(E, Context, &'static S) -> Fut,
    Fut: Future,
    Fut::Output: Outcome,
{
    crate::runtime::start(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::with_type("Runtime.TokioInit", e))?;
        let state = runtime.block_on(init()).map_err(Into::into)?;
        let state: &'static S = Box::leak(Box::new(state));
        Ok(TypedHandler::new(runtime, state, handler))
    })
}

/// Checks that an event type can be decoded; the macro calls it at the type's span.
#[doc(hidden)]
pub const fn assert_event<T: Event>() {}

/// Checks that a response type can be encoded; the macro calls it at the type's span.
#[doc(hidden)]
pub const fn assert_response<T: Response>() {}

/// Checks that an error type converts into [`Error`]; the macro calls it at the type's span.
#[doc(hidden)]
pub const fn assert_error<T: IntoError>() {}

/// Checks that the second argument is a [`Context`]; the macro calls it at the type's span.
#[doc(hidden)]
pub const fn assert_context<T: IsContext>() {}

/// Checks the return type as a whole; the macro calls it at the type's span.
#[doc(hidden)]
pub const fn assert_outcome<T: Outcome>() {}

/// An event type a handler can take.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a lamina event: it does not implement `serde::de::DeserializeOwned`",
    label = "not decodable from JSON",
    note = "add `#[derive(serde::Deserialize)]` to `{Self}`, with owned fields (`String`, not `&str`)"
)]
pub trait Event: DeserializeOwned {}
impl<T: DeserializeOwned> Event for T {}

/// A response type a handler can return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a lamina response: it does not implement `serde::Serialize`",
    label = "not encodable as JSON",
    note = "add `#[derive(serde::Serialize)]` to `{Self}`"
)]
pub trait Response: Serialize {}
impl<T: Serialize> Response for T {}

/// An error type a handler can return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a lamina handler error: it does not convert into `lamina::Error`",
    label = "not convertible into `lamina::Error`",
    note = "return `lamina::Error`, or any type implementing `std::error::Error + Send + Sync + 'static`; wrap a boxed error with `lamina::Error::from_boxed`"
)]
pub trait IntoError: Into<Error> {}
impl<T: Into<Error>> IntoError for T {}

/// Only [`Context`] is.
#[diagnostic::on_unimplemented(
    message = "the second argument of a lamina handler must be `lamina::Context`, not `{Self}`",
    label = "expected `lamina::Context`",
    note = "write the handler as `async fn name(event: E, ctx: lamina::Context) -> Result<R, lamina::Error>`"
)]
pub trait IsContext {}
impl IsContext for Context {}
