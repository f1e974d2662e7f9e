//! X-Ray end to end: the emulator hands out traced invocations, a UDP socket stands in for the
//! daemon at `AWS_XRAY_DAEMON_ADDRESS`, and the function records subsegments.

mod support;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const TRACED: &str = env!("CARGO_BIN_EXE_traced");
const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const FUNCTION_SEGMENT: &str = "53995c3f42cd8ad8";
const PROTOCOL_HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";
const CAUSE_HEADER: &str = "Lambda-Runtime-Function-XRay-Error-Cause";

fn sampled(flag: &str) -> String {
    format!("Root={ROOT};Parent={FUNCTION_SEGMENT};Sampled={flag}")
}

/// A UDP socket standing in for the daemon: records each document with when it arrived.
struct Daemon {
    address: String,
    received: Arc<Mutex<Vec<(Instant, Value)>>>,
    stop: Arc<AtomicBool>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Daemon {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let address = socket.local_addr().unwrap().to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (received, stop) = (Arc::clone(&received), Arc::clone(&stop));
            thread::spawn(move || {
                let mut buf = vec![0; 70_000];
                while !stop.load(Ordering::SeqCst) {
                    let Ok(n) = socket.recv(&mut buf) else {
                        continue;
                    };
                    let arrived = Instant::now();
                    let datagram = &buf[..n];
                    assert!(datagram.starts_with(PROTOCOL_HEADER), "no protocol header");
                    let document = serde_json::from_slice(&datagram[PROTOCOL_HEADER.len()..])
                        .expect("a JSON document after the header line");
                    received.lock().unwrap().push((arrived, document));
                }
            })
        };
        Daemon {
            address,
            received,
            stop,
            reader: Some(reader),
        }
    }

    /// Waits until `count` documents arrived (or [`WAIT`] passed); returns all so far.
    fn wait_for(&self, count: usize) -> Vec<(Instant, Value)> {
        let until = Instant::now() + WAIT;
        loop {
            let received = self.received.lock().unwrap().clone();
            if received.len() >= count || Instant::now() >= until {
                return received;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn start(api: &Emulator, daemon: &Daemon) -> Function {
    Function::start(
        TRACED,
        api,
        &[("AWS_XRAY_DAEMON_ADDRESS", daemon.address.as_str())],
    )
}

/// The same fixture as a handler library on the runtime layer, in the Lambda-shaped sandbox.
fn start_on_layer(api: &Emulator, daemon: &Daemon) -> (LambdaSandbox, Function) {
    let sandbox = LambdaSandbox::with_layer(&[("libtraced.so", layer_library("traced"))]);
    let function = sandbox.start(
        api,
        "traced",
        &[("AWS_XRAY_DAEMON_ADDRESS", daemon.address.as_str())],
    );
    (sandbox, function)
}

fn names(documents: &Value) -> Vec<&str> {
    documents
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect()
}

#[test]
fn subsegments_reach_the_daemon_before_the_response() {
    let api = Emulator::start();
    let daemon = Daemon::start();
    let _function = start(&api, &daemon);
    subsegments_arrive_before_the_response(&api, &daemon);
}

#[test]
fn on_the_layer_the_librarys_subsegments_reach_the_daemon_before_the_response() {
    let api = Emulator::start();
    let daemon = Daemon::start();
    let _running = start_on_layer(&api, &daemon);
    subsegments_arrive_before_the_response(&api, &daemon);
}

fn subsegments_arrive_before_the_response(api: &Emulator, daemon: &Daemon) {
    // The emulator holds the function's /response call for 600 ms: a document sent after it
    // (not before) would arrive at least that much later than the call.
    api.inject(Route::Response, Fault::Delay(Duration::from_millis(600)));
    let header = sampled("1");
    let id = api.enqueue(Event::json("{}").header("Lambda-Runtime-Trace-Id", &header));
    let outcome = api.wait_outcome(&id, WAIT).expect("an outcome");
    let answer = json(&outcome);

    let received = daemon.wait_for(1);
    assert_eq!(received.len(), 1, "one document: {received:#?}");
    let (arrived, document) = &received[0];
    assert_eq!(document["type"], "subsegment");
    assert_eq!(document["name"], "handler");
    assert_eq!(document["trace_id"], ROOT);
    assert_eq!(
        document["parent_id"], FUNCTION_SEGMENT,
        "top level: Lambda's segment"
    );
    assert_eq!(document["id"], answer["handler_id"]);
    assert_eq!(document["annotations"]["request_id"], id.as_str());
    assert_eq!(names(&document["subsegments"]), ["query", "span step"]);
    let (start, end) = (
        document["start_time"].as_f64().unwrap(),
        document["end_time"].as_f64().unwrap(),
    );
    for child in document["subsegments"].as_array().unwrap() {
        let (s, e) = (
            child["start_time"].as_f64().unwrap(),
            child["end_time"].as_f64().unwrap(),
        );
        assert!(
            start <= s && s <= e && e <= end,
            "{child} within {document}"
        );
    }
    assert_eq!(document["subsegments"][1]["annotations"]["step"], 1);

    // The header to forward names the handler's subsegment as the parent.
    let handler_id = answer["handler_id"].as_str().unwrap();
    assert_eq!(
        answer["forwarded"],
        format!("Root={ROOT};Parent={handler_id};Sampled=1")
    );
    assert_eq!(answer["trace"], header.as_str());

    let response = api
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/response"))
        .expect("the /response call");
    assert!(
        *arrived < response.received + Duration::from_millis(300),
        "the document arrived {:?} after the /response call: it was sent after it",
        arrived.duration_since(response.received)
    );
}

#[test]
fn a_failed_traced_invocation_posts_the_error_cause() {
    let api = Emulator::start();
    let daemon = Daemon::start();
    let _function = start(&api, &daemon);
    the_error_cause_is_posted(&api, &daemon);
}

#[test]
fn on_the_layer_the_error_cause_crosses_the_abi_and_is_posted() {
    let api = Emulator::start();
    let daemon = Daemon::start();
    let _running = start_on_layer(&api, &daemon);
    the_error_cause_is_posted(&api, &daemon);
}

fn the_error_cause_is_posted(api: &Emulator, daemon: &Daemon) {
    let header = sampled("1");
    let id = api.enqueue(
        Event::json(r#"{"fail":"order \"42\" does not exist"}"#)
            .header("Lambda-Runtime-Trace-Id", &header),
    );
    let outcome = api.wait_outcome(&id, WAIT).expect("an outcome");
    assert_eq!(
        outcome.error().document["errorType"],
        "OrderNotFound",
        "{outcome:?}"
    );
    let post = api
        .requests()
        .into_iter()
        .find(|r| r.path == format!("/2018-06-01/runtime/invocation/{id}/error"))
        .expect("the /error call");
    let cause: Value = serde_json::from_str(post.header(CAUSE_HEADER).expect("the cause header"))
        .expect("the cause is JSON");
    assert_eq!(
        cause["exceptions"],
        serde_json::json!([{"type": "OrderNotFound", "message": "order \"42\" does not exist"}])
    );
    assert_eq!(cause["paths"], serde_json::json!([]));
    assert!(!cause["working_directory"].as_str().unwrap().is_empty());

    let received = daemon.wait_for(1);
    let handler = &received[0].1;
    assert_eq!(handler["fault"], true);
    assert_eq!(handler["cause"]["exceptions"][0]["type"], "OrderNotFound");

    // Not sampled: neither the cause header nor any document.
    let id = api.enqueue(
        Event::json(r#"{"fail":"quietly"}"#).header("Lambda-Runtime-Trace-Id", &sampled("0")),
    );
    api.wait_outcome(&id, WAIT).expect("an outcome").error();
    let post = api
        .requests()
        .into_iter()
        .find(|r| r.path == format!("/2018-06-01/runtime/invocation/{id}/error"))
        .expect("the /error call");
    assert_eq!(post.header(CAUSE_HEADER), None);
    thread::sleep(Duration::from_millis(200));
    assert_eq!(daemon.received.lock().unwrap().len(), 1);
}

#[test]
fn unsampled_and_untraced_invocations_send_nothing() {
    let api = Emulator::start();
    let daemon = Daemon::start();
    let _function = start(&api, &daemon);
    let header = sampled("0");
    let answer = json(&api.invoke(Event::json("{}").header("Lambda-Runtime-Trace-Id", &header)));
    assert_eq!(answer["forwarded"], header.as_str(), "forwarded unchanged");
    assert_eq!(answer["handler_id"], Value::Null);
    let answer = json(&api.invoke(Event::json("{}")));
    assert_eq!(answer["forwarded"], Value::Null);
    assert_eq!(answer["trace"], Value::Null);
    // A malformed header is ignored, not a failed invocation.
    let answer = json(
        &api.invoke(Event::json("{}").header("Lambda-Runtime-Trace-Id", "Root=nonsense;Sampled=1")),
    );
    assert_eq!(answer["trace"], Value::Null);
    thread::sleep(Duration::from_millis(300));
    assert!(daemon.received.lock().unwrap().is_empty());
}

#[test]
fn an_absent_daemon_does_not_slow_or_fail_invocations() {
    let api = Emulator::start();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let _function = Function::start(TRACED, &api, &[("AWS_XRAY_DAEMON_ADDRESS", &address)]);
    let header = sampled("1");
    let started = Instant::now();
    for _ in 0..50 {
        let answer =
            json(&api.invoke(Event::json("{}").header("Lambda-Runtime-Trace-Id", &header)));
        assert!(answer["handler_id"].is_string());
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// The issue's "done when", on the example a reader sees: JSON logs with a top-level
/// `requestId`, subsegments at the daemon under Lambda's segment, and an error cause.
#[test]
fn the_xray_example_logs_json_sends_subsegments_and_reports_the_error_cause() {
    let api = Emulator::start();
    let daemon = Daemon::start();
    let function = Function::start(
        env!("CARGO_BIN_EXE_xray_example"),
        &api,
        &[
            ("AWS_XRAY_DAEMON_ADDRESS", daemon.address.as_str()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ],
    );
    let traced = |body: &str| Event::json(body).header("Lambda-Runtime-Trace-Id", &sampled("1"));

    let found = api.enqueue(traced(r#"{"order_id":"o-1042"}"#));
    let answer = json(&api.wait_outcome(&found, WAIT).expect("an outcome"));
    assert_eq!(answer["status"], "shipped");
    let missing = api.enqueue(traced(r#"{"order_id":"x-9"}"#));
    let outcome = api.wait_outcome(&missing, WAIT).expect("an outcome");
    assert_eq!(outcome.error().document["errorType"], "OrderNotFound");

    let received = daemon.wait_for(2);
    assert_eq!(received.len(), 2, "{received:#?}");
    for (_, document) in &received {
        assert_eq!(document["name"], "orders-db");
        assert_eq!(document["trace_id"], ROOT);
        assert_eq!(document["parent_id"], FUNCTION_SEGMENT);
    }
    let forwarded = answer["forward_trace"].as_str().unwrap();
    let first_id = received[0].1["id"].as_str().unwrap();
    assert!(
        forwarded.contains(&format!("Parent={first_id}")),
        "{forwarded}"
    );
    assert_eq!(received[1].1["error"], true);
    assert_eq!(
        received[1].1["cause"]["exceptions"][0]["message"],
        "no order x-9"
    );

    let post = api
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(&format!("{missing}/error")))
        .expect("the /error call");
    let cause: Value = serde_json::from_str(post.header(CAUSE_HEADER).expect("a cause")).unwrap();
    assert_eq!(cause["exceptions"][0]["type"], "OrderNotFound");

    // The handler's two lines, then the loop's own "invocation failed".
    let output = function.wait_output("invocation failed");
    let lines: Vec<Value> = output
        .lines()
        .filter(|line| line.contains("order"))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let of = |id: &str| lines.iter().filter(|l| l["requestId"] == id).count();
    assert_eq!((of(&found), of(&missing)), (1, 3), "{output}");
    assert!(lines.iter().all(|l| l["xray_trace_id"] == ROOT), "{output}");
}
