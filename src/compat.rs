//! Functions written for `lambda_runtime`, served by lamina's loop (cargo feature `compat`).
//!
//! Thousands of Rust functions are a `lambda_runtime::service_fn` handed to
//! `lambda_runtime::run`. [`run`] takes the same service, so such a function moves to lamina by
//! changing that one call; nothing else in it changes:
//!
//! ```no_run
//! use lambda_runtime::{service_fn, Error, LambdaEvent};
//! use serde_json::{json, Value};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let func = service_fn(func);
//!     lamina::compat::run(func).await // was: lambda_runtime::run(func).await
//! }
//!
//! async fn func(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     let (event, _context) = event.into_parts();
//!     let first_name = event["firstName"].as_str().unwrap_or("world");
//!     Ok(json!({ "message": format!("Hello, {}!", first_name) }))
//! }
//! ```
//!
//! The service then runs exactly as a `#[lamina::handler]` function does: one keep-alive
//! connection to the Runtime API, lamina's log lines with the invocation's `requestId`, events
//! decoded with the JSON path of a mismatch, readable `errorType`s, panics reported as
//! `Runtime.HandlerPanic` (also under `panic = "abort"`, before the process ends), a too-large
//! response reported as `Function.ResponseSizeTooLarge`, and one local invocation (`--event
//! FILE` or stdin) when `AWS_LAMBDA_RUNTIME_API` is not set.
//!
//! # What carries over
//!
//! | `lambda_runtime` | under `lamina::compat::run` |
//! |---|---|
//! | `service_fn(handler)`, any `tower::Service<LambdaEvent<T>>`, tower layers wrapped around it | served as is: `poll_ready`, then `call`, per invocation |
//! | `LambdaEvent<T>` with `T: DeserializeOwned` | decoded by lamina; a mismatch is `Runtime.InvalidEvent` naming the JSON path, and the service is not called |
//! | `Context` | every field filled: `request_id`, `deadline`, `invoked_function_arn` (empty when Lambda sends none), `xray_trace_id`, `client_context` (its `environment` holds the `env` object callers send), `identity`, `tenant_id`, `env_config` (`log_group`, `log_stream` empty when unset) |
//! | responses: any `Serialize` | the same |
//! | errors: anything `Into<Diagnostic>` | `lambda_runtime::Error`, `String`, `&str`, `std::io::Error`: named as lamina names them ([`IntoError`]), e.g. `Handler.ParseIntError` for a boxed parse error, else `Handler.Error`, with the whole `source()` chain as the message; your own `From<MyError> for Diagnostic`: its `error_type` and `error_message` verbatim; [`lamina::Error`](crate::Error): its own; any other type lambda_runtime names by its type path (`anyhow::Error` under its `anyhow` feature): `Handler.<short name>` (`Handler.Error` for `anyhow::Error`), with lambda_runtime's message, never a Rust type path |
//! | `_X_AMZN_TRACE_ID` set per invocation | the same |
//!
//! # What does not
//!
//! - **`Runtime::layer`**: layers over the raw invocation (`LambdaInvocation`) belong to
//!   lambda_runtime's own loop, which this replaces; `run` takes only the service. Layers around
//!   the service (`ServiceBuilder::new().layer(..).service_fn(..)`) do carry over.
//! - **`lambda_runtime::tracing::init_default_subscriber`** still works, but its lines are then
//!   tracing-subscriber's, not lamina's, and lack the `requestId` that lambda_runtime's
//!   `TracingLayer` span added. Leave it out: lamina's subscriber (see [`crate::logging`]) takes
//!   over when `run` starts, and writes `requestId` on every line. Lines logged before `run`
//!   reach no subscriber unless you install one, e.g. a registry with
//!   [`crate::logging::layer`].
//! - **Errors before `run`** (building clients in `main`) end the process as they did with
//!   lambda_runtime: Lambda shows `Runtime.ExitError`, not your error. To have an init failure
//!   reported with its own `errorType`, move that code into a `#[lamina::handler(init = ...)]`.
//! - **Response streaming** (`StreamResponse`, `lambda_runtime::streaming`) is not supported:
//!   such a service does not compile with `run`.
//! - **`run_concurrent`** (Lambda Managed Instances), **SnapStart hooks**
//!   (`Runtime::register_snapstart_resource`) and the `graceful-shutdown` helper are
//!   lambda_runtime's own. Under `AWS_LAMBDA_MAX_CONCURRENCY` > 1 a compat service is served
//!   one invocation at a time (with a WARN line); move it to `#[lamina::handler]`, which serves
//!   that many at once and takes a `shutdown` hook.
//! - **The runtime layer** (a handler library loaded by lamina's `bootstrap`, see
//!   [`crate::abi`]) serves `#[lamina::handler]` functions only; a compat function ships as its
//!   own `bootstrap`.
//! - **tokio's current-thread scheduler** (`#[tokio::main(flavor = "current_thread")]`): `run`
//!   returns [`RunError::CurrentThreadRuntime`]; see [`run`] for why.
//!
//! # Why the caller's runtime
//!
//! lamina's loop is synchronous: it blocks on its one socket, then runs the handler's future to
//! completion. [`run`] runs that loop on the calling thread, inside
//! [`tokio::task::block_in_place`], and runs each call of the service on the caller's runtime
//! ([`tokio::runtime::Handle::block_on`]). So clients built in `main` before `run`, whose
//! connection tasks live on that runtime, keep working; the service need not be `Send` or
//! `'static` (it may borrow from `main`, as lambda_runtime's examples do); and no thread, channel
//! or second connection stands between the socket and the service.
//!
//! ```no_run
//! use lambda_runtime::{service_fn, Error, LambdaEvent};
//!
//! # struct Client;
//! # impl Client { async fn stock(&self, sku: &str) -> u32 { sku.len() as u32 } }
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let client = Client; // built once, in `main`, as an SDK client is
//!     let client = &client;
//!     lamina::compat::run(service_fn(move |event: LambdaEvent<String>| async move {
//!         Ok::<_, Error>(client.stock(&event.payload).await)
//!     }))
//!     .await
//! }
//! ```

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::process::ExitCode;
use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, Service};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::base::lambda_env::FunctionConfig;
use crate::context::Context;
use crate::error::{BoxError, Error, IntoError};
use crate::handler::{Handler, Reply, encode};
use crate::logging;
use crate::runtime::invoke::decode_logged;
use crate::runtime::trace_env::TraceEnv;

/// Serves `service` with lamina's loop: what `lambda_runtime::run(service)` does, with lamina's
/// connection handling, errors, panic reports and logs. See the [module docs](self) for what
/// carries over.
///
/// Under Lambda (`AWS_LAMBDA_RUNTIME_API` set) it serves invocations until the Runtime API
/// fails; anywhere else it runs one local invocation, as a `#[lamina::handler]` binary does, and
/// returns `Ok(())` when it succeeded.
///
/// It must be awaited on tokio's multi-thread runtime, which `#[tokio::main]` builds. It blocks
/// the calling thread while it serves (see [`tokio::task::block_in_place`]): lamina's loop waits
/// on the Runtime API there, and each invocation's future runs there, on the caller's runtime.
///
/// ```no_run
/// use lambda_runtime::{service_fn, Error, LambdaEvent};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Error> {
///     lamina::compat::run(service_fn(|event: LambdaEvent<u32>| async move {
///         Ok::<_, Error>(event.payload + 1)
///     }))
///     .await
/// }
/// ```
///
/// # Errors
/// [`RunError`] (boxed) when it is not awaited on tokio's multi-thread runtime, before anything
/// else happens.
///
/// When lamina's loop stops (the Runtime API failed, or the local invocation failed), the reason
/// has been logged, or printed as Lambda's error document, and the process exits with the status
/// a `#[lamina::handler]` binary exits with (1, or 2 for a mistake in the command line) instead
/// of returning: that status is part of lamina's local-invocation interface, and `main` would
/// only print the reason a second time.
pub async fn run<A, F, R>(service: F) -> Result<(), lambda_runtime::Error>
where
    F: Service<LambdaEvent<A>, Response = R>,
    F::Error: Into<Diagnostic> + 'static,
    A: DeserializeOwned,
    R: Serialize,
{
    let runtime = Handle::try_current().map_err(|_| RunError::NoRuntime)?;
    if runtime.runtime_flavor() == RuntimeFlavor::CurrentThread {
        return Err(RunError::CurrentThreadRuntime.into());
    }
    let handler = ServiceHandler {
        service,
        runtime,
        template: None,
        trace_env: TraceEnv::new(),
        event: PhantomData,
    };
    let code = tokio::task::block_in_place(|| crate::runtime::start(|| Ok(handler)));
    if code == ExitCode::SUCCESS {
        return Ok(());
    }
    // lamina's loop has logged why; its lines are out (see the docs above).
    logging::flush();
    std::process::exit(if code == ExitCode::from(USAGE_ERROR) {
        USAGE_ERROR.into()
    } else {
        1
    })
}

/// The exit status of a local invocation given a command line it cannot run.
const USAGE_ERROR: u8 = 2;

/// Why [`run`] did not start serving.
///
/// Its `Debug` form is its message, since that is what `main` prints when it returns one.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError {
    /// `run` was awaited outside any tokio runtime.
    NoRuntime,
    /// `run` was awaited on tokio's current-thread scheduler.
    CurrentThreadRuntime,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::NoRuntime => f.write_str(
                "`lamina::compat::run` was awaited outside a tokio runtime; await it in \
                 `#[tokio::main] async fn main`",
            ),
            RunError::CurrentThreadRuntime => f.write_str(
                "`lamina::compat::run` was awaited on tokio's current-thread runtime, which \
                 cannot run the service's I/O while lamina's loop blocks its only thread on the \
                 Runtime API; use `#[tokio::main]` without `flavor = \"current_thread\"`",
            ),
        }
    }
}

impl fmt::Debug for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for RunError {}

/// Lets a service return [`lamina::Error`](crate::Error), whose `errorType` [`run`] then
/// reports as it is.
impl From<Error> for Diagnostic {
    fn from(err: Error) -> Self {
        Diagnostic {
            error_type: err.error_type().to_owned(),
            error_message: err.message(),
        }
    }
}

/// A `lambda_runtime` service in the erased form lamina's loop serves.
struct ServiceHandler<F, A> {
    service: F,
    runtime: Handle,
    /// An empty `lambda_runtime::Context` holding `env_config`, which is built from the first
    /// invocation's function identity (the same for the life of the process). Each invocation's
    /// starts as a clone: empty strings and an `Arc`, no allocation.
    template: Option<lambda_runtime::Context>,
    /// `_X_AMZN_TRACE_ID`, which the handler side sets (see `crate::runtime::trace_env`).
    trace_env: TraceEnv,
    event: PhantomData<fn(A)>,
}

impl<A, F, R> Handler for ServiceHandler<F, A>
where
    F: Service<LambdaEvent<A>, Response = R>,
    F::Error: Into<Diagnostic> + 'static,
    A: DeserializeOwned,
    R: Serialize,
{
    fn call(
        &mut self,
        event: &[u8],
        context: &Context,
        reply: &mut Reply<'_>,
    ) -> Result<(), Error> {
        let _logs = logging::Invocation::enter(context);
        self.trace_env.update(context.xray_trace_header());
        let payload = decode_logged::<A>(event)?;
        let template = self.template.get_or_insert_with(|| {
            // `#[non_exhaustive]`: built from its `Default`, field by field.
            let mut template = lambda_runtime::Context::default();
            template.env_config = Arc::new(env_config(&context.function));
            template
        });
        let event = LambdaEvent::new(payload, lambda_context(context, template.clone()));
        let service = &mut self.service;
        let invocation = async move {
            std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
            service.call(event).await
        };
        let invocation = crate::xray::invocation(context, invocation);
        let output = self.runtime.block_on(invocation).map_err(into_error)?;
        encode(&output, reply.body)
    }
}

/// lambda_runtime's view of the function's identity.
fn env_config(function: &FunctionConfig) -> lambda_runtime::Config {
    lambda_runtime::Config {
        function_name: function.function_name.clone(),
        memory: i32::try_from(function.memory_mb).unwrap_or(i32::MAX),
        version: function.function_version.clone(),
        log_stream: function.log_stream.clone().unwrap_or_default(),
        log_group: function.log_group.clone().unwrap_or_default(),
    }
}

/// lambda_runtime's `Context` for the invocation lamina's `context` describes.
/// `out` arrives with its `env_config` set.
fn lambda_context(context: &Context, mut out: lambda_runtime::Context) -> lambda_runtime::Context {
    out.request_id = context.request_id().to_owned();
    out.deadline = context.deadline_ms();
    out.invoked_function_arn = context
        .invoked_function_arn()
        .unwrap_or_default()
        .to_owned();
    out.xray_trace_id = context.xray_trace_header().map(str::to_owned);
    out.tenant_id = context.tenant_id().map(str::to_owned);
    // lambda_runtime does not export the types of these two fields, only their serde forms; both
    // are rare (AWS Mobile SDK callers), so going through JSON costs nothing on the usual path.
    out.client_context = context.client_context().and_then(|client| {
        let mut value = serde_json::json!({ "custom": client.custom, "environment": client.env });
        if let Some(app) = &client.client {
            value["client"] = serde_json::to_value(app).ok()?;
        }
        serde_json::from_value(value).ok()
    });
    out.identity = context.identity().and_then(|identity| {
        serde_json::from_value(serde_json::json!({
            "identityId": identity.identity_id,
            "identityPoolId": identity.identity_pool_id,
        }))
        .ok()
    });
    out
}

/// The [`Error`] lamina reports for a service's error.
///
/// The error types lamina can name itself (the boxed `lambda_runtime::Error` above all) are
/// named as a `#[lamina::handler]`'s would be: `Into<Diagnostic>` would name them with a Rust
/// type path (`&alloc::boxed::Box<dyn core::error::Error + ...>`) and keep only the outermost
/// message. A `Diagnostic` the user built keeps its names.
fn into_error<E: Into<Diagnostic> + 'static>(err: E) -> Error {
    let mut slot = Some(err);
    if let Some(err) = take::<Error, E>(&mut slot) {
        return err;
    }
    if let Some(err) = take::<BoxError, E>(&mut slot) {
        return err.into_error();
    }
    if let Some(err) = take::<String, E>(&mut slot) {
        return err.into_error();
    }
    if let Some(err) = take::<&'static str, E>(&mut slot) {
        return err.into_error();
    }
    if let Some(err) = take::<std::io::Error, E>(&mut slot) {
        return err.into_error();
    }
    let Some(err) = slot else {
        // `take` empties the slot only when it returns the error.
        return Error::new("Handler.Error", "the handler failed");
    };
    let Diagnostic {
        error_type,
        error_message,
    } = err.into();
    match error_type.strip_prefix('&') {
        // lambda_runtime's fallback name: `type_name` of a reference to the error.
        Some(path) => Error::new(format!("Handler.{}", readable(path)), error_message),
        None => Error::new(error_type, error_message),
    }
}

/// The error in `slot` if it is a `T`, taking it out.
fn take<T: 'static, E: 'static>(slot: &mut Option<E>) -> Option<T> {
    (slot as &mut dyn Any)
        .downcast_mut::<Option<T>>()
        .and_then(Option::take)
}

/// The short name of the type path `path` (`&`s, generics and modules stripped); `Error` for
/// the names that say nothing (a box, a string, an error report).
fn readable(path: &str) -> &str {
    let base = path.trim_start_matches('&');
    let base = base.split('<').next().unwrap_or(base);
    let name = base.rsplit("::").next().unwrap_or(base).trim();
    match name {
        "" | "Box" | "String" | "str" | "Report" => "Error",
        name => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn template(function: &FunctionConfig) -> lambda_runtime::Context {
        let mut template = lambda_runtime::Context::default();
        template.env_config = Arc::new(env_config(function));
        template
    }

    #[test]
    fn boxed_errors_are_named_by_their_root_cause_not_a_type_path() {
        let boxed: lambda_runtime::Error = "x".parse::<u8>().unwrap_err().into();
        let err = into_error(boxed);
        assert_eq!(err.error_type(), "Handler.ParseIntError");
        assert_eq!(err.message(), "invalid digit found in string");
        let err = into_error(lambda_runtime::Error::from("out of stock"));
        assert_eq!(
            (err.error_type(), err.message().as_str()),
            ("Handler.Error", "out of stock")
        );
        assert_eq!(into_error("no".to_owned()).error_type(), "Handler.Error");
        assert_eq!(into_error("no").error_type(), "Handler.Error");
        assert_eq!(
            into_error(std::io::Error::other("disk")).error_type(),
            "Handler.Error"
        );
    }

    #[test]
    fn lamina_errors_and_user_diagnostics_keep_their_names() {
        let err = into_error(Error::new("OrderNotFound", "order 42"));
        assert_eq!(
            (err.error_type(), err.message().as_str()),
            ("OrderNotFound", "order 42")
        );

        struct Mine;
        impl From<Mine> for Diagnostic {
            fn from(_: Mine) -> Self {
                Diagnostic {
                    error_type: "Mine.Failed".into(),
                    error_message: "mine failed".into(),
                }
            }
        }
        let err = into_error(Mine);
        assert_eq!(
            (err.error_type(), err.message().as_str()),
            ("Mine.Failed", "mine failed")
        );
    }

    #[test]
    fn lambda_runtime_type_path_names_become_readable() {
        // A non-`Send` box: only `Into<Diagnostic>` can take it, which names it by type path.
        let err: Box<dyn std::error::Error> = "not send".into();
        let err = into_error(err);
        assert_eq!(
            (err.error_type(), err.message().as_str()),
            ("Handler.Error", "not send")
        );
        assert_eq!(readable("&anyhow::Error"), "Error");
        assert_eq!(readable("&my_crate::errors::Failure<u8>"), "Failure");
    }

    #[test]
    fn the_lambda_runtime_context_has_every_field_of_lamina_s() {
        let function = Arc::new(FunctionConfig {
            function_name: "orders".into(),
            function_version: "7".into(),
            memory_mb: 256,
            log_group: Some("/aws/lambda/orders".into()),
            log_stream: None,
            max_concurrency: 1,
        });
        let headers = [
            ("Lambda-Runtime-Aws-Request-Id", "r-1"),
            ("Lambda-Runtime-Deadline-Ms", "4102444800000"),
            (
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:1:function:orders",
            ),
            (
                "Lambda-Runtime-Trace-Id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            ),
            (
                "Lambda-Runtime-Client-Context",
                r#"{"client":{"installationId":"i","appTitle":"Shop","appVersionName":"2","appVersionCode":"21","appPackageName":"com.shop"},"custom":{"cart":"7"},"env":{"locale":"en_GB"}}"#,
            ),
            (
                "Lambda-Runtime-Cognito-Identity",
                r#"{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}"#,
            ),
            ("Lambda-Runtime-Aws-Tenant-Id", "tenant-a"),
        ];
        let context =
            Context::from_headers(headers.iter().map(|(k, v)| (*k, v.as_bytes())), &function)
                .unwrap();
        let out = lambda_context(&context, template(&function));
        assert_eq!(out.request_id, "r-1");
        assert_eq!(out.deadline, 4_102_444_800_000);
        assert_eq!(
            out.deadline(),
            std::time::UNIX_EPOCH + Duration::from_millis(4_102_444_800_000)
        );
        assert_eq!(
            out.invoked_function_arn,
            "arn:aws:lambda:us-east-1:1:function:orders"
        );
        assert_eq!(out.xray_trace_id.as_deref(), Some(headers[3].1));
        assert_eq!(out.tenant_id.as_deref(), Some("tenant-a"));
        assert_eq!(
            serde_json::to_value(&out.client_context).unwrap(),
            serde_json::json!({
                "client": {"installationId": "i", "appTitle": "Shop", "appVersionName": "2", "appVersionCode": "21", "appPackageName": "com.shop"},
                "custom": {"cart": "7"},
                "environment": {"locale": "en_GB"},
            })
        );
        assert_eq!(
            serde_json::to_value(&out.identity).unwrap(),
            serde_json::json!({"identityId": "id-1", "identityPoolId": "pool-1"})
        );
        assert_eq!(
            *out.env_config,
            lambda_runtime::Config {
                function_name: "orders".into(),
                memory: 256,
                version: "7".into(),
                log_stream: String::new(),
                log_group: "/aws/lambda/orders".into(),
            }
        );
    }

    #[test]
    fn absent_optional_fields_stay_empty() {
        let context = Context::local(Duration::from_secs(3));
        let out = lambda_context(&context, template(&context.function));
        assert_eq!(out.request_id, context.request_id());
        assert_eq!(out.invoked_function_arn, "");
        assert_eq!(
            (out.xray_trace_id, out.client_context, out.identity),
            (None, None, None)
        );
        // A client context without its `client` object is still one.
        let function = Arc::clone(&context.function);
        let headers = [
            ("Lambda-Runtime-Aws-Request-Id", "r-2"),
            ("Lambda-Runtime-Deadline-Ms", "4102444800000"),
            ("Lambda-Runtime-Client-Context", r#"{"custom":{"k":"v"}}"#),
        ];
        let context =
            Context::from_headers(headers.iter().map(|(k, v)| (*k, v.as_bytes())), &function)
                .unwrap();
        let out = lambda_context(&context, template(&function));
        assert_eq!(out.client_context.unwrap().custom["k"], "v");
    }
}
