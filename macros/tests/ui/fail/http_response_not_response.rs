use lamina::http::Request;
use lamina::{Context, Error};

#[lamina::handler]
async fn api(_req: Request, _ctx: Context) -> Result<String, Error> {
    Ok("text is not an HTTP response".to_owned())
}
