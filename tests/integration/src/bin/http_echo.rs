//! An HTTP handler that answers with what it received: each source's event in, the request
//! lamina built from it out, so the tests see the conversion both ways. A few paths answer in
//! other ways: `/binary` with bytes that are not UTF-8, `/cookies` with two `Set-Cookie`
//! headers, `/fail` with a handler error, `/panic` with a panic.

use lamina::http::{Body, Request, RequestContext, Response, http};
use lamina::{Context, Error};

#[lamina::handler]
async fn echo(req: Request, _ctx: Context) -> Result<Response, Error> {
    let path = req.uri().path().to_owned();
    if path.ends_with("/fail") {
        return Err(Error::new("OrderNotFound", "order 7 does not exist"));
    }
    if path.ends_with("/panic") {
        panic!("boom");
    }
    if path.ends_with("/binary") {
        return Ok(http::Response::builder()
            .header("content-type", "image/png")
            .body(Body::from(vec![0x89, b'P', b'N', b'G', 0x00, 0xFF]))
            .expect("a valid response"));
    }
    if path.ends_with("/cookies") {
        return Ok(http::Response::builder()
            .status(204)
            .header("set-cookie", "session=new; HttpOnly")
            .header("set-cookie", "theme=light; Path=/")
            .body(Body::empty())
            .expect("a valid response"));
    }
    let source = req
        .extensions()
        .get::<RequestContext>()
        .expect("lamina sets the request context");
    let echoed = serde_json::json!({
        "source": source.source().to_string(),
        "method": req.method().as_str(),
        "path": path,
        "query": req.uri().query(),
        "client_path": source.client_path(),
        "cookies": req
            .headers()
            .get_all("cookie")
            .iter()
            .map(|v| v.to_str().unwrap_or("<not text>"))
            .collect::<Vec<_>>(),
        "body_len": req.body().len(),
        "body": String::from_utf8_lossy(req.body().as_bytes()),
    });
    Ok(http::Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(echoed.to_string()))
        .expect("a valid response"))
}
