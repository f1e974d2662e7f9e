//! What X-Ray costs per invocation, in callgrind instructions: the echo functions invoked
//! without a trace header, with the header Lambda sends (`Sampled=0`), and with `Sampled=1` and
//! nothing to record, lamina beside `lambda_runtime`; then one lamina function that echoes inside
//! one subsegment (recorded and sent to a UDP socket standing in for the daemon when sampled).

use std::net::UdpSocket;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::subject::Subject;
use crate::{LAMBDA_SAMPLED, LAMBDA_UNSAMPLED, TRACE_HEADER, metrics};

/// Runs the rows whose label contains `only` (all when `None`).
pub fn run(dir: &Path, event: &str, only: Option<&str>) {
    if !metrics::valgrind_available() {
        eprintln!(
            "valgrind not found: X-Ray instruction counts skipped (apt-get install valgrind)"
        );
        return;
    }
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket for the daemon");
    daemon
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("a read timeout");
    let address = daemon.local_addr().expect("its address").to_string();
    let (stop, received) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let drain = {
        let (stop, received) = (Arc::clone(&stop), Arc::clone(&received));
        std::thread::spawn(move || {
            let mut buf = vec![0; 65_536];
            while !stop.load(Ordering::SeqCst) {
                if daemon.recv(&mut buf).is_ok() {
                    received.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };

    let echo = Subject::new("lamina", dir, "echo-lamina");
    let official = Subject::new("lambda_runtime", dir, "echo-lambda-runtime");
    let mut traced = Subject::new("traced", dir, "traced-lamina");
    traced
        .env
        .push(("AWS_XRAY_DAEMON_ADDRESS".to_owned(), address));
    // (label, lamina's function, lambda_runtime's, header)
    let rows: [(&str, &Subject, Option<&Subject>, Option<&str>); 6] = [
        ("echo, no trace header", &echo, Some(&official), None),
        (
            "echo, Lambda's header, `Sampled=0`",
            &echo,
            Some(&official),
            Some(LAMBDA_UNSAMPLED),
        ),
        (
            "echo, `Sampled=1`, nothing recorded",
            &echo,
            Some(&official),
            Some(LAMBDA_SAMPLED),
        ),
        ("one subsegment, no trace header", &traced, None, None),
        (
            "one subsegment, `Sampled=0`",
            &traced,
            None,
            Some(LAMBDA_UNSAMPLED),
        ),
        (
            "one subsegment, `Sampled=1`: recorded, written, sent over UDP",
            &traced,
            None,
            Some(LAMBDA_SAMPLED),
        ),
    ];
    eprintln!("callgrind: X-Ray instruction counts");
    let mut results = Vec::new();
    for (label, subject, anchor, header) in rows {
        if only.is_some_and(|only| !label.contains(only)) {
            continue;
        }
        let headers: Vec<(&str, &str)> =
            header.map(|h| vec![(TRACE_HEADER, h)]).unwrap_or_default();
        let measure = |subject: &Subject| {
            metrics::instructions_with(subject, event, &headers, 100, 1100).map(|(p, _)| p)
        };
        let before = received.load(Ordering::SeqCst);
        let per = measure(subject);
        let sent = received.load(Ordering::SeqCst) - before;
        let anchor = anchor.and_then(measure);
        results.push((label, per, anchor, sent));
    }
    stop.store(true, Ordering::SeqCst);
    let _ = drain.join();

    // Each row against the echo without a header, of the same runtime.
    let base = results
        .iter()
        .find(|r| r.0 == "echo, no trace header")
        .map_or((None, None), |r| (r.1, r.2));
    let cell = |v: Option<f64>, base: Option<f64>| match (v, base) {
        (Some(v), Some(b)) => format!("{v:.0} ({:+.0})", v - b),
        (Some(v), None) => format!("{v:.0}"),
        _ => "n/a".to_owned(),
    };
    println!();
    println!(
        "| X-Ray: instructions / invocation, {} B event (over the echo without a header) | lamina | lambda_runtime | lamina / lambda_runtime | datagrams received |",
        event.len()
    );
    println!("|---|---|---|---|---|");
    for (label, per, anchor, sent) in results {
        let ratio = match (per, anchor) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "n/a".to_owned(),
        };
        println!(
            "| {label} | {} | {} | {ratio} | {sent} |",
            cell(per, base.0),
            cell(anchor, base.1)
        );
    }
}
