//! The same axum `Router` as `http-axum-lambda-http`, served by lamina: built once in `init`,
//! one line in the handler.

use std::convert::Infallible;

use axum::response::Response;
use axum::{Json, Router, routing::post};
use lamina::Context;
use lamina::http::Request;
use serde_json::Value;

async fn order(Json(order): Json<Value>) -> Json<Value> {
    Json(order)
}

async fn app() -> Result<Router, lamina::Error> {
    Ok(Router::new().route("/orders", post(order)))
}

#[lamina::handler(init = app)]
async fn api(req: Request, _ctx: Context, app: &Router) -> Result<Response, Infallible> {
    lamina::http::serve(app, req).await
}
