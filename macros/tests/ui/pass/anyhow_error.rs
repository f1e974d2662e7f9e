// A function written for lambda_runtime with anyhow keeps its error type; `?` and `.context`
// work as they did.
use anyhow::Context as _;

#[lamina::handler]
async fn handle(limit: Option<String>, _ctx: lamina::Context) -> anyhow::Result<u32> {
    let limit = limit.unwrap_or_else(|| "10".to_owned());
    let parsed: u32 = limit.parse().context("the limit is not a number")?;
    anyhow::ensure!(parsed > 0, "the limit must be positive");
    Ok(parsed)
}
