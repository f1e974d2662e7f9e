struct OutOfStock {
    sku: String,
}

#[lamina::handler]
async fn handle(event: String, _ctx: lamina::Context) -> Result<String, OutOfStock> {
    Err(OutOfStock { sku: event })
}
