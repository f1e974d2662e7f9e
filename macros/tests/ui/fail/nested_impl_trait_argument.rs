#[lamina::handler]
async fn handle(
    events: Vec<impl serde::de::DeserializeOwned>,
    _ctx: lamina::Context,
) -> Result<usize, lamina::Error> {
    Ok(events.len())
}
