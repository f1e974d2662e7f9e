// A `String` or `&'static str` is an error too, named `Handler.Error`.
#[lamina::handler]
async fn handle(name: Option<String>, _ctx: lamina::Context) -> Result<String, String> {
    match name {
        Some(name) if name.is_empty() => Err(format!("an empty name: {name:?}")),
        Some(name) => Ok(name),
        None => Ok("nobody".to_owned()),
    }
}
