//! An axum app that streams through a Function URL (`lamina::http::Streaming`):
//!
//! - `/events`: server-sent events, three of them, 50 ms apart;
//! - `/download?bytes=N`: N bytes from `Body::from_stream`, with headers and two cookies;
//! - `/fail_mid`: one chunk, then a body error;
//! - `/missing`: a handler error before any byte (`lamina::Error`, through `Result`).

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lamina::http::{Request, Streaming};
use lamina::{Context, Error};
use serde::Deserialize;
use tokio_stream::StreamExt as _;

async fn events() -> impl IntoResponse {
    let events = tokio_stream::iter(1..=3)
        .then(|n| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            n
        })
        .map(|n| Ok::<_, Infallible>(Event::default().event("tick").data(format!("{n}"))));
    Sse::new(events)
}

#[derive(Deserialize)]
struct Size {
    bytes: usize,
}

async fn download(Query(size): Query<Size>) -> Response {
    let chunks = (0..size.bytes)
        .step_by(4096)
        .map(move |start| Ok::<_, Infallible>(vec![b'd'; (size.bytes - start).min(4096)]));
    Response::builder()
        .header("content-type", "application/octet-stream")
        .header("x-export", "orders")
        .header("set-cookie", "session=abc; HttpOnly")
        .header("set-cookie", "theme=dark")
        .body(Body::from_stream(tokio_stream::iter(chunks)))
        .expect("a valid response")
}

async fn fail_mid() -> Response {
    let chunks = tokio_stream::iter([
        Ok("first\n"),
        Err(std::io::Error::other("the upstream reset")),
    ]);
    Response::new(Body::from_stream(chunks))
}

async fn app() -> Result<Router, Error> {
    Ok(Router::new()
        .route("/events", get(events))
        .route("/download", get(download))
        .route("/fail_mid", get(fail_mid)))
}

#[lamina::handler(init = app)]
async fn api(req: Request, _ctx: Context, app: &Router) -> Result<Streaming<Body>, Error> {
    if req.uri().path() == "/missing" {
        return Err(Error::new("Orders.NotFound", "no such order"));
    }
    let response = lamina::http::serve(app, req).await;
    Ok(Streaming(
        response.unwrap_or_else(|never: Infallible| match never {}),
    ))
}
