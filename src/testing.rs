//! Unit-testing a handler: call it in-process with an event and a [`Context`] you build, and get
//! its typed response or the [`Error`] lamina would report, with no Runtime API.
//!
//! `#[lamina::handler]` leaves your `async fn` as you wrote it, so a test calls it by name:
//!
//! ```
//! use lamina::{testing, Context, Error};
//!
//! #[lamina::handler]
//! async fn greet(name: String, ctx: Context) -> Result<String, Error> {
//!     Ok(format!("hello {name} ({})", ctx.request_id()))
//! }
//!
//! let ctx = testing::context().request_id("r-1").build();
//! let answer = testing::invoke(greet, "Ada".to_owned(), ctx).unwrap();
//! assert_eq!(answer, "hello Ada (r-1)");
//! ```
//!
//! [`invoke_json`] takes the event as JSON text and decodes it as lamina does, so a malformed
//! event fails as `Runtime.InvalidEvent` with lamina's message. A function with state runs its
//! `init` with [`init`] and passes the state in a closure:
//!
//! ```
//! use lamina::{testing, Context, Error};
//!
//! struct Prices { vat: f64 }
//!
//! async fn load() -> Result<Prices, Error> {
//!     Ok(Prices { vat: 0.2 })
//! }
//!
//! #[lamina::handler(init = load)]
//! async fn gross(net: f64, _ctx: Context, prices: &Prices) -> Result<f64, Error> {
//!     Ok(net * (1.0 + prices.vat))
//! }
//!
//! let prices = testing::init(load).unwrap();
//! let answer = testing::invoke_json(|net, ctx| gross(net, ctx, &prices), "10", testing::context().build());
//! assert_eq!(answer.unwrap(), 12.0);
//! let err = testing::invoke_json(|net, ctx| gross(net, ctx, &prices), "\"ten\"", testing::context().build());
//! assert_eq!(err.unwrap_err().error_type(), "Runtime.InvalidEvent");
//! ```
//!
//! [`init`] and the `invoke` functions run the future on a tokio runtime of the calling thread,
//! built once as lamina builds the function's (current-thread, time and I/O enabled), so state
//! from `init` and the handler share it as they do under Lambda. Call them from a plain
//! `#[test]`, not from inside an async runtime (`#[tokio::test]` may `.await` the handler
//! directly instead).

#[cfg(feature = "events")]
pub mod events;
#[cfg(all(test, any(feature = "xray-sdk", feature = "idempotency-dynamodb")))]
pub(crate) mod moto;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::base::lambda_env::FunctionConfig;
use crate::context::{ClientContext, CognitoIdentity, Context};
use crate::error::{Error, IntoError};

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the test thread");
}

/// Runs `future` on this thread's test runtime.
///
/// # Panics
/// If called from inside an async runtime, or if tokio cannot build a runtime.
pub(crate) fn run<F: Future>(future: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// Calls `handler` with `event` and `ctx`, as lamina would for one invocation.
///
/// # Errors
/// The handler's error, converted as lamina converts it (`Handler.<Type>`, or the type you
/// chose).
///
/// # Panics
/// When the handler panics, and when called from inside an async runtime.
pub fn invoke<E, R, X, F, Fut>(handler: F, event: E, ctx: Context) -> Result<R, Error>
where
    F: FnOnce(E, Context) -> Fut,
    Fut: Future<Output = Result<R, X>>,
    X: IntoError,
{
    run(handler(event, ctx)).map_err(IntoError::into_error)
}

/// Calls `handler` with the event decoded from the JSON text `event`, exactly as lamina decodes
/// an invocation's payload (an empty text reads as `null`).
///
/// # Errors
/// `Runtime.InvalidEvent` when `event` does not decode, with lamina's message; else as
/// [`invoke`].
///
/// # Panics
/// As [`invoke`].
pub fn invoke_json<E, R, X, F, Fut>(handler: F, event: &str, ctx: Context) -> Result<R, Error>
where
    E: DeserializeOwned,
    F: FnOnce(E, Context) -> Fut,
    Fut: Future<Output = Result<R, X>>,
    X: IntoError,
{
    let event = crate::handler::decode::<E>(event.as_bytes())?;
    invoke(handler, event, ctx)
}

/// Reads a streamed response (a [`lamina::stream::Body`](crate::stream::Body) the handler
/// returned from [`invoke`]) to its end, on the runtime the handler ran on, where the tasks that
/// feed it run.
///
/// ```
/// use lamina::stream::{self, Body};
/// use lamina::{testing, Context, Error};
///
/// #[lamina::handler]
/// async fn count(n: u8, _ctx: Context) -> Result<Body, Error> {
///     let (sender, body) = stream::channel();
///     tokio::spawn(async move {
///         for i in 0..n {
///             let _ = sender.send(format!("{i} ")).await;
///         }
///     });
///     Ok(body)
/// }
///
/// let body = testing::invoke(count, 3, testing::context().build()).unwrap();
/// assert_eq!(testing::collect(body).unwrap(), b"0 1 2 ");
/// ```
///
/// # Errors
/// The error that ended the stream: what a deployed function would send in its trailers (or
/// to `/error`, before the first byte).
///
/// # Panics
/// As [`invoke`].
#[cfg(feature = "stream")]
pub fn collect(body: crate::stream::Body) -> Result<Vec<u8>, Error> {
    use crate::handler::{Reply, Respond};
    let mut out = Vec::new();
    run(body.respond(&mut Reply::whole(&mut out)))?;
    Ok(out)
}

/// Calls an HTTP handler (one taking [`lamina::http::Request`](crate::http::Request)) with the
/// request lamina builds from `event`, the JSON of any HTTP source lamina serves, and returns the
/// response document that source would receive, as JSON.
///
/// Decoding, the path (`LAMINA_HTTP_PATH`), the response's shape and its body encoding, and
/// `LAMINA_HTTP_ERRORS` are exactly as in a deployed function.
///
/// ```
/// use lamina::http::{Request, Response};
/// use lamina::{testing, Context, Error};
///
/// #[lamina::handler]
/// async fn hello(req: Request, _ctx: Context) -> Result<Response, Error> {
///     Ok(Response::new(format!("you called {}", req.uri().path()).into()))
/// }
///
/// let event = r#"{"version":"2.0","routeKey":"GET /hello","rawPath":"/prod/hello",
///     "rawQueryString":"","requestContext":{"http":{"method":"GET"},"stage":"prod"}}"#;
/// let response = testing::invoke_http(hello, event, testing::context().build()).unwrap();
/// assert_eq!(response["statusCode"], 200);
/// assert_eq!(response["body"], "you called /hello");
/// ```
///
/// # Errors
/// `Runtime.InvalidEvent` when `event` is not an HTTP request from a source lamina serves;
/// else as [`invoke`].
///
/// # Panics
/// As [`invoke`].
#[cfg(feature = "http")]
pub fn invoke_http<R, X, F, Fut>(
    handler: F,
    event: &str,
    ctx: Context,
) -> Result<serde_json::Value, Error>
where
    F: FnOnce(crate::http::Request, Context) -> Fut,
    Fut: Future<Output = Result<R, X>>,
    R: crate::http::IntoResponse,
    X: IntoError,
{
    let document = run(crate::http::invoke_in_test(
        |request, ctx| {
            let call = handler(request, ctx);
            async move { call.await.map_err(IntoError::into_error) }
        },
        event,
        &ctx,
    ))?;
    Ok(serde_json::from_slice(&document).expect("lamina writes JSON"))
}

/// Runs a function's `init` as lamina runs it in the INIT phase, on the same runtime the
/// `invoke` functions use.
///
/// # Errors
/// `init`'s error, named as lamina names it there (`Init.<Type>`).
///
/// # Panics
/// As [`invoke`].
pub fn init<S, X, F, Fut>(init: F) -> Result<S, Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<S, X>>,
    X: IntoError,
{
    run(init()).map_err(|e| e.into_error().into_init_error())
}

/// A [`Context`] to build: every field settable, each with a default that reads like a real one.
///
/// | field | default |
/// |---|---|
/// | request id | `00000000-0000-4000-8000-000000000001` |
/// | deadline | 3 s from [`build`](ContextBuilder::build) (Lambda's default timeout) |
/// | function | `test-function`, `$LATEST`, 128 MB |
/// | invoked ARN | `arn:aws:lambda:us-east-1:123456789012:function:<name>` |
/// | trace header, client context, identity, tenant, log group and stream | none |
pub fn context() -> ContextBuilder {
    ContextBuilder::default()
}

/// Builds a [`Context`]; see [`context`].
///
/// ```
/// use std::time::Duration;
/// use lamina::testing;
///
/// let ctx = testing::context()
///     .request_id("r-42")
///     .timeout(Duration::from_secs(30))
///     .function_name("orders")
///     .trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
///     .tenant_id("tenant-a")
///     .build();
/// assert_eq!(ctx.request_id(), "r-42");
/// assert_eq!(ctx.invoked_function_arn(), Some("arn:aws:lambda:us-east-1:123456789012:function:orders"));
/// assert!(ctx.remaining() > Duration::from_secs(29));
/// ```
#[derive(Debug, Clone)]
#[must_use = "call `build` for the Context"]
pub struct ContextBuilder {
    request_id: String,
    deadline: Deadline,
    invoked_function_arn: Option<String>,
    trace_header: Option<String>,
    client_context: Option<ClientContext>,
    identity: Option<CognitoIdentity>,
    tenant_id: Option<String>,
    function: FunctionConfig,
}

#[derive(Debug, Clone, Copy)]
enum Deadline {
    In(Duration),
    AtEpochMs(u64),
}

impl Default for ContextBuilder {
    fn default() -> Self {
        ContextBuilder {
            request_id: "00000000-0000-4000-8000-000000000001".to_owned(),
            deadline: Deadline::In(Duration::from_secs(3)),
            invoked_function_arn: None,
            trace_header: None,
            client_context: None,
            identity: None,
            tenant_id: None,
            function: FunctionConfig {
                function_name: "test-function".to_owned(),
                function_version: "$LATEST".to_owned(),
                memory_mb: 128,
                log_group: None,
                log_stream: None,
                max_concurrency: 1,
            },
        }
    }
}

impl ContextBuilder {
    /// The request id.
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    /// The deadline, this long after [`build`](Self::build).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Deadline::In(timeout);
        self
    }

    /// The deadline, in milliseconds since the Unix epoch.
    pub fn deadline_ms(mut self, deadline_ms: u64) -> Self {
        self.deadline = Deadline::AtEpochMs(deadline_ms);
        self
    }

    /// The ARN the function was invoked by (an alias or version ARN, say).
    pub fn invoked_function_arn(mut self, arn: impl Into<String>) -> Self {
        self.invoked_function_arn = Some(arn.into());
        self
    }

    /// The X-Ray trace header, as Lambda sends it (`Root=…;Parent=…;Sampled=1`).
    pub fn trace_header(mut self, header: impl Into<String>) -> Self {
        self.trace_header = Some(header.into());
        self
    }

    /// The client context of an AWS Mobile SDK caller.
    pub fn client_context(mut self, client_context: ClientContext) -> Self {
        self.client_context = Some(client_context);
        self
    }

    /// The Cognito identity of the caller.
    pub fn identity(mut self, identity: CognitoIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The tenant id of a tenant-isolated function.
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// The function's name.
    pub fn function_name(mut self, name: impl Into<String>) -> Self {
        self.function.function_name = name.into();
        self
    }

    /// The function's version.
    pub fn function_version(mut self, version: impl Into<String>) -> Self {
        self.function.function_version = version.into();
        self
    }

    /// The function's memory size, in MB.
    pub fn memory_mb(mut self, memory_mb: u32) -> Self {
        self.function.memory_mb = memory_mb;
        self
    }

    /// The function's CloudWatch log group.
    pub fn log_group(mut self, log_group: impl Into<String>) -> Self {
        self.function.log_group = Some(log_group.into());
        self
    }

    /// The function's CloudWatch log stream.
    pub fn log_stream(mut self, log_stream: impl Into<String>) -> Self {
        self.function.log_stream = Some(log_stream.into());
        self
    }

    /// The context.
    pub fn build(self) -> Context {
        let deadline_ms = match self.deadline {
            Deadline::AtEpochMs(ms) => ms,
            Deadline::In(timeout) => crate::context::epoch_ms_now()
                .saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
        };
        let invoked_function_arn = self.invoked_function_arn.unwrap_or_else(|| {
            format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                self.function.function_name
            )
        });
        Context {
            request_id: self.request_id,
            deadline_ms,
            invoked_function_arn: Some(invoked_function_arn),
            sampled_trace: crate::context::parse_sampled(self.trace_header.as_deref()),
            trace_header: self.trace_header.map(Into::into),
            client_context: self.client_context.map(Box::new),
            identity: self.identity.map(Box::new),
            tenant_id: self.tenant_id,
            invocation_id: crate::context::InvocationId::NONE,
            function: Arc::new(self.function),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct OutOfStock;
    impl std::fmt::Display for OutOfStock {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("out of stock")
        }
    }
    impl std::error::Error for OutOfStock {}

    async fn order(qty: u32, ctx: Context) -> Result<String, OutOfStock> {
        tokio::task::yield_now().await;
        if qty > 3 {
            return Err(OutOfStock);
        }
        Ok(format!("{qty} for {}", ctx.request_id()))
    }

    #[test]
    fn invoke_gives_the_typed_response_or_lamina_s_error() {
        let ctx = context().request_id("r-7").build();
        assert_eq!(invoke(order, 2, ctx.clone()).unwrap(), "2 for r-7");
        let err = invoke(order, 9, ctx).unwrap_err();
        assert_eq!(
            (err.error_type(), err.message()),
            ("Handler.OutOfStock", "out of stock".to_owned())
        );
    }

    #[test]
    fn invoke_json_decodes_as_lamina_does() {
        assert_eq!(
            invoke_json(order, "1", context().build()).unwrap(),
            "1 for 00000000-0000-4000-8000-000000000001"
        );
        let err = invoke_json(order, r#""one""#, context().build()).unwrap_err();
        assert_eq!(err.error_type(), "Runtime.InvalidEvent");
        assert!(err.message().contains("expected u32"), "{}", err.message());
    }

    #[test]
    fn init_errors_are_named_as_in_the_init_phase() {
        let err = init(|| async { Err::<(), _>(OutOfStock) }).unwrap_err();
        assert_eq!(err.error_type(), "Init.OutOfStock");
        assert_eq!(init(|| async { Ok::<_, Error>(5) }).unwrap(), 5);
    }

    #[test]
    fn every_context_field_is_settable() {
        let mut client = ClientContext::default();
        client.custom.insert("k".into(), "v".into());
        let identity = CognitoIdentity {
            identity_id: "id-1".into(),
            ..CognitoIdentity::default()
        };
        let ctx = context()
            .request_id("r")
            .deadline_ms(1_700_000_000_000)
            .invoked_function_arn("arn:aws:lambda:eu-west-1:1:function:f:live")
            .trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
            .client_context(client.clone())
            .identity(identity.clone())
            .tenant_id("t")
            .function_name("f")
            .function_version("7")
            .memory_mb(1769)
            .log_group("/aws/lambda/f")
            .log_stream("2026/11/28/[7]abc")
            .build();
        assert_eq!(ctx.request_id(), "r");
        assert_eq!(ctx.deadline_ms(), 1_700_000_000_000);
        assert_eq!(
            ctx.invoked_function_arn(),
            Some("arn:aws:lambda:eu-west-1:1:function:f:live")
        );
        assert_eq!(
            ctx.xray_trace_header(),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
        );
        assert_eq!(ctx.client_context(), Some(&client));
        assert_eq!(ctx.identity(), Some(&identity));
        assert_eq!(ctx.tenant_id(), Some("t"));
        assert_eq!(
            (ctx.function_name(), ctx.function_version(), ctx.memory_mb()),
            ("f", "7", 1769)
        );
        assert_eq!(ctx.log_group(), Some("/aws/lambda/f"));
        assert_eq!(ctx.log_stream(), Some("2026/11/28/[7]abc"));
    }
}
