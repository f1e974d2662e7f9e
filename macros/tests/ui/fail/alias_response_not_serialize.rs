struct Receipt;

type Out = Result<Receipt, lamina::Error>;

#[lamina::handler]
async fn handle(_event: String, _ctx: lamina::Context) -> Out {
    Ok(Receipt)
}
