//! Streamed HTTP responses: [`Streaming`], and how one is written as Lambda's HTTP integration
//! stream (a JSON prelude, eight NUL bytes, then the body as it comes).

use std::future::poll_fn;
use std::pin::pin;

use bytes::Buf;

use super::response::{self, IntoResponse};
use super::source::Source;
use crate::error::{BoxError, Error};
use crate::runtime::stream_writer::{GATHER, Writer, gather_ready};

/// The content type of a streamed HTTP response: a prelude, then the body.
const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";

/// What ends the prelude. Sent as a chunk of its own: `cargo lambda watch` takes the stream's
/// first chunk for the prelude and drops the second.
const PRELUDE_END: [u8; 8] = [0; 8];

/// An HTTP response that streams: its status and headers reach the client at once, and its body
/// as the handler produces it, through a Function URL in `RESPONSE_STREAM` mode or an API
/// Gateway REST API with response streaming.
///
/// Return it from an HTTP handler to stream; the body is any [`http_body::Body`], such as
/// axum's (`Sse`, `Body::from_stream`). An axum app streams with [`serve`](super::serve):
///
/// ```no_run
/// use std::convert::Infallible;
/// use axum::{Router, body::Body, routing::get};
/// use lamina::http::{Request, Streaming};
/// use lamina::{Context, Error};
///
/// async fn app() -> Result<Router, Error> {
///     Ok(Router::new().route("/", get(|| async { Body::from("streamed") })))
/// }
///
/// #[lamina::handler(init = app)]
/// async fn api(req: Request, _ctx: Context, app: &Router) -> Result<Streaming<Body>, Infallible> {
///     lamina::http::serve(app, req).await.map(Streaming)
/// }
/// ```
///
/// A source that cannot stream (an HTTP API, ALB, VPC Lattice) gets the same response whole, and
/// so does every source under `LAMINA_HTTP_STREAM=off`, for a Function URL in `BUFFERED` mode or
/// a REST API without response streaming (nothing in the event tells them apart). A body error
/// after the first byte ends the stream with the error in its trailers.
#[derive(Debug)]
pub struct Streaming<B>(pub http::Response<B>);

impl<B> IntoResponse for Streaming<B>
where
    B: http_body::Body<Error: Into<BoxError>>,
{
    type Body = B;
    const STREAMS: bool = true;
    fn into_response(self) -> http::Response<B> {
        self.0
    }
}

impl<B> From<http::Response<B>> for Streaming<B> {
    fn from(response: http::Response<B>) -> Self {
        Streaming(response)
    }
}

/// Whether `source` takes a streamed response.
pub(super) fn streams_to(source: Source) -> bool {
    matches!(source, Source::FunctionUrl | Source::ApiGatewayRest)
}

/// Streams `response` to `writer`: the prelude and its end at once, then each body frame as it
/// comes.
pub(super) async fn send<B>(
    source: Source,
    response: http::Response<B>,
    mut writer: Writer<'_, '_>,
) -> Result<(), Error>
where
    B: http_body::Body<Error: Into<BoxError>>,
{
    let (parts, body) = response.into_parts();
    let mut prelude = Vec::with_capacity(256);
    response::write_prelude(source, &parts, &mut prelude)?;
    writer.write(&[&prelude, &PRELUDE_END])?;
    let mut body = pin!(body);
    let mut ready = Vec::with_capacity(GATHER);
    while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        ready.extend(body_error(frame)?.into_data().ok());
        let after = gather_ready(&mut ready, |cx| {
            body.as_mut()
                .poll_frame(cx)
                .map(|frame| frame.map(|frame| body_error(frame).map(|f| f.into_data().ok())))
        })
        .await;
        write_ready(&mut writer, &mut ready)?;
        if let Some(end) = after {
            return end;
        }
    }
    Ok(())
}

fn body_error<T, E: Into<BoxError>>(frame: Result<T, E>) -> Result<T, Error> {
    frame.map_err(|e| Error::with_type("Handler.ResponseBody", e.into()))
}

/// Writes the data in `ready`, in order, and empties it: in one write when each frame's bytes
/// are contiguous (as `Bytes` are), else frame by frame, piece by piece.
fn write_ready<D: Buf>(writer: &mut Writer<'_, '_>, ready: &mut Vec<D>) -> Result<(), Error> {
    if ready
        .iter()
        .all(|data| data.chunk().len() == data.remaining())
    {
        let mut pieces: [&[u8]; GATHER] = [&[]; GATHER];
        for (piece, data) in pieces.iter_mut().zip(ready.iter()) {
            *piece = data.chunk();
        }
        writer.write(&pieces[..ready.len()])?;
    } else {
        for data in ready.iter_mut() {
            while data.has_remaining() {
                let piece = data.chunk();
                writer.write(&[piece])?;
                let sent = piece.len();
                data.advance(sent);
            }
        }
    }
    ready.clear();
    Ok(())
}

/// The content type of a streamed HTTP response.
pub(super) fn content_type() -> &'static str {
    HTTP_INTEGRATION
}
