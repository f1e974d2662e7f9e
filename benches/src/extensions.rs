//! The extension rows: the same extension (count `INVOKE` events, count telemetry records) on
//! lamina and on `lambda-extension`, against the emulator's Extensions and Telemetry APIs, with
//! the floor echo as the function: instructions per `INVOKE` event and per telemetry batch of
//! 100 records, start-up to the first `event/next`, stripped size, peak RSS.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use lamina_emulator::{Emulator, Event};

use crate::metrics::{median, take_total, valgrind_available};
use crate::subject::{Running, Subject};

const WAIT: Duration = Duration::from_secs(60);

/// A batch of 100 records as Lambda pushes them: one invocation's platform records and log
/// lines.
fn batch() -> String {
    let mut items = Vec::with_capacity(100);
    for i in 0..100 {
        let item = match i % 4 {
            0 => format!(
                r#"{{"time":"2026-12-07T10:00:00.{i:03}Z","type":"platform.start","record":{{"requestId":"6f7f0961-{i:04}-4b2c-8b1a-1f2e3d4c5b6a","version":"$LATEST"}}}}"#
            ),
            1 => format!(
                r#"{{"time":"2026-12-07T10:00:00.{i:03}Z","type":"platform.runtimeDone","record":{{"requestId":"6f7f0961-{i:04}-4b2c-8b1a-1f2e3d4c5b6a","status":"success","metrics":{{"durationMs":2.5,"producedBytes":42}},"spans":[{{"name":"responseLatency","start":"2026-12-07T10:00:00.000Z","durationMs":0.4}}]}}}}"#
            ),
            2 => format!(
                r#"{{"time":"2026-12-07T10:00:00.{i:03}Z","type":"platform.report","record":{{"requestId":"6f7f0961-{i:04}-4b2c-8b1a-1f2e3d4c5b6a","status":"success","metrics":{{"durationMs":2.5,"billedDurationMs":3,"memorySizeMB":128,"maxMemoryUsedMB":21}}}}}}"#
            ),
            _ => format!(
                r#"{{"time":"2026-12-07T10:00:00.{i:03}Z","type":"function","record":"order {i} placed for customer 4242"}}"#
            ),
        };
        items.push(item);
    }
    format!("[{}]", items.join(","))
}

/// An extension subject, its file name the name it registers under.
struct Side {
    subject: Subject,
    name: &'static str,
}

/// One run: the extension (under `wrapper`) and the floor function against one emulator,
/// `invokes` invocations (each complete only once the extension is back in `event/next`) and
/// `batches` telemetry pushes, then `SHUTDOWN`.
fn session(side: &Side, floor: &Subject, wrapper: &[&str], invokes: u64, batches: u64) -> Session {
    let api = Emulator::start();
    api.external(side.name);
    let started = Instant::now();
    let extension = side.subject.start(&api.address(), wrapper);
    assert!(
        api.wait_extensions_ready(1, WAIT),
        "{} never waited for an event",
        side.name
    );
    let ready = started.elapsed();
    assert_eq!(
        api.wait_subscribers(1, WAIT).len(),
        1,
        "{} did not subscribe",
        side.name
    );
    let _function = floor.start(&api.address(), &[]);
    for _ in 0..invokes {
        let id = api.enqueue(Event::json("{}"));
        assert!(
            api.wait_complete(&id, WAIT).is_some(),
            "{}: an invocation never completed",
            side.name
        );
    }
    let batch = batch();
    for _ in 0..batches {
        for answer in api.push_telemetry(&batch) {
            assert_eq!(answer.ok(), Some(200), "{}: a batch was refused", side.name);
        }
    }
    let rss_kb = extension.status_field("VmHWM").unwrap_or(0);
    api.shutdown_extensions("spindown", Duration::from_secs(2));
    Session {
        api,
        extension,
        ready,
        rss_kb,
    }
}

struct Session {
    api: Emulator,
    extension: Running,
    ready: Duration,
    rss_kb: u64,
}

/// Callgrind's total for one session.
fn instructions(side: &Side, floor: &Subject, invokes: u64, batches: u64) -> Option<u64> {
    let out = std::env::temp_dir().join(format!(
        "lamina-bench-{}-{}-{invokes}-{batches}.callgrind",
        std::process::id(),
        side.name
    ));
    let out_arg = format!("--callgrind-out-file={}", out.display());
    let wrapper = ["valgrind", "--tool=callgrind", "--quiet", out_arg.as_str()];
    let Session {
        api, mut extension, ..
    } = session(side, floor, &wrapper, invokes, batches);
    // lamina's returns after SHUTDOWN; `lambda-extension` asks for the next event again, which
    // fails once the emulator stops; SIGTERM (on which callgrind also writes) if neither ends.
    if extension.wait_exit(Duration::from_secs(10)).is_none() {
        drop(api);
        if extension.wait_exit(Duration::from_secs(10)).is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &extension.pid().to_string()])
                .status();
            extension.wait_exit(WAIT)?;
        }
    }
    take_total(&out)
}

pub fn run(dir: &Path) {
    let sides = [
        Side {
            subject: Subject::new("lamina", dir, "extension-lamina"),
            name: "extension-lamina",
        },
        Side {
            subject: Subject::new("lambda-extension", dir, "extension-lambda-extension"),
            name: "extension-lambda-extension",
        },
    ];
    let floor = Subject::new("floor", dir, "echo-floor");
    eprintln!(
        "extension rows: start-up, RSS, and (callgrind) instructions per event and per batch"
    );
    let mut ready: Vec<Vec<Duration>> = vec![Vec::new(); sides.len()];
    let mut rss = vec![0u64; sides.len()];
    for _ in 0..5 {
        for (i, side) in sides.iter().enumerate() {
            let session = session(side, &floor, &[], 200, 20);
            ready[i].push(session.ready);
            rss[i] = rss[i].max(session.rss_kb);
        }
    }
    let counts: Vec<Option<(f64, f64, f64)>> = sides
        .iter()
        .map(|side| {
            if !valgrind_available() {
                return None;
            }
            let base = instructions(side, &floor, 20, 2)?;
            let invokes = instructions(side, &floor, 220, 2)?;
            let batches = instructions(side, &floor, 20, 12)?;
            let per_invoke = (invokes as f64 - base as f64) / 200.0;
            let per_batch = (batches as f64 - base as f64) / 10.0;
            let before = base as f64 - per_invoke * 20.0 - per_batch * 2.0;
            Some((per_invoke, per_batch, before))
        })
        .collect();

    println!();
    println!(
        "| extension (count INVOKE events, subscribe to telemetry) | lamina | lambda-extension | lamina / lambda-extension | target |"
    );
    println!("|---|---|---|---|---|");
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}", a / b)
        } else {
            "n/a".to_owned()
        }
    };
    let counted = |pick: fn(&(f64, f64, f64)) -> f64| -> Vec<Option<f64>> {
        counts.iter().map(|c| c.as_ref().map(pick)).collect()
    };
    for (label, values) in [
        (
            "instructions / invocation (its INVOKE event, and its 3 platform records pushed)",
            counted(|c| c.0),
        ),
        (
            "instructions / telemetry batch of 100 records",
            counted(|c| c.1),
        ),
        (
            "instructions outside events and batches (start-up, registration, subscription, shutdown)",
            counted(|c| c.2),
        ),
    ] {
        match (values[0], values[1]) {
            (Some(a), Some(b)) => {
                println!("| {label} | {a:.0} | {b:.0} | {} | < 0.5 |", ratio(a, b))
            }
            _ => println!("| {label} | n/a | n/a | n/a (no valgrind) | < 0.5 |"),
        }
    }
    let medians: Vec<Duration> = ready.iter_mut().map(|r| median(r)).collect();
    println!(
        "| start-up, spawn → first `event/next` (median of 5) | {:.2} ms | {:.2} ms | {} | < 0.5 |",
        medians[0].as_secs_f64() * 1000.0,
        medians[1].as_secs_f64() * 1000.0,
        ratio(medians[0].as_secs_f64(), medians[1].as_secs_f64())
    );
    let sizes: Vec<u64> = sides.iter().map(|s| s.subject.size()).collect();
    println!(
        "| stripped size | {} KB | {} KB | {} | < 0.5 |",
        sizes[0] / 1000,
        sizes[1] / 1000,
        ratio(sizes[0] as f64, sizes[1] as f64)
    );
    println!(
        "| peak RSS (200 INVOKEs, 20 batches) | {:.1} MB | {:.1} MB | {} | < 0.5 |",
        rss[0] as f64 / 1000.0,
        rss[1] as f64 / 1000.0,
        ratio(rss[0] as f64, rss[1] as f64)
    );
}
