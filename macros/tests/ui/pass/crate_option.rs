// `crate = "..."` names where lamina is; here the default, spelled out.
#[lamina::handler(crate = "lamina")]
async fn handle(event: Option<String>, _ctx: lamina::Context) -> Result<String, lamina::Error> {
    Ok(event.unwrap_or_default())
}
