#[lamina::handler(crate = lamina)]
async fn handle(event: String, _ctx: lamina::Context) -> Result<String, lamina::Error> {
    Ok(event)
}
