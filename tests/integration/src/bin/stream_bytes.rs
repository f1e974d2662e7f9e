//! A function that streams its response (`lamina::stream`), as the event asks:
//!
//! - `{"mode":"count","bytes":N,"chunk":C}`: N bytes of [`pattern`] in chunks of C, fed through
//!   a channel by a spawned task, with a log line after the first chunk;
//! - `"stamped"`: as `count`, each chunk starting with the producer's clock (Unix ms, 16 digits)
//!   when it sent it, for the back-pressure test;
//! - `"until_closed"`: chunks until the caller goes away, then a log line saying how far it got;
//! - `"fail_after_first"`: one chunk, then `Sender::fail`;
//! - `"fail_before"`: the handler's own `Err`, before any byte;
//! - `"error_first"`: a stream whose first item is an error;
//! - `"panic_mid"`: one chunk, then (20 ms later) a panic inside the stream, on the handler's
//!   thread;
//! - `"producer_panics"`: one chunk, then the spawned producer task panics;
//! - `"empty"`: no bytes at all;
//! - `"slow"`: a chunk every 100 ms, without end (for the deadline guard);
//! - `"traced"`: two rows, each made inside an X-Ray subsegment `row`;
//! - `"forged_content_type"`: one row, with a content type that carries a CRLF and a forged
//!   `Lambda-Runtime-Function-Error-Type` header.

use lamina::stream::{self, Body};
use lamina::xray::Subsegment;
use lamina::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Ask {
    mode: String,
    #[serde(default)]
    bytes: u64,
    #[serde(default = "default_chunk")]
    chunk: usize,
}

fn default_chunk() -> usize {
    64 * 1024
}

/// The byte at `offset` of a `count` stream: what the tests check the body against.
fn pattern(offset: u64) -> u8 {
    (offset.wrapping_mul(31).wrapping_add(7) % 251) as u8
}

fn chunk_at(offset: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| pattern(offset + i)).collect()
}

#[lamina::handler]
async fn export(ask: Ask, _ctx: Context) -> Result<Body, Error> {
    match ask.mode.as_str() {
        "count" | "stamped" => {
            let stamped = ask.mode == "stamped";
            let (sender, body) = stream::channel();
            tokio::spawn(async move {
                let mut sent = 0u64;
                while sent < ask.bytes {
                    let len = (ask.bytes - sent).min(ask.chunk as u64) as usize;
                    let mut chunk = chunk_at(sent, len);
                    if stamped {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis();
                        let stamp = format!("{now:016}");
                        chunk[..16].copy_from_slice(stamp.as_bytes());
                    }
                    if sender.send(chunk).await.is_err() {
                        return;
                    }
                    if sent == 0 {
                        tracing::info!(bytes = ask.bytes, "streaming the export");
                    }
                    sent += len as u64;
                }
            });
            Ok(body.content_type("application/x-export"))
        }
        "until_closed" => {
            let (sender, body) = stream::channel();
            tokio::spawn(async move {
                let mut sent = 0u64;
                while sender.send(chunk_at(sent, ask.chunk)).await.is_ok() {
                    sent += ask.chunk as u64;
                }
                tracing::warn!(sent, "the caller went away; stopping the export");
            });
            Ok(body)
        }
        "fail_after_first" => {
            let (sender, body) = stream::channel();
            tokio::spawn(async move {
                let _ = sender.send("first chunk\n").await;
                let _ = sender
                    .fail(Error::new(
                        "Export.Broken",
                        "the source went away after row 1",
                    ))
                    .await;
            });
            Ok(body)
        }
        "fail_before" => Err(Error::new("Export.NotFound", "no export named that")),
        "forged_content_type" => Ok(Body::from_stream(tokio_stream::iter([Ok::<_, Error>(
            "row 1\n",
        )]))
        .content_type("text/plain\r\nLambda-Runtime-Function-Error-Type: Function.Forged")),
        "error_first" => Ok(Body::from_stream(tokio_stream::iter([Err::<&str, _>(
            Error::new("Export.Empty", "nothing to export"),
        )]))),
        "panic_mid" => {
            // Row 2 takes a moment, so row 1 has gone out when it panics.
            let chunks = tokio_stream::iter(0..2).then(|i| async move {
                if i == 1 {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    panic!("row 2 is corrupt");
                }
                Ok::<_, Error>("row 1\n")
            });
            Ok(Body::from_stream(chunks))
        }
        "producer_panics" => {
            let (sender, body) = stream::channel();
            tokio::spawn(async move {
                let _ = sender.send("row 1\n").await;
                panic!("the producer hit a corrupt row");
            });
            Ok(body)
        }
        "traced" => {
            let rows = tokio_stream::iter(1..=2).then(|row| async move {
                Subsegment::new("row")
                    .run(async move { Ok::<_, Error>(format!("row {row}\n")) })
                    .await
            });
            Ok(Body::from_stream(rows))
        }
        "slow" => {
            let (sender, body) = stream::channel();
            tokio::spawn(async move {
                while sender.send("tick\n").await.is_ok() {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            });
            Ok(body)
        }
        "empty" => Ok(Body::from_stream(tokio_stream::iter(Vec::<
            Result<Vec<u8>, Error>,
        >::new()))),
        other => Err(Error::new(
            "Export.BadMode",
            format!("unknown mode {other}"),
        )),
    }
}

use tokio_stream::StreamExt as _;
