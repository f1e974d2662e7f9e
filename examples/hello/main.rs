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

#[derive(Debug, Serialize)]
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

/// The function's own unit tests, with `lamina::testing`: no Runtime API, no AWS.
#[cfg(test)]
mod tests {
    use super::*;
    use lamina::testing;

    #[test]
    fn greets_by_name_with_the_request_id() {
        let app = testing::init(init).unwrap();
        let ctx = testing::context().request_id("r-1").build();
        let response = testing::invoke_json(|e, c| hello(e, c, &app), r#"{"name":"Ada"}"#, ctx);
        let response = response.unwrap();
        assert_eq!(response.message, "Hello, Ada!");
        assert_eq!(response.request_id, "r-1");
    }

    #[test]
    fn an_empty_name_is_an_error_the_caller_can_read() {
        let app = App {
            greeting: "Hi".to_owned(),
        };
        let event = Request {
            name: " ".to_owned(),
        };
        let err = testing::invoke(|e, c| hello(e, c, &app), event, testing::context().build());
        assert_eq!(err.unwrap_err().error_type(), "EmptyName");
    }

    #[test]
    fn a_request_without_a_name_does_not_decode() {
        let app = App {
            greeting: "Hi".to_owned(),
        };
        let err = testing::invoke_json(|e, c| hello(e, c, &app), "{}", testing::context().build());
        let err = err.unwrap_err();
        assert_eq!(err.error_type(), "Runtime.InvalidEvent");
        assert!(
            err.message().contains("missing field `name`"),
            "{}",
            err.message()
        );
    }
}
