//! Lambda Managed Instances: `AWS_LAMBDA_MAX_CONCURRENCY` = 8 and 64, lamina's worker threads
//! beside `lambda_runtime::run_concurrent` (feature `concurrency-tokio`), the same function on
//! each, one run.
//!
//! - **I/O-bound throughput**: `N × 40` invocations of a 5 ms timer wait, queued at once; how
//!   many finish per second.
//! - **Instructions per invocation** (callgrind): one `{}` invocation at a time through the
//!   concurrent loop, the other workers idle in their long-polls.
//! - **Threads and peak RSS** of the process after the throughput runs.
//! - **I/O latency beside CPU-bound work** (`lambda_runtime` #1120): `N / 4` invocations that
//!   keep their thread busy for 100 ms are kept in flight while 5 ms timer invocations are sent
//!   one after another; the p50 and p99 of those, from queueing to the posted response.

use std::path::Path;
use std::time::{Duration, Instant};

use lamina_emulator::{Emulator, Event};

use crate::metrics;
use crate::subject::{Running, Subject};

const WAIT: Duration = Duration::from_secs(60);
const IO_EVENT: &str = r#"{"sleep_ms":5}"#;
const CPU_EVENT: &str = r#"{"spin_ms":100}"#;
const LATENCY_SAMPLES: usize = 200;

pub fn run(dir: &Path) {
    let valgrind = metrics::valgrind_available();
    eprintln!("concurrency rows: throughput, instructions, threads, RSS, latency under CPU load");
    println!();
    println!(
        "| Managed Instances | invocations / s, 5 ms I/O | instructions / invocation | threads | peak RSS (KB) | I/O p50 beside CPU-bound (ms) | I/O p99 beside CPU-bound (ms) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for workers in [8usize, 64] {
        for (label, binary) in [
            (
                "`lambda_runtime::run_concurrent`",
                "concurrent-lambda-runtime",
            ),
            ("lamina", "concurrent-lamina"),
        ] {
            let mut subject = Subject::new("concurrent", dir, binary);
            subject
                .env
                .push(("AWS_LAMBDA_MAX_CONCURRENCY".into(), workers.to_string()));
            let (per_second, threads, peak_kb) = throughput(&subject, workers);
            let instructions = valgrind
                .then(|| metrics::instructions_with(&subject, "{}", &[], 50, 550))
                .flatten()
                .map_or("n/a".to_owned(), |(per, _)| format!("{per:.0}"));
            let (p50, p99) = latency_beside_cpu(&subject, workers);
            println!(
                "| N = {workers}, {label} | {per_second:.0} | {instructions} | {threads} | {peak_kb} | {:.1} | {:.1} |",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            );
        }
    }
}

/// Waits until the function has `workers` long-polls open (all its workers are up).
fn ready(api: &Emulator, workers: usize) {
    assert!(
        api.wait_next_polls(workers, WAIT),
        "the function did not open {workers} long-polls"
    );
}

/// Median invocations per second over three rounds, then the process's threads and peak RSS.
fn throughput(subject: &Subject, workers: usize) -> (f64, u64, u64) {
    let api = Emulator::start();
    let running = subject.start(&api.address(), &[]);
    ready(&api, workers);
    let count = workers * 40;
    let mut rates: Vec<f64> = (0..3)
        .map(|_| {
            let started = Instant::now();
            let ids: Vec<String> = (0..count)
                .map(|_| api.enqueue(Event::json(IO_EVENT)))
                .collect();
            for id in &ids {
                api.wait_outcome(id, WAIT).expect("an outcome");
            }
            let rate = count as f64 / started.elapsed().as_secs_f64();
            api.clear_requests();
            rate
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    let threads = running.status_field("Threads").unwrap_or(0);
    let peak = running.status_field("VmHWM").unwrap_or(0);
    (rates[1], threads, peak)
}

/// p50 and p99 of 5 ms timer invocations sent one at a time while `workers / 4` CPU-bound ones
/// are kept in flight.
fn latency_beside_cpu(subject: &Subject, workers: usize) -> (Duration, Duration) {
    let api = Emulator::start();
    let _running: Running = subject.start(&api.address(), &[]);
    ready(&api, workers);
    let busy = (workers / 4).max(1);
    let mut spinning: Vec<String> = Vec::new();
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        spinning.retain(|id| api.outcomes(id).is_empty());
        while spinning.len() < busy {
            spinning.push(api.enqueue(Event::json(CPU_EVENT)));
        }
        let sent = Instant::now();
        let id = api.enqueue(Event::json(IO_EVENT));
        api.wait_outcome(&id, WAIT).expect("an outcome");
        samples.push(sent.elapsed());
    }
    samples.sort();
    (
        metrics::percentile(&samples, 0.50),
        metrics::percentile(&samples, 0.99),
    )
}
