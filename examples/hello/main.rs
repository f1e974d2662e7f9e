//! The smallest useful lamina function: state built once in INIT, borrowed by every invocation.
//!
//! Run it here, without AWS:
//!
//! ```text
//! cargo run --example hello -- --event examples/hello/event.json
//! ```

use lamina::{Context, Error};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Request {
    name: String,
}

#[derive(Serialize)]
struct Response {
    message: String,
    request_id: String,
}

struct App {
    greeting: String,
}

/// Runs once per execution environment, before the first invocation.
async fn init() -> Result<App, Error> {
    let greeting = std::env::var("GREETING").unwrap_or_else(|_| "Hello".to_owned());
    Ok(App { greeting })
}

#[lamina::handler(init = init)]
async fn hello(event: Request, ctx: Context, app: &App) -> Result<Response, Error> {
    if event.name.trim().is_empty() {
        return Err(Error::new(
            "EmptyName",
            "`name` is empty; send {\"name\": \"...\"}",
        ));
    }
    Ok(Response {
        message: format!("{}, {}!", app.greeting, event.name),
        request_id: ctx.request_id().to_owned(),
    })
}
