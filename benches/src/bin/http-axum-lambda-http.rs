//! The anchor for HTTP APIs: an axum `Router` with one JSON route, run by `lambda_http::run` as
//! its README shows.

use axum::{Json, Router, routing::post};
use lambda_http::{Error, run, tracing};
use serde_json::Value;

async fn order(Json(order): Json<Value>) -> Json<Value> {
    Json(order)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    run(Router::new().route("/orders", post(order))).await
}
