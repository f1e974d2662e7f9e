// `lambda_runtime::Error` is this type: a function moving from lambda_runtime keeps it.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[lamina::handler]
async fn handle(count: Option<String>, _ctx: lamina::Context) -> Result<u32, BoxError> {
    let count: u32 = count.as_deref().unwrap_or("1").parse()?;
    if count > 100 {
        return Err("too many".into());
    }
    Ok(count)
}
