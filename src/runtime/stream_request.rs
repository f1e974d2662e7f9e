//! The loop's side of a streamed response: the Runtime API stream a handler writes into, and
//! how the invocation ends once the stream has begun (its last chunk, with the error in its
//! trailers if it failed), or once the Runtime API has closed it.

use std::io;
use std::os::fd::RawFd;

use super::api::{Delivery, RuntimeApi};
use crate::context::Context;
use crate::error::{ApiError, Error};
use crate::handler::StreamTarget;
use crate::logging;

/// How long before the deadline a stream write that makes no progress gives up.
const WRITE_MARGIN: std::time::Duration = std::time::Duration::from_millis(200);

/// The Runtime API side of a streamed response, for one invocation.
pub(super) struct ApiStream<'a> {
    api: &'a mut RuntimeApi,
    context: &'a Context,
    pub(super) state: StreamState,
}

/// How far an invocation's streamed response got.
pub(super) enum StreamState {
    /// Not started: the response (or error) is posted whole.
    Unopened,
    /// Started, and every write so far went through.
    Open { bytes: u64 },
    /// Started, then the connection failed: nothing more can be said about the invocation.
    Broken { bytes: u64, problem: String },
}

impl<'a> ApiStream<'a> {
    pub(super) fn new(api: &'a mut RuntimeApi, context: &'a Context) -> Self {
        ApiStream {
            api,
            context,
            state: StreamState::Unopened,
        }
    }
}

impl StreamTarget for ApiStream<'_> {
    fn open(&mut self, content_type: &str) -> io::Result<Option<RawFd>> {
        // The handler's side refuses such a content type with a message of its own; this is for
        // a handler library built by another lamina, in layer mode.
        if !crate::base::http1::is_header_value(content_type) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the content type {content_type:?} is not a valid HTTP header value"),
            ));
        }
        let opened = self.api.open_stream(
            self.context.request_id(),
            self.context.invocation_id.get(),
            content_type,
        );
        match opened {
            Ok(socket) => {
                self.state = StreamState::Open { bytes: 0 };
                Ok(socket)
            }
            // Nothing reached the Runtime API: the invocation's error is posted to `/error`.
            Err(err) => Err(io::Error::other(Error::RuntimeApi(err).message())),
        }
    }

    fn write(&mut self, pieces: &[&[u8]]) -> io::Result<()> {
        let StreamState::Open { bytes } = self.state else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        // A caller that stops reading must not hold the thread (and the handler's runtime, and
        // with it the deadline guard) past the invocation's time: the write gives up shortly
        // before the deadline, and the stream is broken off.
        let left = self.context.remaining().saturating_sub(WRITE_MARGIN);
        match self
            .api
            .stream_chunks(pieces, std::time::Instant::now() + left)
        {
            Ok(()) => {
                let written: usize = pieces.iter().map(|p| p.len()).sum();
                self.state = StreamState::Open {
                    bytes: bytes + written as u64,
                };
                Ok(())
            }
            Err(err) => {
                self.state = StreamState::Broken {
                    bytes,
                    problem: err.to_string(),
                };
                Err(err)
            }
        }
    }
}

/// Ends a streamed response: its last chunk, with the error in its trailers if the invocation
/// failed after the stream began.
pub(super) fn finish_stream(
    api: &mut RuntimeApi,
    request_id: &str,
    bytes: u64,
    result: Result<(), Error>,
) -> Result<(), ApiError> {
    if let Err(err) = &result {
        tracing::error!(
            error_type = err.error_type(),
            bytes,
            "invocation failed after its response began streaming (the error goes in the \
             stream's trailers): {}",
            err.message()
        );
    }
    logging::flush();
    match api.close_stream(result.as_ref().err()) {
        Ok(Delivery::Accepted) => Ok(()),
        Ok(Delivery::Gone) => {
            tracing::warn!(
                request_id,
                "the invocation ended (timed out) while its response streamed; the Runtime API \
                 answered 410 Gone"
            );
            Ok(())
        }
        Ok(other) => {
            tracing::warn!(
                request_id,
                ?other,
                "the Runtime API refused the streamed response"
            );
            Ok(())
        }
        // The stream is over either way; a connection that failed here is the next request's
        // to reopen, and a 5xx is as fatal as anywhere.
        Err(err) if err.status().is_some() => Err(err),
        Err(err) => {
            tracing::warn!(
                request_id,
                "the streamed response's end was not acknowledged: {err}"
            );
            Ok(())
        }
    }
}

/// An invocation whose stream the Runtime API closed: the caller went away, or the invocation
/// ended. Nothing can be posted for it any more.
pub(super) fn broken_stream(
    request_id: &str,
    bytes: u64,
    problem: &str,
    result: Result<(), Error>,
) {
    tracing::warn!(
        request_id,
        bytes,
        "the Runtime API closed the streamed response ({problem}): the caller went away or the \
         invocation ended"
    );
    if let Err(err) = result {
        if err.error_type() != crate::handler::CLOSED_ERROR_TYPE {
            tracing::error!(
                error_type = err.error_type(),
                "invocation failed after its stream closed: {}",
                err.message()
            );
        }
    }
    logging::flush();
}
