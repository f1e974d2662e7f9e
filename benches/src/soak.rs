//! The soak: many invocations with faults injected by the emulator, checking that every
//! invocation ends in exactly one response or error, none is lost or reported twice, and memory
//! does not grow.
//!
//! Faults, by invocation number `i`: `/next` drops its connection (`i % 500 == 250`), `/next`
//! answers 20 ms late (`i % 700 == 350`), the connection is closed after a response
//! (`i % 1100 == 550`), the handler returns an error (`i % 300 == 150`), the response is over
//! the payload limit (`i % 900 == 600`), and the handler panics (`i % 5000 == 4999`). The bench
//! profile has `panic = "abort"`, as `cargo lambda build --release` does, so a panic ends the
//! process after reporting; the soak then starts a new one, as Lambda would.
//!
//! With `--workers N` (N > 1) the function runs with `AWS_LAMBDA_MAX_CONCURRENCY=N` and the soak
//! queues N invocations at a time, so N are in flight at once (Managed Instances). A panic then
//! aborts a process with other invocations in flight: each of those must end as it would have,
//! or with the `Runtime.ProcessAborted` error lamina posts for it before the abort; none may be
//! lost. Its processes run with `MALLOC_ARENA_MAX=1` (see `run`).
//!
//! Every invocation carries the trace header Lambda sends, with a new trace id each time, and
//! the soak fails if a process's RSS grows by more than [`RSS_GROWTH_LIMIT_KB`] between its
//! 1,000th invocation and its last (4,000 invocations later): anything kept per invocation
//! (a glibc `setenv` of each new `_X_AMZN_TRACE_ID` keeps ~155 bytes) shows there.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lamina_emulator::{Emulator, Event, Fault, Outcome, Route};

use crate::subject::{Running, Subject};

const RESPONSE_LIMIT: usize = 64 * 1024;
const WAIT: Duration = Duration::from_secs(30);
/// What a process may grow by between its 1,000th invocation and its last: allocator noise, not
/// a per-invocation leak (4,000 invocations × 64 bytes would pass it).
const RSS_GROWTH_LIMIT_KB: i64 = 256;

enum Expect {
    Echo(String),
    Error(&'static str),
}

pub fn run(subject: &Subject, count: usize, workers: usize) -> bool {
    let mut subject = subject.clone();
    if workers > 1 {
        subject
            .env
            .push(("AWS_LAMBDA_MAX_CONCURRENCY".into(), workers.to_string()));
        // glibc gives each worker thread a malloc arena of its own, and those fill over the
        // first ~10,000 invocations (measured: +0.9 MB, then flat), which the growth check
        // would read as a leak. With one arena a leak still grows it by every byte.
        subject.env.push(("MALLOC_ARENA_MAX".into(), "1".into()));
    }
    let subject = &subject;
    let api = Emulator::start();
    api.set_response_limit(RESPONSE_LIMIT);
    let mut running = subject.start(&api.address(), &[]);
    let mut lifetime = 0usize;
    let mut rss_growth_kb: i64 = 0;
    let mut rss_at_1000 = None;
    let mut peak_rss_kb = 0;
    let mut restarts = 0;
    let mut ids = Vec::with_capacity(count);
    let mut wrong = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let started = Instant::now();

    let mut i = 0;
    while i < count {
        let batch: Vec<usize> = (i..count.min(i + workers.max(1))).collect();
        i += batch.len();
        let mut queued = Vec::with_capacity(batch.len());
        for &n in &batch {
            if n % 500 == 250 {
                api.inject(Route::Next, Fault::DropBeforeAnswer);
            }
            if n % 700 == 350 {
                api.inject(Route::Next, Fault::Delay(Duration::from_millis(20)));
            }
            if n % 1100 == 550 {
                api.inject(Route::Response, Fault::CloseAfterAnswer);
            }
            let (event, expect) = invocation(n);
            let trace = format!(
                "Root=1-6748a2c0-{n:024x};Parent=53995c3f42cd8ad8;Sampled=0;Lineage=1:a87bb3a7:0"
            );
            let id = api.enqueue(Event::json(event).header("Lambda-Runtime-Trace-Id", &trace));
            queued.push((id, expect));
        }
        let panicked = queued
            .iter()
            .any(|(_, e)| matches!(e, Expect::Error("Runtime.HandlerPanic")));
        if panicked {
            // The panic ends the process; invocations of the batch not yet handed out wait for
            // the next one, which Lambda would start, so start it before waiting for them.
            let (id, _) = queued
                .iter()
                .find(|(_, e)| matches!(e, Expect::Error("Runtime.HandlerPanic")))
                .expect("the batch has a panic");
            api.wait_outcome(id, WAIT);
            let rss_before = running.status_field("VmRSS");
            peak_rss_kb = peak_rss_kb.max(running.status_field("VmHWM").unwrap_or(0));
            if let (Some(a), Some(b)) = (rss_at_1000, rss_before) {
                rss_growth_kb = rss_growth_kb.max(b as i64 - a as i64);
            }
            if running.wait_exit(Duration::from_secs(10)).is_none() {
                wrong.push(format!("{id}: the process outlived its panic"));
            }
            running = restart(subject, &api, running);
            restarts += 1;
            lifetime = 0;
            rss_at_1000 = None;
        }
        for (id, expect) in &queued {
            match (api.wait_outcome(id, WAIT), expect) {
                (None, _) => wrong.push(format!("{id}: no outcome within {WAIT:?}")),
                (Some(Outcome::Response(body)), Expect::Echo(sent)) if body == sent.as_bytes() => {
                    *tally.entry("response".into()).or_default() += 1;
                }
                (Some(Outcome::Error(posted)), Expect::Error(kind))
                    if posted.document["errorType"].as_str() == Some(*kind) =>
                {
                    *tally.entry((*kind).into()).or_default() += 1;
                }
                (Some(Outcome::Error(posted)), _)
                    if panicked
                        && posted.document["errorType"].as_str()
                            == Some("Runtime.ProcessAborted") =>
                {
                    *tally.entry("Runtime.ProcessAborted".into()).or_default() += 1;
                }
                (Some(other), _) => wrong.push(format!("{id}: unexpected outcome {other:?}")),
            }
            ids.push(id.clone());
        }
        lifetime += queued.len();
        if rss_at_1000.is_none() && lifetime >= 1000 {
            rss_at_1000 = running.status_field("VmRSS");
        }
        if i % 10_000 < queued.len() {
            api.clear_requests();
        }
    }
    peak_rss_kb = peak_rss_kb.max(running.status_field("VmHWM").unwrap_or(0));
    let elapsed = started.elapsed();
    // Let any late duplicate arrive before counting.
    std::thread::sleep(Duration::from_millis(300));
    let mut duplicated = 0;
    let mut redelivered = 0;
    for id in &ids {
        if api.outcomes(id).len() > 1 {
            duplicated += 1;
        }
        if api.deliveries(id) > 1 {
            redelivered += 1;
        }
    }
    drop(running);

    println!(
        "soak: {count} invocations, {workers} in flight at a time, in {:.1} s, {restarts} process restarts after panics",
        elapsed.as_secs_f64()
    );
    for (kind, n) in &tally {
        println!("  {kind}: {n}");
    }
    println!("  TCP connections: {}", api.connections());
    println!(
        "  lost or wrong: {}, reported twice: {duplicated}, delivered twice: {redelivered}",
        wrong.len()
    );
    println!(
        "  peak RSS: {:.1} MB; largest RSS growth within one process (1,000th invocation → its last): {rss_growth_kb} KB",
        peak_rss_kb as f64 / 1024.0
    );
    for w in wrong.iter().take(10) {
        println!("  ! {w}");
    }
    let leaks = rss_growth_kb > RSS_GROWTH_LIMIT_KB;
    if leaks {
        println!("  ! RSS grew by more than {RSS_GROWTH_LIMIT_KB} KB within one process");
    }
    wrong.is_empty() && duplicated == 0 && redelivered == 0 && !leaks
}

/// The `n`th invocation's event and what it must end as.
fn invocation(n: usize) -> (String, Expect) {
    if n % 5000 == 4999 {
        (
            format!(r#"{{"panic":"soak {n}"}}"#),
            Expect::Error("Runtime.HandlerPanic"),
        )
    } else if n % 300 == 150 {
        (
            format!(r#"{{"fail":"soak {n}"}}"#),
            Expect::Error("Soak.Requested"),
        )
    } else if n % 900 == 600 {
        (
            format!(r#"{{"pad":{}}}"#, RESPONSE_LIMIT + 1),
            Expect::Error("Function.ResponseSizeTooLarge"),
        )
    } else {
        let e = format!(r#"{{"n":{n},"payload":"soak soak soak soak soak soak soak soak"}}"#);
        (e.clone(), Expect::Echo(e))
    }
}

fn restart(subject: &Subject, api: &Emulator, old: Running) -> Running {
    drop(old);
    subject.start(&api.address(), &[])
}
