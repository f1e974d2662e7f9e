//! The X-Ray path against a real UDP socket on 127.0.0.1, standing in for the daemon.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::emitter::{Emitter, MAX_DATAGRAM, PROTOCOL_HEADER};
use super::*;

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const FUNCTION_SEGMENT: &str = "53995c3f42cd8ad8";

fn sampled() -> String {
    format!("Root={ROOT};Parent={FUNCTION_SEGMENT};Sampled=1")
}

/// A stand-in daemon: a UDP socket, and an emitter aimed at it.
struct Daemon {
    socket: UdpSocket,
    emitter: &'static Emitter,
}

impl Daemon {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let address = socket.local_addr().unwrap().to_string();
        Daemon {
            socket,
            emitter: Box::leak(Box::new(Emitter::to(&address))),
        }
    }

    /// Every datagram that arrives within `quiet` of the previous one, checked for the protocol
    /// header and parsed.
    fn documents(&self, quiet: Duration) -> Vec<(usize, Value)> {
        self.socket.set_read_timeout(Some(quiet)).unwrap();
        let mut buf = vec![0; 70_000];
        let mut out = Vec::new();
        while let Ok(n) = self.socket.recv(&mut buf) {
            let datagram = &buf[..n];
            assert!(
                datagram.starts_with(PROTOCOL_HEADER),
                "{}",
                String::from_utf8_lossy(datagram)
            );
            let document: Value = serde_json::from_slice(&datagram[PROTOCOL_HEADER.len()..])
                .unwrap_or_else(|e| panic!("not JSON after the header line: {e}"));
            out.push((n, document));
        }
        out
    }
}

fn run<T>(header: Option<&str>, emitter: &'static Emitter, f: impl Future<Output = T>) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let header = header.map(Arc::<str>::from);
    runtime.block_on(invocation_to(header.as_ref(), None, Some(emitter), f))
}

fn by_name<'a>(documents: &'a [Value], name: &str) -> &'a Value {
    documents
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}` in {documents:#?}"))
}

fn assert_hex_id(v: &Value) -> &str {
    let id = v.as_str().unwrap();
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    id
}

fn assert_within(child: &Value, parent: &Value) {
    let (cs, ce) = (
        child["start_time"].as_f64().unwrap(),
        child["end_time"].as_f64().unwrap(),
    );
    let (ps, pe) = (
        parent["start_time"].as_f64().unwrap(),
        parent["end_time"].as_f64().unwrap(),
    );
    assert!(cs <= ce && ps <= pe, "{child} {parent}");
    assert!(
        ps <= cs && ce <= pe,
        "child {child} not within parent {parent}"
    );
}

#[test]
fn nested_subsegments_link_to_their_parents() {
    let daemon = Daemon::start();
    let header = sampled();
    let answer = run(Some(&header), daemon.emitter, async {
        let outer = Subsegment::new("outer");
        outer.annotate("order id", "o-42").annotate("count", 3);
        outer
            .run(async {
                capture("inner", async {
                    let _leaf = Subsegment::new("leaf");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                })
                .await;
                capture_sync("sync step", |s| {
                    s.metadata("rows", vec![1, 2, 3]);
                });
            })
            .await;
        let sibling = outer.child("explicit child");
        sibling
            .http_request("GET", "https://example.com/items")
            .http_response(503, Some(12));
        drop(sibling);
        outer.end();
        let failed = capture_result("second top-level", async {
            Err::<(), _>(std::io::Error::other("disk full"))
        })
        .await;
        assert!(failed.is_err());
        42
    });
    assert_eq!(answer, 42);
    let documents: Vec<Value> = daemon
        .documents(Duration::from_millis(500))
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    assert_eq!(
        documents.len(),
        2,
        "one document per top-level subsegment: {documents:#?}"
    );
    for top in &documents {
        assert_eq!(top["type"], "subsegment");
        assert_eq!(top["trace_id"], ROOT);
        assert_eq!(top["parent_id"], FUNCTION_SEGMENT);
        assert_hex_id(&top["id"]);
    }

    let outer = by_name(&documents, "outer");
    assert_eq!(
        outer["annotations"],
        serde_json::json!({"order_id": "o-42", "count": 3})
    );
    let children = outer["subsegments"].as_array().unwrap();
    let names: Vec<&str> = children
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["inner", "sync step", "explicit child"]);
    for child in children {
        assert_within(child, outer);
        assert!(
            child.get("parent_id").is_none(),
            "nested documents need no parent_id"
        );
        assert_ne!(assert_hex_id(&child["id"]), outer["id"].as_str().unwrap());
    }
    let inner = by_name(children, "inner");
    let leaf = &inner["subsegments"][0];
    assert_eq!(leaf["name"], "leaf");
    assert_within(leaf, inner);
    assert_eq!(
        by_name(children, "sync step")["metadata"],
        serde_json::json!({"default": {"rows": [1, 2, 3]}})
    );
    let http = by_name(children, "explicit child");
    assert_eq!(http["namespace"], "remote");
    assert_eq!(http["fault"], true);
    assert_eq!(
        http["http"],
        serde_json::json!({"request": {"method": "GET", "url": "https://example.com/items"}, "response": {"status": 503, "content_length": 12}})
    );

    let second = by_name(&documents, "second top-level");
    assert_eq!(second["fault"], true);
    let exception = &second["cause"]["exceptions"][0];
    assert_eq!(exception["type"], "Error");
    assert_eq!(exception["message"], "disk full");
    assert!(second["start_time"].as_f64() >= outer["end_time"].as_f64());
}

#[test]
fn the_forwarded_header_names_the_subsegment_in_progress() {
    let daemon = Daemon::start();
    let header = sampled();
    let (top, inside, id, spawned) = run(Some(&header), daemon.emitter, async {
        let top = current().unwrap().forward();
        let s = Subsegment::new("call");
        let inside = s.run(async { current().unwrap().forward() }).await;
        let spawned = s
            .run(async {
                tokio::spawn(propagate(async {
                    let child = Subsegment::new("in a spawned task");
                    (current().unwrap().forward(), child.id())
                }))
                .await
                .unwrap()
            })
            .await;
        assert_eq!(s.trace_header().unwrap(), inside);
        (top, inside, s.id().unwrap(), spawned)
    });
    assert_eq!(top.to_string(), header);
    assert_eq!(inside.parent(), Some(id));
    assert_eq!(inside.root().to_string(), ROOT);
    assert_eq!(spawned.0.parent(), Some(id));
    let documents: Vec<Value> = daemon
        .documents(Duration::from_millis(500))
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let call = by_name(&documents, "call");
    assert_eq!(call["subsegments"][0]["name"], "in a spawned task");
    assert_eq!(call["subsegments"][0]["id"], spawned.1.unwrap().to_string());
}

#[test]
fn a_tree_too_large_for_one_datagram_is_split_and_nothing_is_lost() {
    let daemon = Daemon::start();
    let header = sampled();
    let blob = "x".repeat(20_000);
    let ids = run(Some(&header), daemon.emitter, async {
        let root = Subsegment::new("batch");
        let mut ids = vec![root.id().unwrap().to_string()];
        root.run(async {
            for i in 0..6 {
                let item = Subsegment::new(format!("item {i}"));
                item.metadata("payload", &blob);
                ids.push(item.id().unwrap().to_string());
                let small = item.child(format!("small {i}"));
                ids.push(small.id().unwrap().to_string());
            }
        })
        .await;
        // One subsegment too large even alone: kept without its metadata.
        let huge = Subsegment::new(format!("huge{}", "é".repeat(150)));
        huge.metadata("payload", "y".repeat(70_000))
            .annotate("kept", true);
        ids.push(huge.id().unwrap().to_string());
        ids
    });
    let received = daemon.documents(Duration::from_millis(500));
    assert!(
        received.len() > 2,
        "split into several datagrams: {}",
        received.len()
    );
    let mut seen = Vec::new();
    for (bytes, document) in &received {
        assert!(*bytes <= MAX_DATAGRAM, "{bytes} bytes");
        assert!(*bytes < 64 * 1024, "{bytes} bytes: over the daemon's 64 KB");
        assert_eq!(document["type"], "subsegment");
        assert_eq!(document["trace_id"], ROOT);
        let mut stack = vec![document];
        while let Some(d) = stack.pop() {
            seen.push(d["id"].as_str().unwrap().to_owned());
            stack.extend(d["subsegments"].as_array().into_iter().flatten());
        }
    }
    let mut expected = ids.clone();
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected, "every subsegment arrives exactly once");

    let documents: Vec<Value> = received.into_iter().map(|(_, d)| d).collect();
    let batch = by_name(&documents, "batch");
    assert_eq!(batch["parent_id"], FUNCTION_SEGMENT);
    let item = by_name(&documents, "item 0");
    assert_eq!(
        item["parent_id"], batch["id"],
        "a detached child names its parent"
    );
    assert_eq!(
        item["metadata"]["default"]["payload"]
            .as_str()
            .unwrap()
            .len(),
        20_000
    );
    let name = format!("huge{}", "é".repeat(98)); // cut to X-Ray's 200 bytes, between characters
    let huge = by_name(&documents, &name);
    assert!(huge.get("metadata").is_none());
    assert_eq!(huge["annotations"]["kept"], true);
}

#[test]
fn nothing_is_recorded_or_sent_when_not_sampled() {
    let daemon = Daemon::start();
    for header in [
        Some(format!("Root={ROOT};Parent={FUNCTION_SEGMENT};Sampled=0")),
        Some(format!("Root={ROOT};Parent={FUNCTION_SEGMENT};Sampled=?")),
        Some(format!("Root={ROOT};Sampled=1")), // no parent to attach to
        Some("Root=malformed;Sampled=1".to_owned()),
        Some("Root=malformed;Sampled=0".to_owned()), // parsed lazily, still refused
        None,
    ] {
        let forwarded = run(header.as_deref(), daemon.emitter, async {
            let s = Subsegment::new("ignored");
            assert!(!s.is_recording());
            assert_eq!(s.id(), None);
            s.annotate("k", "v").metadata("m", 1).fault("T", "m");
            s.run(capture("also ignored", async {})).await;
            s.trace_header().map(|h| h.to_string())
        });
        // The header is still there to forward, unchanged, when it is readable.
        match &header {
            Some(h) if !h.contains("malformed") => {
                assert_eq!(forwarded.as_deref(), Some(h.as_str()))
            }
            _ => assert_eq!(forwarded, None),
        }
    }
    assert!(daemon.documents(Duration::from_millis(300)).is_empty());
}

#[test]
fn an_unreachable_daemon_neither_blocks_nor_fails_the_invocation() {
    let port = {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().port()
    };
    let emitter: &'static Emitter = Box::leak(Box::new(Emitter::to(&format!("127.0.0.1:{port}"))));
    let header = sampled();
    let started = Instant::now();
    for _ in 0..50 {
        let answer = run(Some(&header), emitter, async {
            for i in 0..20 {
                let _s = Subsegment::new(format!("s{i}"));
            }
            "ok"
        });
        assert_eq!(answer, "ok");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_subsegment_that_outlives_the_handler_is_sent_when_it_ends() {
    let daemon = Daemon::start();
    let header = sampled();
    let late = run(Some(&header), daemon.emitter, async {
        Subsegment::new("late")
    });
    assert!(daemon.documents(Duration::from_millis(200)).is_empty());
    drop(late);
    let documents = daemon.documents(Duration::from_millis(500));
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].1["name"], "late");
    assert_eq!(documents[0].1["parent_id"], FUNCTION_SEGMENT);
}

#[test]
fn the_tracing_layer_records_marked_spans() {
    use tracing_subscriber::layer::SubscriberExt;

    let daemon = Daemon::start();
    let header = sampled();
    let subscriber = tracing_subscriber::registry().with(XrayLayer::new());
    tracing::subscriber::with_default(subscriber, || {
        run(Some(&header), daemon.emitter, async {
            let span = tracing::info_span!(
                "query",
                xray = true,
                table = "orders",
                rows = tracing::field::Empty,
                error = tracing::field::Empty
            );
            let _unmarked = tracing::info_span!("not traced", other = 1).entered();
            {
                let _entered = span.enter();
                let child = tracing::info_span!("row", xray = true, n = 1_u64);
                drop(child.enter());
                span.record("rows", 7_u64);
                span.record("error", "timeout");
            }
            drop(span);
            let off = tracing::info_span!("switched off", xray = false);
            drop(off);
        })
    });
    let documents: Vec<Value> = daemon
        .documents(Duration::from_millis(500))
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    assert_eq!(documents.len(), 1, "{documents:#?}");
    let query = &documents[0];
    assert_eq!(query["name"], "query");
    assert_eq!(query["parent_id"], FUNCTION_SEGMENT);
    assert_eq!(
        query["annotations"],
        serde_json::json!({"table": "orders", "rows": 7})
    );
    assert_eq!(query["fault"], true);
    assert_eq!(query["cause"]["exceptions"][0]["message"], "timeout");
    let row = &query["subsegments"][0];
    assert_eq!(row["name"], "row");
    assert_eq!(row["annotations"]["n"], 1);
    assert_within(row, query);
}

#[test]
fn handles_can_cross_tasks_and_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Trace>();
    send_sync::<Subsegment>();
    send_sync::<TraceHeader>();
    fn send<T: Send>(_: &T) {}
    send(&propagate(async {}));
    let s = Subsegment::new("x");
    send(&s.run(async {}));
}

#[test]
fn a_handler_that_panics_still_sends_what_it_recorded() {
    let daemon = Daemon::start();
    let header = sampled();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(Some(&header), daemon.emitter, async {
            drop(Subsegment::new("before the panic"));
            let _open = Subsegment::new("open at the panic");
            tokio::task::yield_now().await;
            panic!("boom");
        })
    }));
    assert!(panicked.is_err());
    let mut names: Vec<String> = daemon
        .documents(Duration::from_millis(500))
        .into_iter()
        .map(|(_, d)| d["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["before the panic", "open at the panic"]);
}
