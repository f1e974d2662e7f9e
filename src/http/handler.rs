//! The erased handler for a function that takes [`Request`]: the event decoded into a request,
//! the handler's response written in the source's shape, both on the handler's side of the ABI.

use std::future::Future;

use super::Request;
use super::request;
use super::response::{self, IntoResponse};
use super::response_stream;
use super::settings::Settings;
use crate::context::Context;
use crate::error::Error;
use crate::handler::{Fork, Handler, Reply, Share};
use crate::logging;
use crate::runtime::deadline::DeadlineGuard;
use crate::runtime::invoke::{TaskRuntime, fork_with};
use crate::runtime::stream_writer::Writer;
use crate::runtime::trace_env::TraceEnv;

/// The user's `async fn(Request, Context, &S)`, as [`crate::handler::TypedHandler`] runs a JSON
/// one.
pub(crate) struct HttpHandler<S: 'static, F> {
    runtime: TaskRuntime,
    state: &'static S,
    share: Share<S>,
    handler: F,
    settings: Settings,
    deadline: DeadlineGuard,
    trace_env: TraceEnv,
}

impl<S: 'static, F> HttpHandler<S, F> {
    pub(crate) fn new(
        runtime: TaskRuntime,
        state: &'static S,
        share: Share<S>,
        handler: F,
    ) -> Result<Self, Error> {
        Ok(HttpHandler {
            runtime,
            state,
            share,
            handler,
            settings: Settings::from_env()?,
            deadline: DeadlineGuard::from_env()?,
            trace_env: TraceEnv::new(),
        })
    }
}

impl<S, F, Fut, R> Handler for HttpHandler<S, F>
where
    S: 'static,
    F: Fn(Request, Context, &'static S) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<R, Error>>,
    R: IntoResponse,
{
    fn until_readable(&mut self, socket: std::os::fd::RawFd) {
        self.runtime.run_until_readable(socket);
    }

    fn streams(&self) -> bool {
        R::STREAMS
    }

    fn fork(&self) -> Option<Fork> {
        fork_with(
            &self.share,
            self.state,
            &self.handler,
            |runtime, state, share, handler| {
                Ok(Box::new(HttpHandler::new(runtime, state, share, handler)?))
            },
        )
    }

    fn call(
        &mut self,
        event: &[u8],
        context: &Context,
        reply: &mut Reply<'_>,
    ) -> Result<(), Error> {
        let _logs = logging::Invocation::enter(context);
        self.trace_env.update(context.xray_trace_header());
        let (request, source) =
            request::decode(event, context, &self.settings).inspect_err(|err| {
                // The messages quote nothing from the event.
                tracing::error!(
                    error_type = err.error_type(),
                    "invocation failed: {}",
                    err.message()
                );
            })?;
        let call = (self.handler)(request, context.clone(), self.state);
        if R::STREAMS
            && self.settings.streams
            && response_stream::streams_to(source)
            && reply.stream.is_some()
        {
            let settings = &self.settings;
            let streamed = stream(call, source, settings, context, reply);
            return self
                .runtime
                .run_invocation(self.deadline, context, streamed)?;
        }
        let outcome = self
            .runtime
            .run_invocation(self.deadline, context, respond(call))
            .and_then(|outcome| outcome);
        finish(outcome, source, &self.settings, context, reply.body)
    }
}

/// Runs the handler's future and streams its response; an error before the response exists
/// fails the invocation (or, under `LAMINA_HTTP_ERRORS=500`, streams the problem document).
async fn stream<R: IntoResponse>(
    call: impl Future<Output = Result<R, Error>>,
    source: super::Source,
    settings: &Settings,
    context: &Context,
    reply: &mut Reply<'_>,
) -> Result<(), Error> {
    let writer = Writer::new(reply, response_stream::content_type());
    match call.await {
        Ok(response) => response_stream::send(source, response.into_response(), writer).await,
        Err(err @ Error::Handler(_)) if settings.errors_as_500 => {
            log_as_500(&err);
            let problem = response::problem(context.request_id()).map(super::Body::from);
            response_stream::send(source, problem, writer).await
        }
        Err(err) => Err(err),
    }
}

/// Runs the handler's future and reads its response to the end.
pub(crate) async fn respond<R: IntoResponse>(
    call: impl Future<Output = Result<R, Error>>,
) -> Result<(http::response::Parts, Vec<u8>), Error> {
    let (parts, body) = call.await?.into_response().into_parts();
    let body = response::collect(body).await?;
    Ok((parts, body))
}

/// Writes the response document for `source`, or, for a handler error under
/// `LAMINA_HTTP_ERRORS=500`, a problem document.
pub(crate) fn finish(
    outcome: Result<(http::response::Parts, Vec<u8>), Error>,
    source: super::Source,
    settings: &Settings,
    context: &Context,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    match outcome {
        Ok((parts, body)) => response::write(source, &parts, &body, out),
        Err(err @ Error::Handler(_)) if settings.errors_as_500 => {
            log_as_500(&err);
            response::write_problem(source, context.request_id(), out)
        }
        Err(err) => Err(err),
    }
}

/// The line a handler error leaves when `LAMINA_HTTP_ERRORS=500` answers it with a problem
/// document instead of failing the invocation.
fn log_as_500(err: &Error) {
    tracing::error!(
        error_type = err.error_type(),
        "the handler failed, so the client gets a 500 (LAMINA_HTTP_ERRORS=500): {}",
        err.message()
    );
}
