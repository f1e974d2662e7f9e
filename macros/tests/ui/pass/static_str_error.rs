// A `&'static str` is an error too, named `Handler.Error`.
#[lamina::handler]
async fn handle(event: Option<u8>, _ctx: lamina::Context) -> Result<u8, &'static str> {
    match event {
        Some(0) => Err("zero is not an order"),
        other => Ok(other.unwrap_or(1)),
    }
}
