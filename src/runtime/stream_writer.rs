//! The handler's side of a streamed response: opens the stream on its first byte, writes what
//! the handler produces, and tells the panic hook where the stream is, so a panic under
//! `panic = "abort"` can still end it with error trailers.
//!
//! A reply that cannot stream (a local run's buffer, a test) takes the same bytes whole.

use std::future::poll_fn;
use std::task::{Context, Poll};

use crate::error::Error;
use crate::handler::{CLOSED_ERROR_TYPE, Reply};
use crate::logging;
use crate::runtime::panic;

/// How many ready pieces go out in one write.
pub(crate) const GATHER: usize = 16;

/// Once one item has come, takes whatever else `next` has ready at this moment into `ready`,
/// up to [`GATHER`] items, so they go out in one write. An item of `None` carries nothing to
/// write (an HTTP body's trailers frame).
///
/// Returns `None` while the source may have more, `Some(Ok(()))` once it has ended, and
/// `Some(Err(_))` for the error that follows the items gathered (written first, then the error).
pub(crate) async fn gather_ready<T>(
    ready: &mut Vec<T>,
    mut next: impl FnMut(&mut Context<'_>) -> Poll<Option<Result<Option<T>, Error>>>,
) -> Option<Result<(), Error>> {
    while ready.len() < GATHER {
        match poll_fn(|cx| Poll::Ready(next(cx))).await {
            Poll::Ready(Some(Ok(item))) => ready.extend(item),
            Poll::Ready(Some(Err(err))) => return Some(Err(err)),
            Poll::Ready(None) => return Some(Ok(())),
            Poll::Pending => return None,
        }
    }
    None
}

/// Writes one invocation's streamed response into its [`Reply`].
pub(crate) struct Writer<'r, 'a> {
    reply: &'r mut Reply<'a>,
    content_type: &'r str,
    opened: bool,
}

impl<'r, 'a> Writer<'r, 'a> {
    pub(crate) fn new(reply: &'r mut Reply<'a>, content_type: &'r str) -> Self {
        Writer {
            reply,
            content_type,
            opened: false,
        }
    }

    /// Starts the response, if it has not started: from here on an error goes in the trailers.
    ///
    /// # Errors
    /// The Runtime API could not be reached; nothing was sent.
    pub(crate) fn open(&mut self) -> Result<(), Error> {
        if self.opened {
            return Ok(());
        }
        self.opened = true;
        if let Some(target) = self.reply.stream.as_deref_mut() {
            // The content type goes into the Runtime API request's head: a CR or LF in it would
            // end the head or forge a header (`Lambda-Runtime-Function-Error-Type`, say).
            if !crate::base::http1::is_header_value(self.content_type) {
                return Err(Error::new(
                    "Runtime.StreamOpen",
                    format!(
                        "the streamed response's content type {:?} is not a valid HTTP header \
                         value (only visible ASCII, spaces and tabs may appear in one); set a \
                         MIME type such as `text/plain; charset=utf-8`",
                        self.content_type
                    ),
                ));
            }
            // The invocation's lines so far go out before its first byte.
            logging::flush();
            let socket = target.open(self.content_type).map_err(|err| {
                Error::new(
                    "Runtime.StreamOpen",
                    format!("the streamed response could not be started: {err}"),
                )
            })?;
            panic::stream_opened(socket);
        }
        Ok(())
    }

    /// Sends `pieces` (each a chunk of the stream), starting the response first if needed.
    /// Blocks while the reader is behind, which holds the handler's producer back.
    ///
    /// # Errors
    /// The stream closed: the caller went away, or the invocation ended.
    pub(crate) fn write(&mut self, pieces: &[&[u8]]) -> Result<(), Error> {
        self.open()?;
        match self.reply.stream.as_deref_mut() {
            Some(target) => {
                logging::flush();
                target.write(pieces).map_err(|err| {
                    Error::new(
                        CLOSED_ERROR_TYPE,
                        format!(
                            "the streamed response was closed after it began ({err}): the caller \
                             went away or the invocation ended"
                        ),
                    )
                })
            }
            None => {
                for piece in pieces {
                    self.reply.body.extend_from_slice(piece);
                }
                Ok(())
            }
        }
    }
}
