//! lamina: AWS Lambda functions in Rust, from one annotated `async fn`.
//!
//! ```no_run
//! use lamina::{Context, Error};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Request { name: String }
//!
//! #[derive(Serialize)]
//! struct Response { greeting: String }
//!
//! struct App { prefix: String }
//!
//! // Runs once per execution environment, in Lambda's INIT phase.
//! async fn init() -> Result<App, Error> {
//!     Ok(App { prefix: std::env::var("GREETING").unwrap_or_else(|_| "Hello".into()) })
//! }
//!
//! #[lamina::handler(init = init)]
//! async fn hello(event: Request, ctx: Context, app: &App) -> Result<Response, Error> {
//!     Ok(Response { greeting: format!("{}, {} ({})", app.prefix, event.name, ctx.request_id()) })
//! }
//! ```
//!
//! The attribute generates `main`. Under Lambda (`AWS_LAMBDA_RUNTIME_API` set) the binary is the
//! function's `bootstrap` and serves invocations from the Runtime API; anywhere else it runs one
//! invocation with the event from `--event FILE` or stdin and prints the response.
//!
//! The same crate built as a `cdylib` is a handler library for the lamina runtime layer, which
//! loads it through the C ABI described in [`abi`].
//!
//! The [`guide`] walks through everything else, one chapter per topic.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod abi;
mod base;
pub mod cache;
#[cfg(feature = "compat")]
pub mod compat;
pub mod context;
pub mod error;
#[cfg(feature = "events")]
pub mod events;
#[cfg(feature = "extension")]
pub mod extension;
#[cfg(any(doc, doctest))]
pub mod guide;
mod handler;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "idempotency")]
pub mod idempotency;
pub mod logging;
#[cfg(feature = "metrics")]
pub mod metrics;
mod runtime;
#[cfg(feature = "stream")]
pub mod stream;
pub mod testing;
pub mod xray;

/// The README's code, compiled as doctests so the front page keeps matching the crate.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use runtime::shutdown;

pub use context::Context;
pub use error::{Error, IntoError};
pub use handler::{Outcome, Respond};

/// Turns an `async fn` into a Lambda function: generates `main`, which runs the invoke loop
/// (or one local invocation outside Lambda), and the `lamina_handler_abi` entry point through
/// which the runtime layer runs the same function when the crate is built as a `cdylib`
/// (see [`abi`]).
///
/// Accepted forms, where `E: serde::Deserialize`, `R: serde::Serialize` and `Err` converts into
/// [`Error`]:
///
/// ```text
/// #[lamina::handler]
/// async fn name(event: E, ctx: lamina::Context) -> Result<R, Err>
///
/// #[lamina::handler(init = build)]          // async fn build() -> Result<S, Err>
/// async fn name(event: E, ctx: lamina::Context, state: &S) -> Result<R, Err>
/// ```
///
/// `init` runs exactly once, before the first invocation; its state is borrowed by every
/// invocation. Options: `init = path`, `crate = "path"` (where `lamina` is re-exported).
///
/// With the `http` feature, an event of type `lamina::http::Request` makes an HTTP handler: it
/// serves API Gateway, Function URLs, ALB and VPC Lattice, and returns an `http::Response<B>`
/// (see the `http` module), or `lamina::http::Streaming` to stream it.
///
/// A handler that returns `lamina::stream::Body` (feature `stream`) streams its response as it
/// produces it (see the `stream` module): the return type is all that says so.
pub use lamina_macros::handler;
