//! `cargo run --release -p lamina-bench`: lamina, `lambda_runtime` and a bare std loop, each an
//! echo function, run against the in-repo Runtime API emulator in one run, alternating, and
//! compared in one table, then what X-Ray costs per invocation and what `lamina::compat` costs
//! beside `lambda_runtime`. Every invocation carries the trace header Lambda sends (`Sampled=0`
//! with `Lineage`, a new trace id each time) unless a row says otherwise. `--soak N` runs the
//! fault-injecting soak instead (`--workers W`: W invocations in flight at once); `--xray` only the X-Ray rows, `--only TEXT` only those whose
//! label contains `TEXT`; `--compat` only the compat rows; `--http` only the HTTP API rows (an
//! axum `Router` and a plain handler, each on lamina and on `lambda_http`); `--concurrency` only
//! the Managed Instances rows (lamina's workers beside `lambda_runtime::run_concurrent`);
//! `--streaming` only the response streaming rows (`lamina::stream` beside
//! `lambda_runtime::streaming`); `--powertools` only the metrics, idempotency and DynamoDB
//! Streams rows; `--extensions` only the extension rows (lamina's extension beside
//! `lambda-extension`'s).
//!
//! Wall-clock figures move by tens of percent between runs on a shared machine; callgrind's
//! instruction counts repeat to within a fraction of a percent, so they are the ones to steer by.

mod compat;
mod concurrency;
mod extensions;
mod http;
mod metrics;
mod powertools;
mod soak;
mod streaming;
mod subject;
mod xray;

use std::path::PathBuf;
use std::time::Duration;

use metrics::{median, percentile};
use subject::Subject;

/// The trace header Lambda sends with every invocation, traced or not (`Lambda-Runtime-Trace-Id`):
/// the headline rows carry it, since it is what a function on Lambda pays for.
pub const LAMBDA_UNSAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=1:a87bb3a7:0";
/// The same header for an invocation X-Ray samples.
pub const LAMBDA_SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:a87bb3a7:0";
pub const TRACE_HEADER: &str = "Lambda-Runtime-Trace-Id";

const SMALL_EVENT: &str = r#"{"Records":[{"messageId":"059f36b4-87a3-44ab-83d2-661975830a7d","receiptHandle":"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a","body":"test","attributes":{"ApproximateReceiveCount":"1"},"eventSource":"aws:sqs","awsRegion":"us-east-2"}]}"#;

fn large_event() -> String {
    let records: Vec<String> = (0..600)
        .map(|i| {
            format!(
                r#"{{"messageId":"msg-{i:06}","body":"order {i} for customer {c} with several items and a note","attributes":{{"ApproximateReceiveCount":"1","SentTimestamp":"1545082649183"}},"size":{s}}}"#,
                c = i * 7919 % 10007,
                s = i * 31
            )
        })
        .collect();
    format!(r#"{{"Records":[{}]}}"#, records.join(","))
}

struct Options {
    reps: usize,
    soak: Option<usize>,
    workers: usize,
    xray_only: bool,
    /// Only the X-Ray rows whose label contains this.
    only: Option<String>,
    compat_only: bool,
    http_only: bool,
    concurrency_only: bool,
    streaming_only: bool,
    powertools_only: bool,
    extensions_only: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        reps: 3,
        soak: None,
        workers: 1,
        xray_only: false,
        only: None,
        compat_only: false,
        http_only: false,
        concurrency_only: false,
        streaming_only: false,
        powertools_only: false,
        extensions_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("`{name}` needs a whole number"))
        };
        match arg.as_str() {
            "--reps" => options.reps = number("--reps")?.max(1),
            "--soak" => options.soak = Some(number("--soak")?),
            "--workers" => options.workers = number("--workers")?.max(1),
            "--xray" => options.xray_only = true,
            "--only" => {
                options.xray_only = true;
                options.only = Some(args.next().ok_or("`--only` needs a row label's text")?);
            }
            "--compat" => options.compat_only = true,
            "--http" => options.http_only = true,
            "--concurrency" => options.concurrency_only = true,
            "--streaming" => options.streaming_only = true,
            "--powertools" => options.powertools_only = true,
            "--extensions" => options.extensions_only = true,
            "-h" | "--help" => {
                return Err(
                    "usage: bench [--reps N] [--soak INVOCATIONS [--workers W]] [--xray] [--only TEXT] [--compat] [--http] [--concurrency] [--streaming] [--powertools] [--extensions]"
                        .to_owned(),
                );
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}`; usage: bench [--reps N] [--soak INVOCATIONS [--workers W]] [--xray] [--only TEXT] [--compat] [--http] [--concurrency] [--streaming] [--powertools] [--extensions]"
                ));
            }
        }
    }
    Ok(options)
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let dir: PathBuf = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .expect("the bench binary's directory");
    let subjects = [
        Subject::new("lamina", &dir, "echo-lamina").with_logging(&dir, "log-lamina"),
        Subject::new("lambda_runtime", &dir, "echo-lambda-runtime")
            .with_logging(&dir, "log-lambda-runtime"),
        Subject::new("floor", &dir, "echo-floor"),
        Subject::layer("lamina layer", &dir, "echo_lamina_layer"),
    ];
    let bare = Subject::new("lambda_runtime, bare", &dir, "echo-lambda-runtime-bare");
    build_functions();
    for binary in subjects.iter().chain([&bare]).flat_map(|s| {
        std::iter::once(&s.binary)
            .chain(&s.logging)
            .chain(&s.library)
    }) {
        if !binary.exists() {
            eprintln!(
                "{} is missing: run `cargo build --release -p lamina-bench --bins` first (or use `cargo run --release -p lamina-bench`, which does)",
                binary.display()
            );
            std::process::exit(2);
        }
    }
    if let Some(count) = options.soak {
        let soak = Subject::new("lamina", &dir, "soak-lamina");
        let passed = soak::run(&soak, count, options.workers);
        std::process::exit(if passed { 0 } else { 1 });
    }
    if options.compat_only {
        compat::run(&dir, SMALL_EVENT);
        return;
    }
    if options.http_only {
        http::run(&dir);
        return;
    }
    if options.concurrency_only {
        concurrency::run(&dir);
        return;
    }
    if options.streaming_only {
        streaming::run(&dir);
        return;
    }
    if options.powertools_only {
        powertools::run(&dir, SMALL_EVENT);
        return;
    }
    if options.extensions_only {
        extensions::run(&dir);
        return;
    }
    if !options.xray_only {
        compare(&subjects, options.reps);
        print_bare_size(&subjects[0], &bare);
    }
    xray::run(&dir, SMALL_EVENT, options.only.as_deref());
    if !options.xray_only {
        compat::run(&dir, SMALL_EVENT);
        http::run(&dir);
        concurrency::run(&dir);
        streaming::run(&dir);
        powertools::run(&dir, SMALL_EVENT);
        extensions::run(&dir);
    }
}

/// Builds the functions compared, with the profile this harness was built with, when run
/// through cargo (which sets `CARGO`); `cargo run` builds only the harness itself. The layer's
/// `bootstrap` is built on its own, so it gets lamina without default features, as it ships.
fn build_functions() {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return;
    };
    let builds: [&[&str]; 2] = [
        &["-p", "lamina-bench", "--bins", "--examples"],
        &["-p", "lamina-bootstrap"],
    ];
    for packages in builds {
        let mut command = std::process::Command::new(&cargo);
        command.args(["build", "--quiet"]).args(packages);
        if !cfg!(debug_assertions) {
            command.arg("--release");
        }
        match command.status() {
            Ok(status) if status.success() => {}
            other => {
                eprintln!("building the benchmark functions failed: {other:?}");
                std::process::exit(2);
            }
        }
    }
}

/// Per-subject results.
#[derive(Default)]
struct Row {
    size: u64,
    cold: Vec<Duration>,
    small_instr: Option<f64>,
    sampled_instr: Option<f64>,
    bare_instr: Option<f64>,
    logging_instr: Option<f64>,
    large_instr: Option<f64>,
    startup_instr: Option<f64>,
    per_second: Vec<f64>,
    p50: Vec<Duration>,
    p99: Vec<Duration>,
    rss_kb: u64,
    threads: u64,
    connections: usize,
}

fn compare(subjects: &[Subject], reps: usize) {
    let large = large_event();
    let mut rows: Vec<Row> = subjects.iter().map(|_| Row::default()).collect();
    for (s, row) in subjects.iter().zip(&mut rows) {
        row.size = s.size();
    }
    eprintln!("cold start: {} rounds of each, alternating", reps * 5);
    for _ in 0..reps * 5 {
        for (s, row) in subjects.iter().zip(&mut rows) {
            row.cold.push(metrics::cold_start(s));
        }
    }
    let invocations = 5_000;
    eprintln!("throughput: {reps} rounds of {invocations} invocations each, alternating");
    for _ in 0..reps {
        for (s, row) in subjects.iter().zip(&mut rows) {
            let t = metrics::throughput(
                s,
                SMALL_EVENT,
                &[(TRACE_HEADER, LAMBDA_UNSAMPLED)],
                200,
                invocations,
            );
            row.per_second.push(t.per_second);
            row.p50.push(percentile(&t.round_trips, 0.50));
            row.p99.push(percentile(&t.round_trips, 0.99));
            row.rss_kb = row.rss_kb.max(t.peak_rss_kb);
            row.threads = t.threads;
            row.connections = t.connections;
        }
    }
    if metrics::valgrind_available() {
        eprintln!("callgrind: instruction counts");
        let unsampled = [(TRACE_HEADER, LAMBDA_UNSAMPLED)];
        let sampled = [(TRACE_HEADER, LAMBDA_SAMPLED)];
        for (s, row) in subjects.iter().zip(&mut rows) {
            let per_invocation = |s: &Subject, event: &str, headers: &[(&str, &str)]| {
                metrics::instructions_with(s, event, headers, 100, 1100)
            };
            if let Some((per, startup)) = per_invocation(s, SMALL_EVENT, &unsampled) {
                row.small_instr = Some(per);
                row.startup_instr = Some(startup);
            }
            row.sampled_instr = per_invocation(s, SMALL_EVENT, &sampled).map(|(per, _)| per);
            row.bare_instr = per_invocation(s, SMALL_EVENT, &[]).map(|(per, _)| per);
            row.large_instr =
                metrics::instructions_with(s, &large, &unsampled, 10, 60).map(|(per, _)| per);
            row.logging_instr = s
                .logging()
                .and_then(|logging| per_invocation(&logging, SMALL_EVENT, &unsampled))
                .map(|(per, _)| per);
        }
    } else {
        eprintln!("valgrind not found: instruction counts skipped (apt-get install valgrind)");
    }
    print_table(subjects, &mut rows, reps, invocations, large.len());
}

/// The size row against the anchor without its README's tracing subscriber: what a function on
/// `lambda_runtime` weighs at the least.
fn print_bare_size(lamina: &Subject, bare: &Subject) {
    let (ours, theirs) = (lamina.size(), bare.size());
    println!(
        "| stripped size against the bare lambda_runtime echo (no subscriber) | {} KB | {} KB | {:.2} | ≤ 0.6 |",
        ours / 1024,
        theirs / 1024,
        ours as f64 / theirs.max(1) as f64
    );
}

fn print_table(
    subjects: &[Subject],
    rows: &mut [Row],
    reps: usize,
    invocations: usize,
    large_len: usize,
) {
    let names: Vec<&str> = subjects.iter().map(|s| s.name).collect();
    println!(
        "| metric | {} | lamina / lambda_runtime | target | layer / bin |",
        names.join(" | ")
    );
    println!("|---|{}---|---|---|", "---|".repeat(names.len()));
    let line =
        |metric: &str, values: Vec<Option<f64>>, format: &dyn Fn(f64) -> String, target: &str| {
            let cells: Vec<String> = values
                .iter()
                .map(|v| v.map_or("n/a".to_owned(), format))
                .collect();
            let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
                _ => "n/a".to_owned(),
            };
            // Columns: lamina, lambda_runtime, floor, lamina layer.
            let (vs_official, layer_vs_bin) =
                (ratio(values[0], values[1]), ratio(values[3], values[0]));
            println!(
                "| {metric} | {} | {vs_official} | {target} | {layer_vs_bin} |",
                cells.join(" | ")
            );
        };
    let kb = |v: f64| format!("{:.0} KB", v / 1024.0);
    let ms = |v: f64| format!("{v:.2} ms");
    let us = |v: f64| format!("{v:.0} µs");
    let count = |v: f64| format!("{v:.0}");
    let mb = |v: f64| format!("{:.1} MB", v / 1024.0);
    line(
        "stripped size (layer: bootstrap + library)",
        rows.iter().map(|r| Some(r.size as f64)).collect(),
        &kb,
        "≤ 0.6",
    );
    line(
        "cold start, spawn → first /next (min)",
        rows.iter()
            .map(|r| r.cold.iter().min().map(|d| d.as_secs_f64() * 1e3))
            .collect(),
        &ms,
        "",
    );
    line(
        &format!("cold start (median of {})", reps * 5),
        rows.iter_mut()
            .map(|r| Some(median(&mut r.cold).as_secs_f64() * 1e3))
            .collect(),
        &ms,
        "≤ 0.6",
    );
    line(
        "instructions before the first invocation",
        rows.iter().map(|r| r.startup_instr).collect(),
        &count,
        "",
    );
    line(
        &format!(
            "instructions / invocation, {} B event, Lambda's trace header (`Sampled=0`)",
            SMALL_EVENT.len()
        ),
        rows.iter().map(|r| r.small_instr).collect(),
        &count,
        "≤ 0.3",
    );
    line(
        &format!(
            "instructions / invocation, {} B event, `Sampled=1`, nothing recorded",
            SMALL_EVENT.len()
        ),
        rows.iter().map(|r| r.sampled_instr).collect(),
        &count,
        "",
    );
    line(
        &format!(
            "instructions / invocation, {} B event, no trace header",
            SMALL_EVENT.len()
        ),
        rows.iter().map(|r| r.bare_instr).collect(),
        &count,
        "",
    );
    line(
        &format!(
            "instructions / invocation, {} B event, 3 INFO lines (text)",
            SMALL_EVENT.len()
        ),
        rows.iter().map(|r| r.logging_instr).collect(),
        &count,
        "",
    );
    line(
        &format!("instructions / invocation, {} KB event", large_len / 1024),
        rows.iter().map(|r| r.large_instr).collect(),
        &count,
        "≤ 0.8",
    );
    line(
        "invocations / s (best round)",
        rows.iter()
            .map(|r| r.per_second.iter().copied().reduce(f64::max))
            .collect(),
        &count,
        "",
    );
    line(
        "round trip p50 (median of rounds)",
        rows.iter_mut()
            .map(|r| Some(median(&mut r.p50).as_secs_f64() * 1e6))
            .collect(),
        &us,
        "",
    );
    line(
        "round trip p99 (median of rounds)",
        rows.iter_mut()
            .map(|r| Some(median(&mut r.p99).as_secs_f64() * 1e6))
            .collect(),
        &us,
        "",
    );
    line(
        "peak RSS",
        rows.iter().map(|r| Some(r.rss_kb as f64)).collect(),
        &mb,
        "≤ 0.65",
    );
    line(
        "threads",
        rows.iter().map(|r| Some(r.threads as f64)).collect(),
        &count,
        "",
    );
    line(
        &format!("TCP connections for {} invocations", invocations + 200),
        rows.iter().map(|r| Some(r.connections as f64)).collect(),
        &count,
        "1",
    );
}
