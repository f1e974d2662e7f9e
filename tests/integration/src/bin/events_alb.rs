//! Answers an ALB request with what lamina read from it, in the request's header mode.
//! `/binary` answers with bytes that are not UTF-8; `/cookies` sets two cookies.

use lamina::events::alb::http::StatusCode;
use lamina::events::alb::{AlbRequestExt, AlbTargetGroupRequest, Response};
use lamina::{Context, Error};
use serde_json::json;

#[lamina::handler]
async fn events_alb(request: AlbTargetGroupRequest, _ctx: Context) -> Result<Response, Error> {
    match request.path.as_deref() {
        Some("/binary") => {
            return Ok(request
                .respond(StatusCode::OK)
                .header("content-type", "application/octet-stream")
                .with_body(vec![0xde, 0xad, 0xbe, 0xef]));
        }
        Some("/cookies") => {
            return Ok(request
                .respond(StatusCode::NO_CONTENT)
                .header("set-cookie", "a=1")
                .header("set-cookie", "b=2"));
        }
        _ => {}
    }
    let body = match request.body_bytes() {
        Ok(bytes) => bytes.into_owned(),
        Err(e) => return Ok(request.respond(StatusCode::BAD_REQUEST).text(e.to_string())),
    };
    let http = request.to_http()?;
    request.respond(StatusCode::OK).json(&json!({
        "method": http.method().as_str(),
        "uri": http.uri().to_string(),
        "query": request.query_pairs(),
        "user_agent": request.header("User-Agent"),
        "body_len": body.len(),
        "body_text": std::str::from_utf8(&body).ok(),
    }))
}
