#[lamina::handler]
async fn main(event: String, _ctx: lamina::Context) -> Result<String, lamina::Error> {
    Ok(event)
}
