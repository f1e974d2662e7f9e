// `impl Trait` is fine in an `async fn`'s return type, though no turbofish can name it.
#[lamina::handler]
async fn handle(
    event: Option<u32>,
    _ctx: lamina::Context,
) -> Result<impl serde::Serialize, lamina::Error> {
    Ok(vec![event.unwrap_or(1); 2])
}
