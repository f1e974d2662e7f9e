// The lamina echo function, shared by the bin-mode binary (src/bin/echo-lamina.rs) and the
// layer-mode handler library (src/layer/echo.rs), so both modes run the very same code. Plain
// comments: an included file cannot carry inner doc attributes.

use lamina::{Context, Error};
use serde_json::Value;

#[lamina::handler]
async fn echo(event: Value, _ctx: Context) -> Result<Value, Error> {
    Ok(event)
}
