//! The streaming rows' anchor: the same function on `lambda_runtime`'s streaming response
//! (`StreamResponse`, which always sends the HTTP prelude), as its documentation shows it.

use bytes::Bytes;
use lambda_runtime::streaming::Response;
use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::Value;

const CHUNK: usize = 64 * 1024;
static DATA: [u8; CHUNK] = [b'x'; CHUNK];

async fn handle(
    event: LambdaEvent<Value>,
) -> Result<Response<impl tokio_stream::Stream<Item = Result<Bytes, Error>>>, Error> {
    let bytes = event.payload["bytes"].as_u64().unwrap_or(0) as usize;
    let chunks = (0..bytes)
        .step_by(CHUNK)
        .map(move |at| Ok::<_, Error>(Bytes::from_static(&DATA[..(bytes - at).min(CHUNK)])));
    Ok(Response::from(tokio_stream::iter(chunks)))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(handle)).await
}
