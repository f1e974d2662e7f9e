//! The X-Ray rows of the benchmark: echo the event inside one subsegment. With a sampled trace
//! header the subsegment is recorded and sent to the daemon; without one it is a no-op.

use lamina::xray::Subsegment;
use lamina::{Context, Error};
use serde_json::Value;

#[lamina::handler]
async fn traced(event: Value, _ctx: Context) -> Result<Value, Error> {
    let step = Subsegment::new("echo");
    step.annotate("records", 1);
    Ok(step.run(async { event }).await)
}
