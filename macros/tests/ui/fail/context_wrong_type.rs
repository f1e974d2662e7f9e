#[lamina::handler]
async fn handle(event: String, _ctx: String) -> Result<String, lamina::Error> {
    Ok(event)
}
