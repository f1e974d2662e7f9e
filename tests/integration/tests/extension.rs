//! Extensions on lamina against the emulator's Extensions and Telemetry APIs: registration,
//! events, errors reported where Lambda expects them, shutdown, telemetry, Managed Instances,
//! internal extensions, and an invocation that waits for a slow extension.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{Emulator, Event, Function, WAIT};

const EXTENSION: &str = env!("CARGO_BIN_EXE_extension");
const INTERNAL: &str = env!("CARGO_BIN_EXE_internal_extension");
const FORWARDER: &str = env!("CARGO_BIN_EXE_report_forwarder_example");
const ECHO: &str = env!("CARGO_BIN_EXE_echo");

/// Starts the fixture extension, declared external under its file name, and waits until it is
/// ready (in `event/next`).
fn external(api: &Emulator, mode: &str) -> Function {
    external_with(api, mode, &[])
}

fn external_with(api: &Emulator, mode: &str, env: &[(&str, &str)]) -> Function {
    api.external("extension");
    let mut env = env.to_vec();
    env.push(("EXTENSION_MODE", mode));
    let extension = Function::start(EXTENSION, api, &env);
    assert!(
        api.wait_extensions_ready(1, WAIT),
        "the extension never became ready: {}",
        extension.output()
    );
    extension
}

#[test]
fn an_external_extension_registers_gets_every_invoke_and_exits_0_after_shutdown() {
    let api = Emulator::start();
    let mut extension = external(&api, "plain");
    let registered = api.extensions();
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].name, "extension");
    assert_eq!(registered[0].events, ["INVOKE", "SHUTDOWN"]);
    assert!(registered[0].accepts_account_id);
    extension.wait_output("registered orders 123456789012 ext-0001");

    let _function = Function::start(ECHO, &api, &[]);
    let traced = Event::json("{}").header(
        "Lambda-Runtime-Trace-Id",
        "Root=1-6755c2a0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
    );
    let first = api.enqueue(traced);
    let second = api.enqueue(Event::json("{}"));
    for id in [&first, &second] {
        assert!(
            api.wait_complete(id, WAIT).is_some(),
            "{id} never completed"
        );
    }
    extension.wait_output(&format!(
        "invoke {first} arn:aws:lambda:us-east-1:123456789012:function:emulated Root=1-6755c2a0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
    ));
    extension.wait_output(&format!("invoke {second} "));

    api.shutdown_extensions("spindown", Duration::from_secs(2));
    let status = extension
        .wait_exit(WAIT)
        .expect("the extension exits after SHUTDOWN");
    assert!(status.success(), "{status:?}: {}", extension.output());
    assert!(extension.output().contains("shutdown spindown"));
    assert!(api.extension_errors().is_empty());
}

#[test]
fn an_init_error_is_reported_to_init_error_and_the_process_exits_non_zero() {
    let api = Emulator::start();
    api.external("extension");
    let mut extension = Function::start(EXTENSION, &api, &[("EXTENSION_MODE", "init-error")]);
    let reported = api.wait_extension_error(WAIT).expect("an init error");
    assert_eq!(reported.extension, "extension");
    assert_eq!(reported.stage, "init");
    assert_eq!(reported.error_type, "Extension.ConfigMissing");
    assert_eq!(reported.document["errorType"], "ConfigMissing");
    assert_eq!(reported.document["errorMessage"], "FORWARD_URL is not set");
    let status = extension.wait_exit(WAIT).expect("the extension exits");
    assert!(!status.success(), "{status:?}");
    assert!(extension.output().contains("FORWARD_URL is not set"));
}

#[test]
fn a_handler_error_or_panic_on_one_invoke_is_logged_and_the_next_event_still_comes() {
    for mode in ["handler-error", "panic"] {
        let api = Emulator::start();
        let extension = external(&api, mode);
        let _function = Function::start(ECHO, &api, &[]);
        for _ in 0..2 {
            let id = api.enqueue(Event::json("{}"));
            assert!(
                api.wait_complete(&id, WAIT).is_some(),
                "{mode}: {}",
                extension.output()
            );
        }
        let output = extension.wait_output_times("the extension's handler failed on INVOKE", 2);
        let expected = if mode == "panic" {
            "the forwarder's buffer is corrupt"
        } else {
            "the collector refused the batch"
        };
        assert_eq!(
            output
                .matches("the extension's handler failed on INVOKE")
                .count(),
            2,
            "{mode}: {output}"
        );
        assert!(output.contains(expected), "{mode}: {output}");
        assert!(api.extension_errors().is_empty(), "{mode}");
    }
}

#[test]
fn stop_on_error_reports_to_exit_error_and_exits_non_zero() {
    let api = Emulator::start();
    let mut extension = external(&api, "stop-on-error");
    let _function = Function::start(ECHO, &api, &[]);
    api.enqueue(Event::json("{}"));
    let reported = api.wait_extension_error(WAIT).expect("an exit error");
    assert_eq!(reported.stage, "exit");
    assert_eq!(reported.error_type, "Extension.ForwardFailed");
    assert_eq!(
        reported.document["errorMessage"],
        "the collector refused the batch"
    );
    let status = extension.wait_exit(WAIT).expect("the extension exits");
    assert!(!status.success(), "{status:?}");
}

#[test]
fn a_shutdown_handler_that_never_returns_is_ended_before_the_deadline_with_status_0() {
    let api = Emulator::start();
    let mut extension = external(&api, "slow-shutdown");
    let sent = Instant::now();
    api.shutdown_extensions("timeout", Duration::from_millis(500));
    let status = extension.wait_exit(WAIT).expect("the extension exits");
    let took = sent.elapsed();
    assert!(status.success(), "{status:?}: {}", extension.output());
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    assert!(extension.output().contains("still running at the deadline"));
}

#[test]
fn a_slow_extension_adds_its_time_to_the_invocation() {
    let api = Emulator::start();
    let _extension = external(&api, "slow");
    let _function = Function::start(ECHO, &api, &[]);
    let id = api.enqueue(Event::json("{}"));
    let took = api
        .wait_complete(&id, WAIT)
        .expect("the invocation completes");
    assert!(took >= Duration::from_millis(300), "took {took:?}");

    let alone = Emulator::start();
    let _function = Function::start(ECHO, &alone, &[]);
    let id = alone.enqueue(Event::json("{}"));
    let bare = alone
        .wait_complete(&id, WAIT)
        .expect("the invocation completes");
    assert!(bare < Duration::from_millis(300), "took {bare:?}");
}

#[test]
fn telemetry_batches_are_typed_and_an_unknown_record_does_not_drop_the_batch() {
    let api = Emulator::start();
    let extension = external(&api, "telemetry");
    let subscribers = api.wait_subscribers(1, WAIT);
    assert_eq!(subscribers.len(), 1);
    let subscriber = &subscribers[0];
    assert_eq!(subscriber.api, "telemetry");
    assert_eq!(subscriber.schema_version.as_deref(), Some("2022-12-13"));
    assert_eq!(subscriber.types, ["platform", "function"]);
    assert_eq!(subscriber.buffering, (1000, 262_144, 25));
    assert!(
        subscriber.uri.starts_with("http://127.0.0.1:"),
        "{}",
        subscriber.uri
    );

    let batch = r#"[
        {"time":"2026-12-07T10:00:00.000Z","type":"function","record":"order 42 placed"},
        {"time":"2026-12-07T10:00:00.001Z","type":"platform.somethingNew","record":{"x":1}},
        {"time":"2026-12-07T10:00:00.002Z","type":"platform.report","record":{"requestId":"r-7","status":"success","metrics":{"durationMs":2.5,"billedDurationMs":3,"memorySizeMB":256,"maxMemoryUsedMB":20}}}
    ]"#;
    let answers = api.push_telemetry(batch);
    assert_eq!(answers.len(), 1);
    assert_eq!(*answers[0].as_ref().expect("the listener answers"), 200);
    let output = extension.wait_output("record report r-7");
    assert!(
        output.contains("record function order 42 placed"),
        "{output}"
    );
    assert!(
        output.contains("record unknown platform.somethingNew"),
        "{output}"
    );

    let refused = api.push_telemetry("{\"not\":\"an array\"}");
    assert_eq!(*refused[0].as_ref().expect("the listener answers"), 400);

    // The records the emulator pushes after a real invocation.
    let _function = Function::start(ECHO, &api, &[]);
    let id = api.enqueue(Event::json("{}"));
    assert!(api.wait_complete(&id, WAIT).is_some());
    extension.wait_output(&format!("record report {id}"));
}

fn connect(address: &str) -> TcpStream {
    let connection = TcpStream::connect(address).unwrap();
    connection.set_read_timeout(Some(WAIT)).unwrap();
    connection
}

/// Posts `body` on `connection` (kept open) and reads the answer's status.
fn post_kept_open(connection: &mut TcpStream, body: &str) -> u16 {
    let head = format!(
        "POST / HTTP/1.1\r\nHost: sandbox.localdomain\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    connection.write_all(head.as_bytes()).unwrap();
    connection.write_all(body.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        assert_eq!(
            connection.read(&mut byte).unwrap(),
            1,
            "the listener closed"
        );
        answer.push(byte[0]);
    }
    let head = String::from_utf8(answer).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("a Content-Length");
    let mut rest = vec![0; length];
    connection.read_exact(&mut rest).unwrap();
    head[9..12].parse().unwrap()
}

fn function_records(prefix: &str, count: usize, padding: usize) -> String {
    let pad = "x".repeat(padding);
    let items: Vec<String> = (0..count)
        .map(|i| {
            format!(r#"{{"time":"2026-12-07T10:00:00.000Z","type":"function","record":"{prefix} {i} {pad}"}}"#)
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[test]
fn the_telemetry_listener_serves_kept_open_concurrent_and_large_pushes() {
    let api = Emulator::start();
    let extension = external(&api, "telemetry");
    let subscriber = api.wait_subscribers(1, WAIT).remove(0);
    let address = subscriber.uri.trim_start_matches("http://").to_owned();

    let mut kept = connect(&address);
    assert_eq!(
        post_kept_open(&mut kept, &function_records("kept-a", 3, 0)),
        200
    );
    assert_eq!(
        post_kept_open(&mut kept, &function_records("kept-b", 3, 0)),
        200
    );
    // A second connection while the first stays open is served beside it.
    let mut beside = connect(&address);
    assert_eq!(
        post_kept_open(&mut beside, &function_records("beside", 3, 0)),
        200
    );
    drop(kept);
    drop(beside);
    // New connections after those closed (served by the threads they leave waiting), one with
    // 1.2 MB of records: more than a connection's buffer holds at first.
    for round in 0..3 {
        let mut next = connect(&address);
        let prefix = format!("round-{round}");
        assert_eq!(
            post_kept_open(&mut next, &function_records(&prefix, 2, 0)),
            200
        );
    }
    let mut large = connect(&address);
    assert_eq!(
        post_kept_open(&mut large, &function_records("large", 2000, 550)),
        200
    );
    // The same connection still serves after the large push.
    assert_eq!(
        post_kept_open(&mut large, &function_records("after", 1, 0)),
        200
    );

    let output = extension.wait_output("record function after 0");
    for line in [
        "record function kept-a 2",
        "record function kept-b 0",
        "record function beside 1",
        "record function round-2 1",
        "record function large 0 ",
        "record function large 1999 ",
    ] {
        assert!(output.contains(line), "no `{line}`");
    }
    assert_eq!(output.matches("record function large ").count(), 2000);
}

#[test]
fn the_report_forwarder_writes_each_report_as_emf_metrics() {
    let api = Emulator::start();
    api.external("report_forwarder_example");
    let mut forwarder = Function::start(FORWARDER, &api, &[("REPORT_NAMESPACE", "Shop")]);
    assert!(api.wait_extensions_ready(1, WAIT), "{}", forwarder.output());
    assert_eq!(api.wait_subscribers(1, WAIT).len(), 1);
    let _function = Function::start(ECHO, &api, &[]);
    let id = api.enqueue(Event::json("{}"));
    assert!(api.wait_complete(&id, WAIT).is_some());
    let output = forwarder.wait_output("\"MaxMemoryUsed\"");
    let documents: Vec<serde_json::Value> = output
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|doc: &serde_json::Value| doc.get("_aws").is_some())
        .collect();
    let metric = |name: &str| {
        documents
            .iter()
            .find(|doc| doc.get(name).is_some())
            .unwrap_or_else(|| panic!("no {name} document in {output}"))
    };
    for name in ["Duration", "BilledDuration", "MaxMemoryUsed"] {
        let doc = metric(name);
        assert_eq!(doc["FunctionName"], "orders", "{doc}");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Shop",
            "{doc}"
        );
    }
    assert_eq!(metric("MaxMemoryUsed")["MaxMemoryUsed"], 24.0);
    api.shutdown_extensions("spindown", Duration::from_secs(2));
    let status = forwarder.wait_exit(WAIT).expect("the forwarder exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn under_managed_instances_an_external_extension_registers_for_shutdown_only() {
    for mode in ["plain", "invoke-only", "logs"] {
        let api = Emulator::start();
        api.set_managed_instances(true);
        let mut extension = external_with(&api, mode, &[("AWS_LAMBDA_MAX_CONCURRENCY", "8")]);
        let registered = api.extensions();
        let expected: &[&str] = if mode == "invoke-only" {
            &[]
        } else {
            &["SHUTDOWN"]
        };
        assert_eq!(registered[0].events, expected, "{mode}");
        let output = match mode {
            "invoke-only" => extension.wait_output("not registering for INVOKE"),
            "logs" => extension.wait_output("no Logs API"),
            _ => extension.output(),
        };
        if mode == "invoke-only" {
            assert!(output.contains("not registering for INVOKE"), "{output}");
        }
        if mode == "logs" {
            let subscribers = api.wait_subscribers(1, WAIT);
            assert_eq!(subscribers[0].api, "telemetry", "{mode}");
            assert_eq!(subscribers[0].schema_version.as_deref(), Some("2025-01-29"));
            assert!(output.contains("no Logs API"), "{output}");
        }
        if mode == "plain" {
            api.shutdown_extensions("spindown", Duration::from_secs(2));
            let status = extension.wait_exit(WAIT).expect("the extension exits");
            assert!(status.success(), "{status:?}");
        }
        assert!(api.extension_errors().is_empty(), "{mode}");
    }
}

#[test]
fn a_registration_refused_for_invoke_is_made_again_without_it() {
    // The emulator in Managed Instances mode, with `AWS_LAMBDA_MAX_CONCURRENCY` unset: lamina
    // asks for INVOKE, gets 403, and registers for SHUTDOWN alone.
    let api = Emulator::start();
    api.set_managed_instances(true);
    api.external("extension");
    let extension = Function::start(EXTENSION, &api, &[("EXTENSION_MODE", "plain")]);
    assert!(api.wait_extensions_ready(1, WAIT), "{}", extension.output());
    assert_eq!(api.extensions()[0].events, ["SHUTDOWN"]);
    assert!(extension.output().contains("Lambda refused INVOKE events"));
}

#[test]
fn an_internal_extension_runs_inside_the_function_and_sees_its_invocations() {
    let api = Emulator::start();
    let function = Function::start(INTERNAL, &api, &[]);
    let outcome = api.invoke(Event::json("{}"));
    let registered = api.extensions();
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].name, "audit");
    assert_eq!(registered[0].events, ["INVOKE"]);
    assert!(!registered[0].external);
    assert_eq!(outcome.response(), b"\"ext-0001\"");
    let id = api.requests().iter().find_map(|r| {
        r.path
            .strip_prefix("/2018-06-01/runtime/invocation/")
            .and_then(|rest| rest.strip_suffix("/response"))
            .map(str::to_owned)
    });
    let id = id.expect("a response was posted");
    function.wait_output(&format!("internal saw {id}"));
    assert!(api.wait_complete(&id, WAIT).is_some());
}

#[test]
fn an_internal_extension_under_managed_instances_registers_for_no_events() {
    let api = Emulator::start();
    api.set_managed_instances(true);
    let _function = Function::start(INTERNAL, &api, &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")]);
    let outcome = api.invoke(Event::json("{}"));
    assert_eq!(outcome.response(), b"\"ext-0001\"");
    assert_eq!(api.extensions()[0].events, Vec::<String>::new());
}

#[test]
fn an_internal_extension_whose_init_fails_fails_the_function_init() {
    let api = Emulator::start();
    let mut function = Function::start(INTERNAL, &api, &[("INTERNAL_FAIL", "1")]);
    let posted = api.wait_init_error(WAIT).expect("an init error");
    assert_eq!(posted.document["errorMessage"], "no audit sink");
    let status = function.wait_exit(WAIT).expect("the function exits");
    assert!(!status.success());
}
