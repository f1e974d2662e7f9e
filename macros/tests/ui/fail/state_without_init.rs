struct State;

#[lamina::handler]
async fn handle(
    event: String,
    _ctx: lamina::Context,
    _state: &State,
) -> Result<String, lamina::Error> {
    Ok(event)
}
