//! HTTP APIs: lamina's `http` handler form and an axum `Router` on lamina, each beside the same
//! function on `lambda_http`, for one HTTP API (payload 2.0) request with a JSON body.

use std::path::Path;

use crate::metrics;
use crate::subject::Subject;

/// A `POST /orders` through an HTTP API's `prod` stage, with the headers API Gateway adds.
pub const EVENT: &str = r#"{"version":"2.0","routeKey":"POST /orders","rawPath":"/prod/orders","rawQueryString":"","headers":{"accept":"application/json","content-length":"44","content-type":"application/json","host":"xyz789.execute-api.eu-west-1.amazonaws.com","user-agent":"curl/8.5.0","x-amzn-trace-id":"Root=1-6929f2ae-4c2d8e1f6a5b3c0d9e8f7a61","x-forwarded-for":"198.51.100.4","x-forwarded-port":"443","x-forwarded-proto":"https"},"requestContext":{"accountId":"123456789012","apiId":"xyz789","domainName":"xyz789.execute-api.eu-west-1.amazonaws.com","domainPrefix":"xyz789","http":{"method":"POST","path":"/prod/orders","protocol":"HTTP/1.1","sourceIp":"198.51.100.4","userAgent":"curl/8.5.0"},"requestId":"JKJaXmPLvHcESHA=","routeKey":"POST /orders","stage":"prod","time":"28/Nov/2026:19:03:58 +0000","timeEpoch":1795892638000},"body":"{\"sku\":\"hat\",\"qty\":3,\"note\":\"gift wrap\"}","isBase64Encoded":false}"#;

pub fn run(dir: &Path) {
    let pairs = [
        (
            "axum `Router`",
            Subject::new("http-axum-anchor", dir, "http-axum-lambda-http"),
            Subject::new("http-axum", dir, "http-axum-lamina"),
        ),
        (
            "plain handler",
            Subject::new("http-plain-anchor", dir, "http-plain-lambda-http"),
            Subject::new("http-plain", dir, "http-plain-lamina"),
        ),
    ];
    let valgrind = metrics::valgrind_available();
    if !valgrind {
        eprintln!("valgrind not found: HTTP instruction counts skipped (apt-get install valgrind)");
    }
    eprintln!("HTTP rows: instruction counts, sizes, cold starts");
    println!();
    println!(
        "| HTTP API (2.0), {} B event | instructions / invocation | / lambda_http | instructions before the first invocation | stripped size | cold start (median of 5) |",
        EVENT.len()
    );
    println!("|---|---|---|---|---|---|");
    let headers = [(crate::TRACE_HEADER, crate::LAMBDA_UNSAMPLED)];
    for (label, anchor, lamina) in &pairs {
        let measure = |subject: &Subject| {
            let instructions = valgrind
                .then(|| metrics::instructions_with(subject, EVENT, &headers, 100, 1100))
                .flatten();
            let mut starts: Vec<_> = (0..5).map(|_| metrics::cold_start(subject)).collect();
            (instructions, subject.size(), metrics::median(&mut starts))
        };
        let anchor_result = measure(anchor);
        let lamina_result = measure(lamina);
        let anchor_per = anchor_result.0.map(|(per, _)| per);
        for (name, (instructions, size, cold)) in [
            (format!("{label}, `lambda_http`"), anchor_result),
            (format!("{label}, lamina"), lamina_result),
        ] {
            let (per, startup) = match instructions {
                Some((per, startup)) => (format!("{per:.0}"), format!("{startup:.0}")),
                None => ("n/a".to_owned(), "n/a".to_owned()),
            };
            let ratio = match (instructions, anchor_per) {
                (Some((per, _)), Some(anchor)) if anchor > 0.0 => format!("{:.2}", per / anchor),
                _ => "n/a".to_owned(),
            };
            println!(
                "| {name} | {per} | {ratio} | {startup} | {:.0} KB | {:.2} ms |",
                size as f64 / 1024.0,
                cold.as_secs_f64() * 1000.0
            );
        }
    }
}
