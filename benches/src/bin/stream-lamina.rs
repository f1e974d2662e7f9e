//! The streaming rows' lamina subject: `{"bytes":N}` streams N bytes in 64 KiB chunks from a
//! `Stream` of one shared chunk, so the rows measure the runtime, not the producer.

use bytes::Bytes;
use lamina::stream::Body;
use lamina::{Context, Error};
use serde::Deserialize;

const CHUNK: usize = 64 * 1024;
static DATA: [u8; CHUNK] = [b'x'; CHUNK];

#[derive(Deserialize)]
struct Ask {
    bytes: usize,
}

#[lamina::handler]
async fn stream(ask: Ask, _ctx: Context) -> Result<Body, Error> {
    let chunks = (0..ask.bytes)
        .step_by(CHUNK)
        .map(move |at| Ok::<_, Error>(Bytes::from_static(&DATA[..(ask.bytes - at).min(CHUNK)])));
    Ok(Body::from_stream(tokio_stream::iter(chunks)))
}
