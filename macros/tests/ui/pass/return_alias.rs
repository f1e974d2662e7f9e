use serde::Serialize;

#[derive(Serialize)]
struct Resp {
    ok: bool,
}

type Out = Result<Resp, lamina::Error>;

#[lamina::handler]
async fn handle(_event: (), _ctx: lamina::Context) -> Out {
    Ok(Resp { ok: true })
}
