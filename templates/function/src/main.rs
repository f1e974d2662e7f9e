{%- assign serve_http = false -%}
{%- if http_function == true or http == 'true' -%}{%- assign serve_http = true -%}{%- endif -%}
{%- if serve_http -%}
//! An HTTP function on lamina: an axum `Router`, built once when the execution environment
//! starts, answers API Gateway, Function URL and ALB requests alike.
//!
//! Run it locally with `cargo run -- --event event.json`, or under `cargo lambda watch` and
//! `curl http://localhost:9000/lambda-url/{{ function_name | default: project_name }}/hello/Ada`.

use std::convert::Infallible;

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use lamina::http::Request;
use lamina::{Context, Error};
use serde::Serialize;

#[derive(Serialize)]
struct Greeting {
    message: String,
}

async fn hello(Path(name): Path<String>) -> Json<Greeting> {
    Json(Greeting { message: format!("Hello, {name}!") })
}

/// Runs once per execution environment, before the first request.
async fn app() -> Result<Router, Error> {
    Ok(Router::new().route("/hello/{name}", get(hello)))
}

/// Serves every request with the router `app` built.
#[lamina::handler(init = app)]
async fn handler(req: Request, _ctx: Context, app: &Router) -> Result<axum::response::Response, Infallible> {
    lamina::http::serve(app, req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_the_name_in_the_path() {
        let app = lamina::testing::init(app).unwrap();
        let ctx = lamina::testing::context().request_id("test-1").build();
        let response = lamina::testing::invoke_http(
            |req, ctx| handler(req, ctx, &app),
            include_str!("../event.json"),
            ctx,
        )
        .unwrap();
        assert_eq!(response["statusCode"], 200);
        assert_eq!(response["body"], r#"{"message":"Hello, Ada!"}"#);
    }
}
{%- else -%}
//! A function on lamina: it takes a JSON event and answers with JSON.
//!
//! Run it locally with `cargo run -- --event event.json`.

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

/// What every invocation shares, built once per execution environment.
struct App {
    greeting: String,
}

/// Runs once, in Lambda's INIT phase, before the first invocation.
async fn init() -> Result<App, Error> {
    Ok(App {
        greeting: std::env::var("GREETING").unwrap_or_else(|_| "Hello".to_owned()),
    })
}

/// Runs for every invocation.
#[lamina::handler(init = init)]
async fn handler(event: Request, ctx: Context, app: &App) -> Result<Response, Error> {
    if event.name.is_empty() {
        return Err(Error::new("EmptyName", "the event's `name` is empty; send a name to greet"));
    }
    Ok(Response {
        message: format!("{}, {}!", app.greeting, event.name),
        request_id: ctx.request_id().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_by_name() {
        let app = App { greeting: "Hello".to_owned() };
        let ctx = lamina::testing::context().request_id("test-1").build();
        let response = lamina::testing::invoke_json(
            |event, ctx| handler(event, ctx, &app),
            include_str!("../event.json"),
            ctx,
        )
        .unwrap();
        assert_eq!(response.message, "Hello, Ada!");
        assert_eq!(response.request_id, "test-1");
    }

    #[test]
    fn an_empty_name_is_an_error_the_caller_can_match() {
        let app = App { greeting: "Hello".to_owned() };
        let err = lamina::testing::invoke_json(
            |event, ctx| handler(event, ctx, &app),
            r#"{"name": ""}"#,
            lamina::testing::context().build(),
        )
        .unwrap_err();
        assert_eq!(err.error_type(), "EmptyName");
    }
}
{%- endif %}
