#[lamina::handler]
async fn handle() -> Result<String, lamina::Error> {
    Ok(String::new())
}
