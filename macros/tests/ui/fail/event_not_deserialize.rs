struct Order {
    id: String,
}

#[lamina::handler]
async fn handle(event: Order, _ctx: lamina::Context) -> Result<String, lamina::Error> {
    Ok(event.id)
}
