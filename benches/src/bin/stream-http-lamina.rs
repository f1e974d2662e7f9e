//! The same streaming axum `Router` as `stream-http-lambda-http`, served by lamina: built once
//! in `init`, its response returned as `lamina::http::Streaming`.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::{Router, routing::get};
use lamina::Context;
use lamina::http::{Request, Streaming};

const CHUNK: usize = 64 * 1024;
static DATA: [u8; CHUNK] = [b'x'; CHUNK];

async fn download(Query(query): Query<HashMap<String, usize>>) -> Body {
    let bytes = query.get("bytes").copied().unwrap_or(0);
    let chunks = (0..bytes)
        .step_by(CHUNK)
        .map(move |at| Ok::<_, Infallible>(Bytes::from_static(&DATA[..(bytes - at).min(CHUNK)])));
    Body::from_stream(tokio_stream::iter(chunks))
}

async fn app() -> Result<Router, lamina::Error> {
    Ok(Router::new().route("/download", get(download)))
}

#[lamina::handler(init = app)]
async fn api(req: Request, _ctx: Context, app: &Router) -> Result<Streaming<Body>, Infallible> {
    lamina::http::serve(app, req).await.map(Streaming)
}
