use lamina::{Context, Error};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Request {
    name: String,
}

#[derive(Serialize)]
struct Response {
    greeting: String,
}

struct App {
    prefix: String,
}

async fn build() -> Result<App, Error> {
    Ok(App {
        prefix: "Hello".to_owned(),
    })
}

#[lamina::handler(init = build)]
async fn hello(event: Option<Request>, _ctx: Context, app: &App) -> Result<Response, Error> {
    let name = event.map_or_else(|| "world".to_owned(), |e| e.name);
    Ok(Response {
        greeting: format!("{}, {name}", app.prefix),
    })
}
