//! [`Body`]: the bytes of a request or response, whole.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// The body of an HTTP request or response: bytes, whole.
///
/// A Lambda HTTP event carries its body complete, so a request's body is never a stream; a
/// response's is sent complete too. `Body` implements [`http_body::Body`] (1.x), so it goes
/// into tower and axum as it is, and it converts from the usual byte and string types.
///
/// ```
/// use lamina::http::Body;
///
/// let body = Body::from("hello");
/// assert_eq!(body.as_bytes(), b"hello");
/// assert_eq!(body.to_str().unwrap(), "hello");
/// assert!(Body::empty().is_empty());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Body(Bytes);

impl Body {
    /// A body with no bytes.
    pub fn empty() -> Self {
        Body(Bytes::new())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as text, if they are UTF-8.
    ///
    /// # Errors
    /// Where the bytes stop being UTF-8.
    pub fn to_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.0)
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes, without copying them.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Its length only: a body may hold personal data, and `Debug` output ends up in logs.
        write!(f, "Body({} bytes)", self.0.len())
    }
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body(bytes)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body(Bytes::from(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body(Bytes::from(text))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body(Bytes::from_static(text.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Body(Bytes::from_static(bytes))
    }
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Body::empty()
    }
}

impl From<Body> for Bytes {
    fn from(body: Body) -> Self {
        body.0
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.0.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Ready(Some(Ok(Frame::data(std::mem::take(&mut this.0)))))
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;

    fn poll(body: &mut Body) -> Option<Bytes> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        match Pin::new(body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => Some(frame.into_data().unwrap()),
            Poll::Ready(None) => None,
            Poll::Ready(Some(Err(never))) => match never {},
            Poll::Pending => panic!("a whole body is never pending"),
        }
    }

    #[test]
    fn yields_its_bytes_once_then_ends() {
        let mut body = Body::from(vec![0u8, 159, 255]);
        assert_eq!(body.size_hint().exact(), Some(3));
        assert!(!body.is_end_stream());
        assert_eq!(poll(&mut body).unwrap().as_ref(), &[0, 159, 255]);
        assert!(body.is_end_stream());
        assert_eq!(poll(&mut body), None);
        assert_eq!(poll(&mut Body::empty()), None);
    }

    #[test]
    fn debug_shows_the_length_not_the_bytes() {
        assert_eq!(format!("{:?}", Body::from("secret")), "Body(6 bytes)");
    }
}
