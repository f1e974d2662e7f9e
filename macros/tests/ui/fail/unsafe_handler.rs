#[lamina::handler]
async unsafe fn handle(event: String, _ctx: lamina::Context) -> Result<String, lamina::Error> {
    Ok(event)
}
