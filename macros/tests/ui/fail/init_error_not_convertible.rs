struct State;

struct NotLoaded;

async fn init() -> Result<State, NotLoaded> {
    Ok(State)
}

#[lamina::handler(init = init)]
async fn handle(
    event: String,
    _ctx: lamina::Context,
    _state: &State,
) -> Result<String, lamina::Error> {
    Ok(event)
}
