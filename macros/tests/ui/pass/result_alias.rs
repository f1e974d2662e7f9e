// A one-parameter `Result` alias, the `anyhow::Result<T>` shape.
type Result<T> = std::result::Result<T, lamina::Error>;

#[lamina::handler]
async fn handle(event: Option<String>, _ctx: lamina::Context) -> Result<String> {
    Ok(event.unwrap_or_default())
}
