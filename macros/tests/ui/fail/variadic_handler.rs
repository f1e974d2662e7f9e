#[lamina::handler]
async fn handle(event: String, _ctx: lamina::Context, _: ...) -> Result<String, lamina::Error> {
    Ok(event)
}
