//! Response streaming: `lamina::stream::Body` beside `lambda_runtime`'s `StreamResponse`, and an
//! axum `Router` on `lamina::http::Streaming` beside `lambda_http::run_with_streaming_response`
//! (a Function URL request), the same function on each side (64 KiB chunks of one shared
//! buffer), one run, against the emulator's
//! streaming mode (which checks the framing and counts the bytes as fast as they come; its
//! hashing is off here, so it is not what limits the throughput).
//!
//! - **Time to first byte**: median over 20 one-chunk streams, from queueing the invocation to
//!   the first body byte reaching the emulator.
//! - **Throughput**: 100 MiB streams, nine of them; median MiB/s from queueing to the end.
//! - **Peak RSS** of the process after those.
//! - **Instructions per chunk** (callgrind): invocations of 16 MiB against invocations of 1 MiB,
//!   the difference over the 240 chunks between them.

use std::path::Path;
use std::time::{Duration, Instant};

use lamina_emulator::{Emulator, Event};

use crate::metrics;
use crate::subject::Subject;

const WAIT: Duration = Duration::from_secs(120);
const CHUNK: u64 = 64 * 1024;
const LARGE: u64 = 100 << 20;
/// 100 MiB streams per row: their median is the row's throughput.
const THROUGHPUT_RUNS: usize = 9;

/// How a row asks its function for `bytes` bytes.
type Ask = fn(u64) -> String;

pub fn run(dir: &Path) {
    let valgrind = metrics::valgrind_available();
    eprintln!("streaming rows: time to first byte, throughput, RSS, instructions per chunk");
    println!();
    println!(
        "| Response streaming, 64 KiB chunks | time to first byte (ms) | 100 MiB throughput (MiB/s) | peak RSS after 100 MiB (KB) | instructions / chunk |"
    );
    println!("|---|---|---|---|---|");
    let rows: [(&str, &str, Ask); 4] = [
        (
            "`lambda_runtime::streaming`",
            "stream-lambda-runtime",
            bytes_event,
        ),
        ("`lamina::stream`", "stream-lamina", bytes_event),
        (
            "axum, `lambda_http::run_with_streaming_response`",
            "stream-http-lambda-http",
            url_event,
        ),
        (
            "axum, `lamina::http::Streaming`",
            "stream-http-lamina",
            url_event,
        ),
    ];
    for (label, binary, ask) in rows {
        let subject = Subject::new("stream", dir, binary);
        let (first_byte, per_second, peak_kb) = measure(&subject, ask);
        let per_chunk = valgrind
            .then(|| instructions_per_chunk(&subject, ask))
            .flatten()
            .map_or("n/a".to_owned(), |per| format!("{per:.0}"));
        println!(
            "| {label} | {:.2} | {per_second:.0} | {peak_kb} | {per_chunk} |",
            first_byte.as_secs_f64() * 1e3
        );
    }
}

fn bytes_event(bytes: u64) -> String {
    format!(r#"{{"bytes":{bytes}}}"#)
}

/// A Function URL `GET /download?bytes=N`.
fn url_event(bytes: u64) -> String {
    format!(
        r#"{{"version":"2.0","routeKey":"$default","rawPath":"/download","rawQueryString":"bytes={bytes}","headers":{{"host":"abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws","user-agent":"curl/8.5.0","x-forwarded-proto":"https"}},"requestContext":{{"accountId":"anonymous","apiId":"abcdefghijklmnopqrstuvwxyz012345","domainName":"abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws","domainPrefix":"abcdefghijklmnopqrstuvwxyz012345","http":{{"method":"GET","path":"/download","protocol":"HTTP/1.1","sourceIp":"198.51.100.4","userAgent":"curl/8.5.0"}},"requestId":"5b8e2c71","routeKey":"$default","stage":"$default","time":"28/Nov/2026:19:06:18 +0000","timeEpoch":1795892778305}},"isBase64Encoded":false}}"#
    )
}

fn measure(subject: &Subject, ask: Ask) -> (Duration, f64, u64) {
    let ask = |bytes| Event::json(ask(bytes));
    let api = Emulator::start();
    api.set_stream_keep(0);
    api.set_stream_hash(false);
    let running = subject.start(&api.address(), &[]);
    let mut first_bytes: Vec<Duration> = (0..20)
        .map(|_| {
            let queued = Instant::now();
            let id = api.enqueue(ask(CHUNK));
            let outcome = api.wait_outcome(&id, WAIT).expect("an outcome");
            let streamed = outcome.streamed();
            assert!(streamed.complete, "{streamed:?}");
            streamed.first_byte.expect("a first byte") - queued
        })
        .collect();
    let mut rates: Vec<f64> = (0..THROUGHPUT_RUNS)
        .map(|_| {
            let queued = Instant::now();
            let id = api.enqueue(ask(LARGE));
            let outcome = api.wait_outcome(&id, WAIT).expect("an outcome");
            let streamed = outcome.streamed();
            assert!(streamed.complete, "{streamed:?}");
            assert!(streamed.length >= LARGE, "{streamed:?}");
            (LARGE >> 20) as f64 / (streamed.ended - queued).as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    let peak = running.status_field("VmHWM").unwrap_or(0);
    (
        metrics::median(&mut first_bytes),
        rates[THROUGHPUT_RUNS / 2],
        peak,
    )
}

fn instructions_per_chunk(subject: &Subject, ask: Ask) -> Option<f64> {
    let small = ask(16 * CHUNK);
    let large = ask(256 * CHUNK);
    let (per_small, _) = metrics::instructions_with(subject, &small, &[], 2, 6)?;
    let (per_large, _) = metrics::instructions_with(subject, &large, &[], 2, 6)?;
    Some((per_large - per_small) / 240.0)
}
