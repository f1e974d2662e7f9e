// A crate that re-exports lamina points the macro at its own path.
mod sdk {
    pub use lamina;
}

#[sdk::lamina::handler(crate = "sdk::lamina")]
async fn handle(
    event: Option<String>,
    _ctx: sdk::lamina::Context,
) -> Result<String, sdk::lamina::Error> {
    Ok(event.unwrap_or_default())
}
