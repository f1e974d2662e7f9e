//! An axum app on lamina: the `Router` is built once in `init`, and one line serves every
//! request with it, from API Gateway, a Function URL, ALB or VPC Lattice alike. Routes are
//! written as the API declares them (`/orders/{id}`), whatever the stage.
//!
//! ```text
//! cargo run --example axum --features http -- --event examples/axum/event.json
//! ```

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lamina::http::Request;
use lamina::{Context, Error};
use serde::{Deserialize, Serialize};

#[derive(Clone)]
struct Shop {
    currency: &'static str,
}

#[derive(Deserialize)]
struct Fields {
    fields: Option<String>,
}

#[derive(Serialize)]
struct Order {
    id: u64,
    currency: &'static str,
    fields: Option<String>,
}

async fn order(
    State(shop): State<Shop>,
    Path(id): Path<u64>,
    Query(query): Query<Fields>,
) -> Json<Order> {
    Json(Order {
        id,
        currency: shop.currency,
        fields: query.fields,
    })
}

#[derive(Deserialize, Serialize)]
struct NewOrder {
    sku: String,
    qty: u32,
}

async fn create(Json(order): Json<NewOrder>) -> (StatusCode, Json<NewOrder>) {
    (StatusCode::CREATED, Json(order))
}

async fn logo() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "image/png")],
        vec![0x89, b'P', b'N', b'G', 0x00, 0xFF],
    )
}

async fn login() -> Response {
    (
        AppendHeaders([
            (header::SET_COOKIE, "session=new; HttpOnly"),
            (header::SET_COOKIE, "theme=light; Path=/"),
        ]),
        "welcome",
    )
        .into_response()
}

async fn app() -> Result<Router, Error> {
    Ok(Router::new()
        .route("/orders/{id}", get(order))
        .route("/orders", post(create))
        .route("/logo.png", get(logo))
        .route("/login", post(login))
        .with_state(Shop { currency: "EUR" }))
}

#[lamina::handler(init = app)]
async fn api(req: Request, _ctx: Context, app: &Router) -> Result<Response, Infallible> {
    lamina::http::serve(app, req).await
}
