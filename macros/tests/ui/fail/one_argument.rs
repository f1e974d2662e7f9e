#[lamina::handler]
async fn handle(event: String) -> Result<String, lamina::Error> {
    Ok(event)
}
