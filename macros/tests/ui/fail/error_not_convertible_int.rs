#[lamina::handler]
async fn handle(event: String, _ctx: lamina::Context) -> Result<String, i32> {
    Ok(event)
}
