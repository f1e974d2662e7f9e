//! Runs the cache operations named on its command line against one `lamina::cache::Cache` and
//! prints one JSON line per operation on stdout; log lines (DEBUG and up) go to stderr. The cache
//! tests run it inside mount namespaces (a small tmpfs, a read-only mount), as another user, and
//! twice in a row or side by side on one directory.
//!
//! ```text
//! cache_probe [--dir D] [--namespace N] [--budget B] [--min-free M] OP...
//!   bytes=KEY:SIZE[:TTL_MS]  get_or_fetch_bytes; fetch returns SIZE bytes made from KEY
//!   json=KEY                 get_or_fetch_json of {"key": KEY, "n": 42}
//!   file=KEY:SIZE            get_or_fetch_file; fetch writes SIZE bytes made from KEY
//!   stream=KEY:SIZE          the same, written in 64 KiB chunks with a yield after each, as a
//!                            streamed download is; an error also says how much was written
//!   invalidate=KEY
//!   fill=PATH                write zeros to PATH until the file system is full
//!   race=KEY:ROUNDS:SIZE     ROUNDS of invalidate + get, with content unique to this process
//!   stats
//! ```
//!
//! Content is checkable: its first 8 bytes are a seed (0, or the pid for `race`), the rest is a
//! pattern of the key and the seed, so any value read back can be told valid or not.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lamina::cache::{Cache, Cached, CachedFile, Source};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

static FETCHES: AtomicU64 = AtomicU64::new(0);
/// Bytes the last `stream` fetch wrote.
static STREAMED: AtomicU64 = AtomicU64::new(0);

#[derive(Serialize, Deserialize, PartialEq)]
struct Doc {
    key: String,
    n: u32,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with_target(false)
        .with_ansi(false)
        .without_time()
        .init();
    let mut args = std::env::args().skip(1).peekable();
    let mut builder = Cache::builder();
    while let Some(flag) = args.next_if(|a| a.starts_with("--")) {
        let Some(value) = args.next() else {
            eprintln!("{flag} needs a value");
            return ExitCode::from(2);
        };
        builder = match flag.as_str() {
            "--dir" => builder.dir(value),
            "--namespace" => builder.namespace(value),
            "--budget" => builder.budget(number(&value)),
            "--min-free" => builder.min_free(number(&value)),
            other => {
                eprintln!("unknown option {other}");
                return ExitCode::from(2);
            }
        };
    }
    let cache = match builder.open() {
        Ok(cache) => cache,
        Err(e) => {
            println!("{}", json!({"op": "open", "error": e.to_string()}));
            return ExitCode::from(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    for op in args {
        let result = runtime.block_on(run(&cache, &op));
        println!("{result}");
        std::io::stdout().flush().expect("stdout");
    }
    ExitCode::SUCCESS
}

async fn run(cache: &Cache, op: &str) -> Value {
    let (name, arg) = op.split_once('=').unwrap_or((op, ""));
    let parts: Vec<&str> = arg.split(':').collect();
    let before = FETCHES.load(Ordering::SeqCst);
    let mut out = match name {
        "bytes" => {
            let (key, size) = (parts[0], number(parts[1]) as usize);
            let ttl = parts.get(2).map(|ms| Duration::from_millis(number(ms)));
            let got = cache
                .get_or_fetch_bytes(key, ttl, || async move {
                    FETCHES.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(content(key, 0, size))
                })
                .await;
            match got {
                Ok(value) => describe(&value, json!({"valid": is_valid(key, &value, size)})),
                Err(e) => json!({"error": e.to_string()}),
            }
        }
        "json" => {
            let key = parts[0];
            let got = cache
                .get_or_fetch_json(key, None, || async move {
                    FETCHES.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(Doc {
                        key: key.to_owned(),
                        n: 42,
                    })
                })
                .await;
            match got {
                Ok(doc) => describe(&doc, json!({"valid": doc.key == key && doc.n == 42})),
                Err(e) => json!({"error": e.to_string()}),
            }
        }
        "file" => {
            let (key, size) = (parts[0], number(parts[1]) as usize);
            let got = cache
                .get_or_fetch_file(key, None, |path| async move {
                    FETCHES.fetch_add(1, Ordering::SeqCst);
                    std::fs::write(path, content(key, 0, size))
                })
                .await;
            match got {
                Ok(file) => describe_file(cache, key, size, &file),
                Err(e) => json!({"error": e.to_string()}),
            }
        }
        "stream" => {
            let (key, size) = (parts[0], number(parts[1]) as usize);
            STREAMED.store(0, Ordering::SeqCst);
            let got = cache
                .get_or_fetch_file(key, None, |path| async move {
                    FETCHES.fetch_add(1, Ordering::SeqCst);
                    stream(&path, &content(key, 0, size)).await
                })
                .await;
            match got {
                Ok(file) => describe_file(cache, key, size, &file),
                Err(e) => json!({
                    "error": e.to_string(),
                    "os_error": e.raw_os_error(),
                    "written": STREAMED.load(Ordering::SeqCst),
                }),
            }
        }
        "invalidate" => json!({"removed": cache.invalidate(parts[0])}),
        "fill" => json!({"filled": fill(parts[0])}),
        "race" => {
            let (key, rounds, size) = (parts[0], number(parts[1]), number(parts[2]) as usize);
            let seed = u64::from(std::process::id());
            let (mut invalid, mut hits) = (0, 0);
            for _ in 0..rounds {
                cache.invalidate(key);
                let got = cache
                    .get_or_fetch_bytes(key, None, || async move {
                        Ok::<_, std::io::Error>(content(key, seed, size))
                    })
                    .await;
                match got {
                    Ok(value) => {
                        hits += u64::from(value.is_hit());
                        invalid += u64::from(!is_valid(key, &value, size));
                    }
                    Err(_) => invalid += 1,
                }
            }
            json!({"rounds": rounds, "invalid": invalid, "hits": hits})
        }
        "stats" => {
            let s = cache.stats();
            json!({
                "hits": s.hits, "misses": s.misses, "joined": s.joined,
                "evictions": s.evictions, "expirations": s.expirations, "errors": s.errors,
                "entries": s.entries, "bytes": s.bytes, "budget": s.budget,
            })
        }
        other => json!({"error": format!("unknown operation {other}")}),
    };
    out["op"] = json!(name);
    if !parts[0].is_empty() {
        out["key"] = json!(parts[0]);
    }
    out["fetched"] = json!(FETCHES.load(Ordering::SeqCst) > before);
    out
}

fn describe_file(cache: &Cache, key: &str, size: usize, file: &Cached<CachedFile>) -> Value {
    let mut data = Vec::new();
    let read = file.open().and_then(|mut f| f.read_to_end(&mut data));
    let in_dir = file.path().starts_with(cache.dir());
    describe(
        file,
        json!({
            "valid": read.is_ok() && is_valid(key, &data, size),
            "len": file.len(),
            "path": file.path(),
            "in_dir": in_dir,
        }),
    )
}

/// Writes `data` to `path` a chunk at a time, yielding after each chunk as a download waiting
/// for the network does; counts what was written in `STREAMED`.
async fn stream(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    for chunk in data.chunks(64 * 1024) {
        file.write_all(chunk)?;
        STREAMED.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        tokio::task::yield_now().await;
    }
    Ok(())
}

fn describe<T>(cached: &Cached<T>, mut extra: Value) -> Value {
    let source = match cached.source() {
        Source::Hit => "hit",
        Source::Fetched => "miss",
        Source::Joined => "joined",
        _ => "other",
    };
    extra["source"] = json!(source);
    extra["stored"] = json!(cached.is_stored());
    extra
}

/// `size` bytes: the seed, then a pattern of the key and the seed.
fn content(key: &str, seed: u64, size: usize) -> Vec<u8> {
    let salt = key
        .bytes()
        .fold(seed as u8, |acc, b| acc.wrapping_mul(31).wrapping_add(b));
    let mut data: Vec<u8> = seed.to_le_bytes().to_vec();
    data.extend((8..size).map(|i| (i as u8).wrapping_mul(7).wrapping_add(salt)));
    data.truncate(size);
    data
}

fn is_valid(key: &str, data: &[u8], size: usize) -> bool {
    if data.len() != size || size < 8 {
        return data.len() == size;
    }
    let seed = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
    data == content(key, seed, size)
}

/// Writes zeros to `path` until the file system refuses; returns how many bytes it took.
fn fill(path: &str) -> u64 {
    let mut file = std::fs::File::create(path).expect("create the ballast file");
    let block = [0u8; 4096];
    let mut written = 0;
    loop {
        match file.write(&block) {
            Ok(0) | Err(_) => return written,
            Ok(n) => written += n as u64,
        }
    }
}

fn number(text: &str) -> u64 {
    text.parse()
        .unwrap_or_else(|_| panic!("{text:?} is not a number"))
}
