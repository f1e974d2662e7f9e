//! What the Powertools-class utilities cost per invocation, in callgrind instructions: an echo
//! that records three CloudWatch metrics (beside `lambda_runtime` printing the same EMF document
//! by hand), an echo wrapped in `lamina::idempotency` (a `MemoryStore`, so the figures are the
//! wrapper's own, not a network's), and a 100-record DynamoDB Streams batch decoded into a user
//! type (beside `lambda_runtime` with `aws_lambda_events` and `serde_dynamo`).

use std::path::Path;

use crate::metrics;
use crate::subject::Subject;

/// A DynamoDB Streams event of `count` INSERT records with NewImage and Keys.
fn dynamodb_event(count: usize) -> String {
    let records: Vec<String> = (0..count)
        .map(|i| {
            format!(
                r#"{{"eventID":"e{i}","eventName":"INSERT","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"eu-west-1","dynamodb":{{"ApproximateCreationDateTime":1764400000,"Keys":{{"id":{{"S":"order-{i}"}}}},"NewImage":{{"id":{{"S":"order-{i}"}},"customer":{{"S":"customer-{c}"}},"total":{{"N":"{t}.95"}},"items":{{"L":[{{"S":"sku-1"}},{{"S":"sku-{i}"}}]}}}},"SequenceNumber":"{s}","SizeBytes":120,"StreamViewType":"NEW_IMAGE"}},"eventSourceARN":"arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-11-01T00:00:00.000"}}"#,
                c = i * 7919 % 10007,
                t = i * 3,
                s = 111_000_000_000_u64 + i as u64
            )
        })
        .collect();
    format!(r#"{{"Records":[{}]}}"#, records.join(","))
}

pub fn run(dir: &Path, event: &str) {
    if !metrics::valgrind_available() {
        eprintln!(
            "valgrind not found: Powertools instruction counts skipped (apt-get install valgrind)"
        );
        return;
    }
    let echo = Subject::new("lamina", dir, "echo-lamina");
    let official = Subject::new("lambda_runtime", dir, "echo-lambda-runtime");
    let with = |binary: &str, env: &[(&str, &str)]| {
        let mut subject = Subject::new("lamina", dir, binary);
        subject.env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        subject
    };
    let stream = dynamodb_event(100);
    // (label, lamina's function, lambda_runtime's, event)
    let rows: Vec<(&str, Subject, Option<Subject>, &str)> = vec![
        (
            "echo (the base of the rows below)",
            echo.clone(),
            Some(official.clone()),
            event,
        ),
        (
            "echo + three metrics (lamina::metrics; lambda_runtime: serde_json + println!)",
            with("metrics-lamina", &[]),
            Some(Subject::new(
                "lambda_runtime",
                dir,
                "metrics-lambda-runtime",
            )),
            event,
        ),
        (
            "echo, idempotent, every call new: a record begun and completed",
            with("idempotent-lamina", &[("BENCH_KEY", "request")]),
            None,
            event,
        ),
        (
            "echo, idempotent, a duplicate: replayed from the store",
            with("idempotent-lamina", &[("BENCH_CACHE", "0")]),
            None,
            event,
        ),
        (
            "echo, idempotent, a duplicate: replayed from the local cache",
            with("idempotent-lamina", &[]),
            None,
            event,
        ),
        (
            "DynamoDB Streams, 100 records, NewImage into a struct",
            with("dynamodb-lamina", &[]),
            Some(Subject::new(
                "lambda_runtime",
                dir,
                "dynamodb-lambda-runtime",
            )),
            &stream,
        ),
    ];
    eprintln!("callgrind: Powertools instruction counts");
    let measure = |subject: &Subject, event: &str| {
        metrics::instructions_with(subject, event, &[], 100, 1100).map(|(p, _)| p)
    };
    let results: Vec<(&str, Option<f64>, Option<f64>, usize)> = rows
        .iter()
        .map(|(label, subject, anchor, event)| {
            (
                *label,
                measure(subject, event),
                anchor.as_ref().and_then(|a| measure(a, event)),
                event.len(),
            )
        })
        .collect();
    let base = (results[0].1, results[0].2);
    let cell = |v: Option<f64>, base: Option<f64>, event: usize| match (v, base) {
        (Some(v), Some(b)) if event == results[0].3 => format!("{v:.0} ({:+.0})", v - b),
        (Some(v), _) => format!("{v:.0}"),
        _ => "n/a".to_owned(),
    };
    println!();
    println!(
        "| Powertools: instructions / invocation (over the echo, same event) | lamina | lambda_runtime | lamina / lambda_runtime |"
    );
    println!("|---|---|---|---|");
    for (label, lamina, anchor, size) in &results {
        let ratio = match (lamina, anchor) {
            (Some(a), Some(b)) if *b > 0.0 => format!("{:.2}", a / b),
            _ => "n/a".to_owned(),
        };
        println!(
            "| {label} ({size} B event) | {} | {} | {ratio} |",
            cell(*lamina, base.0, *size),
            cell(*anchor, base.1, *size)
        );
    }
}
