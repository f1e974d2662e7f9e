// `shutdown = path` with state: the hook borrows it and may return a `Result`.
struct Pool;

async fn connect() -> Result<Pool, lamina::Error> {
    Ok(Pool)
}

async fn close(_pool: &Pool) -> Result<(), std::io::Error> {
    Ok(())
}

#[lamina::handler(init = connect, shutdown = close)]
async fn handle(_event: Option<String>, _ctx: lamina::Context, _pool: &Pool) -> Result<(), lamina::Error> {
    Ok(())
}
