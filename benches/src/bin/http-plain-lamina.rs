//! The plain lamina HTTP handler that answers with the request's JSON body, as
//! `http-plain-lambda-http` does.

use lamina::http::{Body, Request, Response, http};
use lamina::{Context, Error};

#[lamina::handler]
async fn echo(req: Request, _ctx: Context) -> Result<Response, Error> {
    let body: Body = req.into_body();
    Ok(http::Response::builder()
        .header("content-type", "application/json")
        .body(body)?)
}
