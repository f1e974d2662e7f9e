#[lamina::handler]
async fn handle<E: serde::de::DeserializeOwned>(
    _event: E,
    _ctx: lamina::Context,
) -> Result<String, lamina::Error> {
    Ok(String::new())
}
