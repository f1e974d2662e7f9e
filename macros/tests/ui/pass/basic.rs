use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Request {
    name: String,
}

#[derive(Serialize)]
struct Response {
    greeting: String,
}

#[lamina::handler]
async fn hello(event: Option<Request>, ctx: lamina::Context) -> Result<Response, lamina::Error> {
    let name = event.map_or_else(|| "world".to_owned(), |e| e.name);
    Ok(Response {
        greeting: format!("Hello, {name} ({})", ctx.request_id()),
    })
}
