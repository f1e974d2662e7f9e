//! What `lamina::compat::run` costs per invocation next to `lambda_runtime::run` serving the
//! same service, in callgrind instructions, with lamina's own `#[handler]` echo for reference.

use std::path::Path;

use crate::metrics;
use crate::subject::Subject;

pub fn run(dir: &Path, event: &str) {
    if !metrics::valgrind_available() {
        eprintln!(
            "valgrind not found: compat instruction counts skipped (apt-get install valgrind)"
        );
        return;
    }
    let rows = [
        (
            "`lambda_runtime::run(service_fn(echo))`, as its README (with its subscriber)",
            Subject::new("compat-anchor", dir, "echo-lambda-runtime"),
        ),
        (
            "`lamina::compat::run(service_fn(echo))`, only the call changed",
            Subject::new("compat-same", dir, "echo-compat"),
        ),
        (
            "`lamina::compat::run(service_fn(echo))`, lamina's subscriber",
            Subject::new("compat-lamina-logs", dir, "echo-compat-lamina-logs"),
        ),
        (
            "`#[lamina::handler]` echo",
            Subject::new("compat-handler", dir, "echo-lamina"),
        ),
    ];
    eprintln!("callgrind: compat instruction counts");
    let results: Vec<(&str, Option<(f64, f64)>)> = rows
        .iter()
        .map(|(label, subject)| {
            let headers = [(crate::TRACE_HEADER, crate::LAMBDA_UNSAMPLED)];
            (
                *label,
                metrics::instructions_with(subject, event, &headers, 100, 1100),
            )
        })
        .collect();
    let anchor = results[0].1.map(|(per, _)| per);
    println!();
    println!(
        "| compat: {} B event | instructions / invocation | / lambda_runtime | instructions before the first invocation |",
        event.len()
    );
    println!("|---|---|---|---|");
    for (label, measured) in results {
        let (per, startup) = match measured {
            Some((per, startup)) => (format!("{per:.0}"), format!("{startup:.0}")),
            None => ("n/a".to_owned(), "n/a".to_owned()),
        };
        let ratio = match (measured, anchor) {
            (Some((per, _)), Some(anchor)) if anchor > 0.0 => format!("{:.2}", per / anchor),
            _ => "n/a".to_owned(),
        };
        println!("| {label} | {per} | {ratio} | {startup} |");
    }
}
