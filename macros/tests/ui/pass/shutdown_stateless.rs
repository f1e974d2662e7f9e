// `shutdown = path` without state: the hook takes nothing and may return `()`.
async fn flush() {}

#[lamina::handler(shutdown = flush)]
async fn handle(_event: Option<String>, _ctx: lamina::Context) -> Result<(), lamina::Error> {
    Ok(())
}
