//! An ALB target: greets `?name=`, or the `name` in a JSON body, in whichever header mode the
//! target group uses.
//!
//! ```text
//! cargo run --example alb -- --event examples/alb/event.json
//! ```

use lamina::events::alb::http::{Method, StatusCode};
use lamina::events::alb::{AlbRequestExt, AlbTargetGroupRequest, Response};
use lamina::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Greeting {
    name: String,
}

#[lamina::handler]
async fn greeter(request: AlbTargetGroupRequest, _ctx: Context) -> Result<Response, Error> {
    let name = if request.http_method == Method::POST {
        match request.body_json::<Greeting>() {
            Ok(greeting) => greeting.name,
            // A bad request is the client's mistake: answer 400 rather than fail the invocation,
            // which ALB would turn into a 502.
            Err(e) => return Ok(request.respond(StatusCode::BAD_REQUEST).text(e.to_string())),
        }
    } else {
        request.query("name").unwrap_or_else(|| "world".to_owned())
    };
    request
        .respond(StatusCode::OK)
        .header("cache-control", "no-store")
        .json(&serde_json::json!({ "message": format!("Hello, {name}!") }))
}
