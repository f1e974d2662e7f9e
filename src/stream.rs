//! Streamed responses: a handler that returns a [`Body`] sends its response as it produces it,
//! through Lambda's response streaming (`InvokeWithResponseStream`, Function URLs in
//! `RESPONSE_STREAM` mode). The first bytes reach the caller before the handler is done, and a
//! response may grow far past the 6 MB of a buffered one (Lambda allows 200 MB).
//!
//! Whether a function streams is said by its return type: `Result<lamina::stream::Body, E>`.
//! A body comes from any [`Stream`] of byte chunks, or from a [`channel`] the handler (or a task
//! it spawns) feeds while it works:
//!
//! ```no_run
//! use lamina::stream::{self, Body};
//! use lamina::{Context, Error};
//!
//! #[lamina::handler]
//! async fn export(rows: u32, _ctx: Context) -> Result<Body, Error> {
//!     let (sender, body) = stream::channel();
//!     tokio::spawn(async move {
//!         for row in 0..rows {
//!             // Waits while the caller is behind; fails once the caller has gone.
//!             if sender.send(format!("row {row}\n")).await.is_err() {
//!                 return;
//!             }
//!         }
//!     });
//!     Ok(body.content_type("text/plain"))
//! }
//! ```
//!
//! # Errors
//!
//! An error before the first byte (the handler's `Err`, a stream that fails at once) is the
//! invocation's error, as for any function. One after it ends the stream with the error in
//! the response's trailers (`Lambda-Runtime-Function-Error-Type` and `-Body`), which Lambda
//! passes to the caller: an item `Err(e)` of the stream, [`Sender::fail`], a panic (also under
//! `panic = "abort"`), or the deadline guard's timeout. A stream never ends silently short.
//!
//! # Memory and back-pressure
//!
//! Each chunk is written to the Runtime API as it comes and dropped; nothing holds the whole
//! response. While the Runtime API reads slower than the handler produces (Lambda sends the
//! first 6 MB at full speed, then about 2 MB/s), the write waits, the channel fills, and
//! [`Sender::send`] waits too.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::mpsc;

use crate::error::{Error, IntoError};
use crate::handler::{Reply, Respond};
use crate::runtime::stream_writer::{GATHER, Writer, gather_ready};

/// How many chunks a [`channel`] holds before [`Sender::send`] waits.
const CHANNEL_CHUNKS: usize = 8;

/// A streamed response: the bytes a handler sends as it produces them.
///
/// ```
/// use lamina::stream::Body;
///
/// let lines = tokio_stream::iter(["one\n", "two\n"].map(Ok::<_, std::io::Error>));
/// let body = Body::from_stream(lines).content_type("text/plain");
/// ```
pub struct Body {
    chunks: Chunks,
    content_type: String,
}

enum Chunks {
    Stream(Box<dyn Stream<Item = Result<Bytes, Error>> + Unpin>),
    Channel(Receiver),
}

impl Chunks {
    fn poll_next(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        match self {
            Chunks::Stream(stream) => Pin::new(&mut **stream).poll_next(cx),
            Chunks::Channel(receiver) => receiver.chunks.poll_recv(cx),
        }
    }
}

impl Body {
    /// A body read from `stream`: each item is a chunk, sent as it comes; an `Err` item ends
    /// the response with that error (in the trailers, once bytes have gone out).
    pub fn from_stream<S, B, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<B, E>> + 'static,
        B: Into<Bytes>,
        E: IntoError,
    {
        Body {
            chunks: Chunks::Stream(Box::new(Chunked(Box::pin(stream)))),
            content_type: "application/octet-stream".to_owned(),
        }
    }

    /// Sets the `Content-Type` the caller receives (`application/octet-stream` unless set).
    #[must_use]
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// Reads the body to its end, writing its chunks to `writer` as they come: each time, the
    /// one awaited and whatever else is ready at that moment (up to [`GATHER`]), in one write.
    async fn send(mut chunks: Chunks, mut writer: Writer<'_, '_>) -> Result<(), Error> {
        let mut ready = Vec::with_capacity(GATHER);
        while let Some(first) = poll_fn(|cx| chunks.poll_next(cx)).await {
            ready.push(first?);
            let after = gather_ready(&mut ready, |cx| {
                chunks
                    .poll_next(cx)
                    .map(|item| item.map(|chunk| chunk.map(Some)))
            })
            .await;
            write_ready(&mut writer, &mut ready)?;
            match after {
                Some(Ok(())) => break,
                Some(Err(err)) => return Err(err),
                None => {}
            }
        }
        if let Chunks::Channel(receiver) = &chunks {
            if receiver.panicked.load(Ordering::Acquire) {
                return Err(Error::new(
                    "Runtime.StreamProducerPanic",
                    "the task feeding the stream panicked (its message is in the log above) \
                     before the response was complete",
                ));
            }
        }
        // An empty body is still a streamed response.
        writer.open()
    }
}

/// Writes the chunks in `ready`, in order, in one write, and empties it.
fn write_ready(writer: &mut Writer<'_, '_>, ready: &mut Vec<Bytes>) -> Result<(), Error> {
    let mut pieces: [&[u8]; GATHER] = [&[]; GATHER];
    for (piece, chunk) in pieces.iter_mut().zip(ready.iter()) {
        *piece = chunk;
    }
    let written = writer.write(&pieces[..ready.len()]);
    ready.clear();
    written
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl Respond for Body {
    const STREAMS: bool = true;

    async fn respond(self, reply: &mut Reply<'_>) -> Result<(), Error> {
        let Body {
            chunks,
            content_type,
        } = self;
        Body::send(chunks, Writer::new(reply, &content_type)).await
    }
}

/// A stream's items as chunks and lamina errors. The stream is boxed, so this is `Unpin`
/// whatever it is.
struct Chunked<S>(Pin<Box<S>>);

impl<S, B, E> Stream for Chunked<S>
where
    S: Stream<Item = Result<B, E>>,
    B: Into<Bytes>,
    E: IntoError,
{
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .0
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|r| r.map(Into::into).map_err(IntoError::into_error)))
    }
}

/// The handler's end of a [`channel`]: sends chunks into the response.
#[derive(Clone)]
pub struct Sender {
    chunks: mpsc::Sender<Result<Bytes, Error>>,
    panicked: Arc<AtomicBool>,
}

/// The response's end of a [`channel`].
struct Receiver {
    chunks: mpsc::Receiver<Result<Bytes, Error>>,
    panicked: Arc<AtomicBool>,
}

/// A streamed response fed by a [`Sender`]: returns the sender and the [`Body`] to return from
/// the handler. The body ends when every sender is dropped.
pub fn channel() -> (Sender, Body) {
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    let panicked = Arc::new(AtomicBool::new(false));
    let body = Body {
        chunks: Chunks::Channel(Receiver {
            chunks: receiver,
            panicked: Arc::clone(&panicked),
        }),
        content_type: "application/octet-stream".to_owned(),
    };
    (
        Sender {
            chunks: sender,
            panicked,
        },
        body,
    )
}

/// The response a [`Sender`] fed is over: the caller went away, the invocation ended, or the
/// stream failed. Stop producing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the streamed response is closed: the caller went away or the invocation ended")
    }
}

impl std::error::Error for Closed {}

impl Sender {
    /// Sends one chunk; waits while the response is behind (the channel holds 8 chunks).
    ///
    /// # Errors
    /// [`Closed`] once the response is over; nothing more will be read.
    pub async fn send(&self, chunk: impl Into<Bytes>) -> Result<(), Closed> {
        self.chunks.send(Ok(chunk.into())).await.map_err(|_| Closed)
    }

    /// Ends the response with `error`: the invocation's error if nothing was sent yet, else the
    /// error in the stream's trailers.
    ///
    /// # Errors
    /// [`Closed`] when the response is already over.
    pub async fn fail(self, error: impl IntoError) -> Result<(), Closed> {
        self.chunks
            .send(Err(error.into_error()))
            .await
            .map_err(|_| Closed)
    }

    /// Whether the response is over (see [`Closed`]).
    pub fn is_closed(&self) -> bool {
        self.chunks.is_closed()
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        // A producer that panics drops its sender while unwinding: the body must not take that
        // for the end of the response.
        if std::thread::panicking() {
            self.panicked.store(true, Ordering::Release);
        }
    }
}
