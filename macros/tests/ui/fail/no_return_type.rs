#[lamina::handler]
async fn handle(_event: String, _ctx: lamina::Context) {}
