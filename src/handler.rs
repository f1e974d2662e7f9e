//! The one form the invoke loop knows a handler by: JSON bytes in, JSON bytes out.
//!
//! Bin mode wraps the user's typed `async fn` in the loop's `TypedHandler`; layer mode wraps a
//! function table loaded from a shared library. Everything after decoding is shared by both. The
//! traits a handler's return type implements ([`Outcome`], [`Respond`]) are here too.

use std::any::Any;
use std::future::Future;
use std::os::fd::RawFd;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::base::json;
use crate::context::Context;
use crate::error::{Error, EventError, IntoError, ResponseError, short_type_name};

/// Where one invocation's response goes: a buffer for a response sent whole (the usual JSON
/// document), and, where the caller can take one, a stream the handler writes as it goes.
pub struct Reply<'a> {
    /// The response sent whole, written here unless the stream was opened.
    pub(crate) body: &'a mut Vec<u8>,
    /// The streamed response; `None` where the caller takes responses whole only.
    pub(crate) stream: Option<&'a mut dyn StreamTarget>,
}

impl<'a> Reply<'a> {
    /// A reply that can only be sent whole.
    pub(crate) fn whole(body: &'a mut Vec<u8>) -> Self {
        Reply { body, stream: None }
    }

    /// A reply that may be streamed to `stream`.
    pub(crate) fn streamed(body: &'a mut Vec<u8>, stream: &'a mut dyn StreamTarget) -> Self {
        Reply {
            body,
            stream: Some(stream),
        }
    }
}

/// The `errorType` of an invocation whose stream the Runtime API closed.
pub(crate) const CLOSED_ERROR_TYPE: &str = "Runtime.StreamClosed";

/// Where a streamed response's bytes go: the Runtime API (through the loader, in layer mode), or
/// stdout for a local invocation.
pub(crate) trait StreamTarget {
    /// Starts the response; returns the socket it is written on, for the panic hook's trailers.
    fn open(&mut self, content_type: &str) -> std::io::Result<Option<RawFd>>;
    /// Sends the next pieces, in order; blocks while the reader is behind (back-pressure).
    fn write(&mut self, pieces: &[&[u8]]) -> std::io::Result<()>;
}

/// A handler in erased form.
pub trait Handler {
    /// Handles one invocation: `event` is the payload as received; the response goes to
    /// `reply`, whose buffer arrives empty.
    ///
    /// # Errors
    /// The error to report for this invocation.
    fn call(&mut self, event: &[u8], context: &Context, reply: &mut Reply<'_>)
    -> Result<(), Error>;

    /// The builder of one more handler for the same function, for a worker thread serving
    /// invocations beside this one (`AWS_LAMBDA_MAX_CONCURRENCY` > 1). The builder runs on that
    /// thread; its handler shares this one's state and has its own tokio runtime.
    ///
    /// `None`, or a builder that returns `Ok(None)`, when the function cannot be served from
    /// several threads: its state is not `Sync`.
    fn fork(&self) -> Option<Fork> {
        None
    }

    /// Called between invocations, once the loop has asked `/next` and waits for its answer on
    /// `socket`: runs the tasks left on the handler's tokio runtime (a refresher `init` spawned,
    /// a flush a handler left behind) until the socket is readable. Returns at once when there
    /// are none, so a function that spawns nothing pays one load per invocation.
    fn until_readable(&mut self, socket: RawFd) {
        let _ = socket;
    }

    /// Whether this handler may stream its responses. `false` lets the loop leave the streaming
    /// path out of a function that never streams: the answer is a constant for a concrete
    /// handler type, so the code behind it is not even linked.
    fn streams(&self) -> bool {
        false
    }
}

/// What [`Handler::fork`] returns: sent to a worker thread, which calls it to build its handler.
pub type Fork = Box<dyn FnOnce() -> Result<Option<Box<dyn Handler>>, Error> + Send>;

impl<H: Handler + ?Sized> Handler for Box<H> {
    fn call(
        &mut self,
        event: &[u8],
        context: &Context,
        reply: &mut Reply<'_>,
    ) -> Result<(), Error> {
        (**self).call(event, context, reply)
    }

    fn fork(&self) -> Option<Fork> {
        (**self).fork()
    }

    fn until_readable(&mut self, socket: RawFd) {
        (**self).until_readable(socket);
    }

    fn streams(&self) -> bool {
        (**self).streams()
    }
}

/// How a handler's state `S` reaches another thread: only when `S: Sync`, which the macro knows
/// at the handler's definition (where `S` is a concrete type) and the generic code behind it does
/// not. The state crosses as a `Box<dyn Any + Send>` that the worker thread downcasts back.
pub struct Share<S: 'static>(Option<fn(&'static S) -> Packed>);

/// A state reference on its way to another thread.
pub(crate) type Packed = Box<dyn Any + Send>;

impl<S: 'static> Share<S> {
    /// The state may be borrowed from any thread.
    pub fn sync() -> Self
    where
        S: Sync,
    {
        Share(Some(|state| Box::new(state)))
    }

    /// The state stays on the thread that built it.
    pub fn not_sync() -> Self {
        Share(None)
    }

    pub(crate) fn pack(&self, state: &'static S) -> Option<Packed> {
        self.0.map(|pack| pack(state))
    }
}

impl<S: 'static> Clone for Share<S> {
    fn clone(&self) -> Self {
        Share(self.0)
    }
}

/// What a handler's `async fn` may return: `Result<R, E>` with `R:` [`Respond`] and
/// `E:` [`IntoError`](crate::error::IntoError).
#[diagnostic::on_unimplemented(
    message = "a lamina handler must return `Result<R, E>`, not `{Self}`",
    label = "this return type",
    note = "`R` is the response (any `serde::Serialize` type, or `lamina::stream::Body` to stream) and `E` any error that converts into `lamina::Error`"
)]
pub trait Outcome {
    /// The response type.
    type Response: Respond;
    /// Converts into lamina's result.
    fn into_result(self) -> Result<Self::Response, Error>;
}

/// What a handler's response can be: any `serde::Serialize` value, sent whole as JSON, or (with
/// the `stream` feature) a `lamina::stream::Body`, streamed as it is produced.
pub trait Respond {
    /// Whether the response is streamed.
    #[doc(hidden)]
    const STREAMS: bool = false;

    /// Sends the response to `reply`, inside the invocation's future (a stream is read there).
    #[doc(hidden)]
    fn respond(self, reply: &mut Reply<'_>) -> impl Future<Output = Result<(), Error>>;
}

impl<T: Serialize> Respond for T {
    async fn respond(self, reply: &mut Reply<'_>) -> Result<(), Error> {
        encode(&self, reply.body)
    }
}

impl<R: Respond, E: IntoError> Outcome for Result<R, E> {
    type Response = R;
    fn into_result(self) -> Result<R, Error> {
        self.map_err(IntoError::into_error)
    }
}

/// Decodes an event. An empty payload (an invoke without one) reads as JSON `null`, so
/// `Option<T>` and `()` events accept it.
///
/// The fast path is [`json::from_slice_fast`]; only a failure pays for `serde_json` and then a
/// pass that tracks the JSON path, so the error can say where the event went wrong.
pub(crate) fn decode<E: DeserializeOwned>(bytes: &[u8]) -> Result<E, Error> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        bytes
    };
    if let Some(event) = json::from_slice_fast(bytes) {
        return Ok(event);
    }
    serde_json::from_slice(bytes).map_err(|first| {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let (path, source) = match serde_path_to_error::deserialize::<_, E>(&mut de) {
            Err(tracked) => (tracked.path().to_string(), tracked.into_inner()),
            // Only trailing data fails `from_slice` but not the tracked pass.
            Ok(_) => (".".to_owned(), first),
        };
        Error::InvalidEvent(EventError::new(short_type_name::<E>(), path, source))
    })
}

pub(crate) fn encode<R: Serialize>(value: &R, out: &mut Vec<u8>) -> Result<(), Error> {
    json::to_writer(out, value)
        .map_err(|e| Error::InvalidResponse(ResponseError::new(short_type_name::<R>(), e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Order {
        id: String,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        sku: String,
        qty: u32,
    }

    fn event_error(json: &str) -> (String, String) {
        match decode::<Order>(json.as_bytes()).unwrap_err() {
            Error::InvalidEvent(e) => (e.path().to_owned(), e.to_string()),
            other => panic!("not an event error: {other:?}"),
        }
    }

    #[test]
    fn decode_errors_name_the_json_path() {
        let (path, message) =
            event_error(r#"{"id":"o1","items":[{"sku":"a","qty":1},{"sku":"b","qty":"two"}]}"#);
        assert_eq!(path, "items[1].qty");
        assert_eq!(
            message,
            "the event does not match `Order` at `items[1].qty`: invalid type: string \"two\", expected u32 at line 1 column 62"
        );
        let (path, _) = event_error(r#"{"items":[]}"#);
        assert_eq!(path, ".");
    }

    #[test]
    fn syntax_errors_say_it_is_not_json() {
        let (_, message) = event_error(r#"{"id": "#);
        assert_eq!(
            message,
            "the event is not valid JSON (EOF while parsing a value at line 1 column 7); send a JSON document"
        );
        let (path, _) = event_error(r#"{"id":"o","items":[]} trailing"#);
        assert_eq!(path, ".");
    }

    #[test]
    fn empty_payload_reads_as_null() {
        assert_eq!(decode::<Option<u8>>(b"").unwrap(), None);
        assert_eq!(decode::<Option<u8>>(b" \n").unwrap(), None);
        decode::<()>(b"").unwrap();
        assert_eq!(
            decode::<Order>(b"").unwrap_err().error_type(),
            "Runtime.InvalidEvent"
        );
    }

    #[test]
    fn unencodable_responses_are_errors() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        let err = encode(&map, &mut Vec::new()).unwrap_err();
        assert_eq!(err.error_type(), "Runtime.InvalidResponse");
        assert!(
            err.message().contains("key must be a string"),
            "{}",
            err.message()
        );
    }
}
