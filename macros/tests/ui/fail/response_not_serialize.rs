struct Receipt {
    id: String,
}

#[lamina::handler]
async fn handle(event: String, _ctx: lamina::Context) -> Result<Receipt, lamina::Error> {
    Ok(Receipt { id: event })
}
