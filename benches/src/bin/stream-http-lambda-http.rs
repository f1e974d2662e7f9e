//! The anchor for the streamed HTTP rows: an axum `Router` whose one route streams `?bytes=N` in
//! 64 KiB chunks, run by `lambda_http::run_with_streaming_response` as its docs show.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::{Router, routing::get};
use lambda_http::{Error, run_with_streaming_response, tracing};

const CHUNK: usize = 64 * 1024;
static DATA: [u8; CHUNK] = [b'x'; CHUNK];

async fn download(Query(query): Query<HashMap<String, usize>>) -> Body {
    let bytes = query.get("bytes").copied().unwrap_or(0);
    let chunks = (0..bytes)
        .step_by(CHUNK)
        .map(move |at| Ok::<_, Infallible>(Bytes::from_static(&DATA[..(bytes - at).min(CHUNK)])));
    Body::from_stream(tokio_stream::iter(chunks))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    run_with_streaming_response(Router::new().route("/download", get(download))).await
}
