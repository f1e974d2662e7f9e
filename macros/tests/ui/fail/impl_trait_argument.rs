#[lamina::handler]
async fn handle(
    event: impl serde::de::DeserializeOwned,
    _ctx: lamina::Context,
) -> Result<String, lamina::Error> {
    let _ = event;
    Ok(String::new())
}
