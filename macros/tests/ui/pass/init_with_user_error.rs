// `init` may be a path, and may fail with any error that converts into `lamina::Error`.
mod setup {
    pub struct Limits {
        pub max: u32,
    }

    pub async fn load() -> Result<Limits, std::num::ParseIntError> {
        Ok(Limits { max: "10".parse()? })
    }
}

#[lamina::handler(init = setup::load)]
async fn handle(
    event: Option<u32>,
    _ctx: lamina::Context,
    limits: &setup::Limits,
) -> Result<u32, lamina::Error> {
    Ok(event.unwrap_or(0).min(limits.max))
}
