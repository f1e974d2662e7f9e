// `init` may fail with anyhow::Error, a boxed error or a string, like the handler.
struct Config {
    table: String,
}

async fn load() -> anyhow::Result<Config> {
    Ok(Config { table: std::env::var("TABLE").unwrap_or_else(|_| "orders".to_owned()) })
}

#[lamina::handler(init = load)]
async fn handle(
    _event: Option<u8>,
    _ctx: lamina::Context,
    config: &Config,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    Ok(config.table.clone())
}
