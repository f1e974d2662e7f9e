#[lamina::handler]
async fn handle(event: String, _ctx: lamina::Context) -> u32 {
    event.len() as u32
}
