//! HTTP APIs: one handler for API Gateway (REST and HTTP APIs), Function URLs, ALB and VPC
//! Lattice, and any tower service (an axum `Router`) on it.
//!
//! A handler that takes a [`Request`] is an HTTP handler. lamina tells from each event which
//! source sent it, hands the handler an ordinary [`http::Request`], and writes the handler's
//! [`http::Response`] in the shape that source expects:
//!
//! ```no_run
//! use lamina::http::{Request, Response};
//! use lamina::{Context, Error};
//!
//! #[lamina::handler]
//! async fn hello(req: Request, _ctx: Context) -> Result<Response, Error> {
//!     let who = req.uri().query().unwrap_or("world").to_owned();
//!     Ok(Response::new(format!("hello, {who}").into()))
//! }
//! ```
//!
//! An axum `Router` (any `tower::Service<Request>` that is `Clone`) is built once in `init` and
//! serves every request with [`serve`]:
//!
//! ```no_run
//! use axum::{Router, extract::Path, routing::get};
//! use lamina::{Context, Error, http::Request};
//!
//! async fn order(Path(id): Path<u64>) -> String {
//!     format!("order {id}")
//! }
//!
//! async fn app() -> Result<Router, Error> {
//!     Ok(Router::new().route("/orders/{id}", get(order)))
//! }
//!
//! #[lamina::handler(init = app)]
//! async fn api(req: Request, _ctx: Context, app: &Router) -> Result<axum::response::Response, std::convert::Infallible> {
//!     lamina::http::serve(app, req).await
//! }
//! ```
//!
//! # Sources
//!
//! | source | told by | response |
//! |---|---|---|
//! | API Gateway REST API (payload 1.0) | `httpMethod` and `resource` | `multiValueHeaders` (every `Set-Cookie` kept) |
//! | API Gateway HTTP API (payload 2.0) | `version` "2.0" and `rawPath` | `headers`, with `Set-Cookie` in `cookies` |
//! | Function URL | as 2.0, on a `lambda-url` domain | as 2.0 |
//! | ALB | `requestContext.elb` | the request's header mode, with `statusDescription` |
//! | VPC Lattice (v2) | `version` "2.0", `method` and `path` | `headers` |
//!
//! An event that is none of them fails the invocation with `Runtime.InvalidEvent`, saying what
//! each source would have had. [`RequestContext`] (a request extension) says which source it
//! was, with what else the source gives: request id, source IP, user agent, domain, stage,
//! stage variables, path parameters, the authorizer's claims or context, the caller's
//! identity. The invocation's [`Context`](crate::Context) is an extension too, and the
//! `X-Amzn-Trace-Id` header carries the invocation's trace.
//!
//! # Paths
//!
//! The request's path is the one the API declares its routes with, so a route written as
//! `/orders/{id}` matches whatever stage or custom-domain base path the client called through:
//! API Gateway puts a named stage in an HTTP API's `rawPath` (`/prod/orders/42`) and a custom
//! domain's base path in a REST API's `path` (`/shop/orders/42`). lamina takes off what comes
//! before the route the event names (REST `resource`, HTTP API `routeKey`); for a catch-all
//! route (`$default`) it takes off a leading `/{stage}` only, so a custom domain's base path
//! stays there (map the API at the domain's root, or route with it).
//!
//! The path exactly as the client called it is [`RequestContext::client_path`]; set
//! `LAMINA_HTTP_PATH=client` in the function's environment to have it in the URI instead.
//! (lambda_http puts the stage in front of every path unless
//! `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set, which its HTTP API users cannot turn off.)
//!
//! # Query strings and bodies
//!
//! The URI's query is encoded exactly once whatever the source: API Gateway REST APIs send
//! decoded values (lamina encodes them), HTTP APIs and ALB send them as the client did (lamina
//! keeps them), so axum's `Query` decodes each value once, and a repeated key keeps every
//! value. A path or query that is not a valid URI is escaped until it is, never a panic: the
//! request still reaches the handler.
//!
//! A request body the source base64-encoded (`isBase64Encoded`) arrives decoded. A response body
//! goes back as text when its `Content-Type` is textual and it has no `Content-Encoding`, and
//! otherwise base64-encoded; [`BodyEncoding`] overrides the guess for one response.
//!
//! # Streaming
//!
//! A handler that returns [`Streaming`] sends the response's status and headers at once and its
//! body as it is produced, through a Function URL in `RESPONSE_STREAM` mode or a REST API with
//! response streaming; other sources get it whole. See [`Streaming`].
//!
//! # Errors
//!
//! A handler error fails the invocation, as for any lamina function: API Gateway then answers
//! its client `502`, and the error is in the function's logs and metrics. With
//! `LAMINA_HTTP_ERRORS=500` the client gets a `500` with an RFC 9457 problem document naming
//! the invocation's request id instead, and the error is logged; the invocation succeeds.
//! Either variable set to anything else fails INIT with `Runtime.InvalidConfig`.

mod body;
mod handler;
mod request;
mod response;
mod response_stream;
mod settings;
mod source;
mod uri;

pub use body::Body;
pub use response::{BodyEncoding, IntoResponse};
pub use response_stream::Streaming;
pub use source::{Authorizer, RequestContext, Source};

pub(crate) use handler::HttpHandler;

/// What `lamina::testing::invoke_http` runs: one invocation of an HTTP handler, in-process; the
/// response document the source would receive. The caller drives the future (the testing kit
/// on its test thread's runtime).
pub(crate) async fn invoke_in_test<R, Fut>(
    handler: impl FnOnce(Request, crate::Context) -> Fut,
    event: &str,
    context: &crate::Context,
) -> Result<Vec<u8>, crate::Error>
where
    R: IntoResponse,
    Fut: std::future::Future<Output = Result<R, crate::Error>>,
{
    let settings = settings::Settings::from_env()?;
    let (request, source) = request::decode(event.as_bytes(), context, &settings)?;
    let outcome = handler::respond(handler(request, context.clone())).await;
    let mut out = Vec::new();
    handler::finish(outcome, source, &settings, context, &mut out)?;
    Ok(out)
}

/// The `http` crate (1.x), whose types this module's API uses.
pub use http;

/// The request an HTTP handler takes.
pub type Request = http::Request<Body>;

/// The response an HTTP handler returns (any `http::Response<B>` with an
/// [`http_body::Body`] will do; see [`IntoResponse`]).
pub type Response = http::Response<Body>;

/// Serves `request` with a tower service, such as an axum `Router`, that the handler's state
/// holds: the one line an HTTP handler needs to run an existing app.
///
/// The service is cloned for the call (a `Router` clone is a reference count), so the state
/// can stay borrowed.
///
/// # Errors
/// The service's own error; axum's `Router` has none (`Infallible`).
pub async fn serve<S>(service: &S, request: Request) -> Result<S::Response, S::Error>
where
    S: tower_service::Service<Request> + Clone,
{
    let mut service = service.clone();
    std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
    service.call(request).await
}

#[cfg(test)]
mod tests;
