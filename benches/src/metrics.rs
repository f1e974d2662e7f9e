//! One measurement each: cold start, throughput and latency, memory, connections, and
//! instructions per invocation under callgrind.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use lamina_emulator::{Emulator, Event};

use crate::subject::Subject;

const WAIT: Duration = Duration::from_secs(60);

/// Spawn → first `/next` received by the emulator.
pub fn cold_start(subject: &Subject) -> Duration {
    let api = Emulator::start();
    let started = Instant::now();
    let _running = subject.start(&api.address(), &[]);
    let first = api
        .wait_first_request(WAIT)
        .unwrap_or_else(|| panic!("{} never asked for an invocation", subject.name));
    first - started
}

/// What a run of sequential invocations showed.
pub struct Throughput {
    pub per_second: f64,
    pub round_trips: Vec<Duration>,
    pub peak_rss_kb: u64,
    pub threads: u64,
    pub connections: usize,
}

/// Runs `warmup` then `count` invocations of `event` one after another, each carrying `headers`.
pub fn throughput(
    subject: &Subject,
    event: &str,
    headers: &[(&str, &str)],
    warmup: usize,
    count: usize,
) -> Throughput {
    let api = Emulator::start();
    let running = subject.start(&api.address(), &[]);
    let invocation = |i: u64| {
        headers
            .iter()
            .fold(Event::json(event), |invocation, (name, value)| {
                invocation.header(name, &per_invocation(value, i))
            })
    };
    for i in 0..warmup {
        api.invoke(invocation(i as u64));
    }
    api.clear_requests();
    let mut round_trips = Vec::with_capacity(count);
    let started = Instant::now();
    for i in 0..count {
        let invocation = invocation((warmup + i) as u64);
        let t = Instant::now();
        let outcome = api.invoke(invocation);
        round_trips.push(t.elapsed());
        assert_eq!(
            outcome.response().len(),
            event.len(),
            "{} must echo",
            subject.name
        );
    }
    let elapsed = started.elapsed();
    round_trips.sort();
    Throughput {
        per_second: count as f64 / elapsed.as_secs_f64(),
        round_trips,
        peak_rss_kb: running.status_field("VmHWM").unwrap_or(0),
        threads: running.status_field("Threads").unwrap_or(0),
        connections: api.connections(),
    }
}

/// CPU instructions (user space, the function process only) per invocation of `event`, each
/// invocation carrying `headers` (e.g. `Lambda-Runtime-Trace-Id`): the difference between
/// callgrind runs of `short` and `long` invocations, divided by the extra invocations, so
/// start-up cancels out. Also returns the instructions before the first invocation (start-up
/// and init), estimated from the short run.
pub fn instructions_with(
    subject: &Subject,
    event: &str,
    headers: &[(&str, &str)],
    short: u64,
    long: u64,
) -> Option<(f64, f64)> {
    let a = callgrind_total(subject, event, headers, short)?;
    let b = callgrind_total(subject, event, headers, long)?;
    let per = (b as f64 - a as f64) / (long - short) as f64;
    Some((per, a as f64 - per * short as f64))
}

pub fn valgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn callgrind_total(
    subject: &Subject,
    event: &str,
    headers: &[(&str, &str)],
    count: u64,
) -> Option<u64> {
    // Numbered, so rows that share a subject keep one profile each.
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!(
        "lamina-bench-{}-{run:02}-{}-{count}.callgrind",
        std::process::id(),
        subject.name
    ));
    let out_arg = format!("--callgrind-out-file={}", out.display());
    let api = Emulator::start();
    let mut running = subject.start(
        &api.address(),
        &["valgrind", "--tool=callgrind", "--quiet", &out_arg],
    );
    for i in 0..count {
        let mut invocation = Event::json(event);
        for (name, value) in headers {
            invocation = invocation.header(name, &per_invocation(value, i));
        }
        api.invoke(invocation);
    }
    // Stopping the emulator makes the function's /next fail: every subject then exits by
    // itself, which is what makes callgrind write its counts, except `run_concurrent`, whose
    // workers retry `/next` for ever: that one is sent SIGTERM, which callgrind also writes on.
    drop(api);
    if running.wait_exit(Duration::from_secs(10)).is_none() {
        let _ = Command::new("kill")
            .args(["-TERM", &running.pid().to_string()])
            .status();
        running.wait_exit(WAIT)?;
    }
    take_total(&out)
}

/// The total of the callgrind profile at `path`, which is then removed, unless
/// `LAMINA_BENCH_KEEP_CALLGRIND=1` keeps it for `callgrind_annotate` (with a build that keeps
/// its symbols: `CARGO_PROFILE_RELEASE_STRIP=none`).
pub fn take_total(path: &Path) -> Option<u64> {
    let total = read_total(path);
    if std::env::var_os("LAMINA_BENCH_KEEP_CALLGRIND").is_some() {
        eprintln!("kept {}", path.display());
    } else {
        let _ = std::fs::remove_file(path);
    }
    total
}

/// A trace header as Lambda sends it for the `i`th invocation: every invocation is a new trace,
/// so the end of `Root` (its random part) differs each time. A runtime that keeps per-value
/// state (glibc's `setenv` keeps every value it was ever given) pays for it here as on Lambda.
/// Other headers are sent as they are.
fn per_invocation(value: &str, i: u64) -> String {
    const ROOT_END: usize = "Root=1-5759e988-bd862e3fe1be46a994272793".len();
    match value.get(..ROOT_END) {
        Some(root) if root.starts_with("Root=1-") => {
            format!("{}{i:08x}{}", &root[..ROOT_END - 8], &value[ROOT_END..])
        }
        _ => value.to_owned(),
    }
}

fn read_total(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The `p`th percentile of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

pub fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}
