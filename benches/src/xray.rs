//! What X-Ray costs per invocation, in callgrind instructions: one function that echoes inside
//! one subsegment, invoked without a trace header, with `Sampled=0` and with `Sampled=1` (the
//! subsegment recorded and sent to a UDP socket standing in for the daemon), next to the plain
//! echo function.

use std::net::UdpSocket;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::metrics;
use crate::subject::Subject;

const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const UNSAMPLED: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";

pub fn run(dir: &Path, event: &str) {
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
    let mut traced = Subject::new("traced", dir, "traced-lamina");
    traced
        .env
        .push(("AWS_XRAY_DAEMON_ADDRESS".to_owned(), address));
    let rows: [(&str, &Subject, Option<&str>); 5] = [
        ("echo, no subsegment, no trace header", &echo, None),
        ("echo, no subsegment, Sampled=0", &echo, Some(UNSAMPLED)),
        ("one subsegment, no trace header", &traced, None),
        ("one subsegment, Sampled=0", &traced, Some(UNSAMPLED)),
        (
            "one subsegment, Sampled=1 (recorded, sent over UDP)",
            &traced,
            Some(SAMPLED),
        ),
    ];
    eprintln!("callgrind: X-Ray instruction counts");
    let mut results = Vec::new();
    for (label, subject, header) in rows {
        let headers: Vec<(&str, &str)> = header
            .map(|h| vec![("Lambda-Runtime-Trace-Id", h)])
            .unwrap_or_default();
        let before = received.load(Ordering::SeqCst);
        let per = metrics::instructions_with(subject, event, &headers, 100, 1100).map(|(p, _)| p);
        let sent = received.load(Ordering::SeqCst) - before;
        results.push((label, per, sent));
    }
    stop.store(true, Ordering::SeqCst);
    let _ = drain.join();

    let base = results[0].1;
    println!();
    println!(
        "| X-Ray: instructions / invocation, {} B event | instructions | over plain echo | datagrams received |",
        event.len()
    );
    println!("|---|---|---|---|");
    for (label, per, sent) in results {
        let cell = per.map_or("n/a".to_owned(), |v| format!("{v:.0}"));
        let extra = match (per, base) {
            (Some(v), Some(b)) => format!("{:+.0}", v - b),
            _ => "n/a".to_owned(),
        };
        println!("| {label} | {cell} | {extra} | {sent} |");
    }
}
