//! Log lines as a function really writes them: the fixture's stdout under the emulator, in
//! Lambda's JSON and text formats.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const LOGGING: &str = env!("CARGO_BIN_EXE_logging");
const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const UNSAMPLED: &str =
    "Root=1-6759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";

/// The lines the function wrote to stdout.
fn stdout_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| !l.starts_with("[stderr] "))
        .collect()
}

/// Every stdout line, each of which must be one JSON object.
fn json_lines(output: &str) -> Vec<Value> {
    stdout_lines(output)
        .into_iter()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| {
                    panic!("not a JSON object line: {line:?}\nall output:\n{output}")
                })
        })
        .collect()
}

fn with_marker<'a>(lines: &'a [Value], marker: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["marker"] == marker).collect()
}

fn messages(lines: &[&Value]) -> Vec<String> {
    let mut messages: Vec<String> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect();
    messages.sort();
    messages
}

/// `2026-11-23T14:05:06.123Z`: RFC 3339, UTC, milliseconds.
fn is_lambda_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| range.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

/// Waits until `function` has exited or written `count` stdout lines.
fn wait_lines(function: &Function, count: usize) -> String {
    let until = Instant::now() + WAIT;
    loop {
        let output = function.output();
        if stdout_lines(&output).len() >= count || Instant::now() >= until {
            return output;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn json_lines_carry_lambdas_keys_the_request_id_and_the_users_fields() {
    let api = Emulator::start();
    let function = Function::start(LOGGING, &api, &[("AWS_LAMBDA_LOG_FORMAT", "json")]);
    let secret = "payload-secret-4b1d7e0c";
    let first = api.enqueue(
        Event::json(format!(r#"{{"marker":"m-one","secret":"{secret}"}}"#))
            .header("Lambda-Runtime-Trace-Id", SAMPLED),
    );
    api.wait_outcome(&first, WAIT).expect("first outcome");
    let second = api.enqueue(
        Event::json(format!(r#"{{"marker":"m-two","secret":"{secret}"}}"#))
            .header("Lambda-Runtime-Trace-Id", UNSAMPLED)
            .header("Lambda-Runtime-Aws-Tenant-Id", "tenant-a"),
    );
    api.wait_outcome(&second, WAIT).expect("second outcome");
    assert_ne!(first, second);

    let output = wait_lines(&function, 10);
    assert!(
        !output.contains(secret),
        "the event payload must not be logged:\n{output}"
    );
    let lines = json_lines(&output);
    for line in &lines {
        assert!(
            is_lambda_timestamp(line["timestamp"].as_str().unwrap_or("")),
            "{line}"
        );
        assert!(
            ["INFO", "WARN", "ERROR"].contains(&line["level"].as_str().unwrap_or("")),
            "only INFO and above at the default level: {line}"
        );
        assert!(line["message"].is_string(), "{line}");
    }

    for (marker, id) in [("m-one", &first), ("m-two", &second)] {
        let mine = with_marker(&lines, marker);
        assert_eq!(
            messages(&mine),
            [
                "error line",
                "handler line",
                "task line",
                "thread line",
                "warn line"
            ],
            "{marker}:\n{output}"
        );
        for line in &mine {
            assert_eq!(line["requestId"], id.as_str(), "{line}");
        }
    }
    // Every line was written during one of the two invocations.
    assert_eq!(lines.len(), 10, "{output}");

    let handler = with_marker(&lines, "m-one")
        .into_iter()
        .find(|l| l["message"] == "handler line")
        .unwrap();
    assert_eq!(handler["level"], "INFO");
    assert_eq!(handler["qty"], 3);
    assert_eq!(handler["gift"], true);
    assert_eq!(handler["note"], "a \"quote\", a \\ and a\nnewline");
    // The enclosing span's fields.
    assert_eq!(handler["order_id"], "o-17");
    assert_eq!(handler["attempt"], 1);
    // Sampled: the trace id, as Powertools names it. No tenant.
    assert_eq!(
        handler["xray_trace_id"],
        "1-5759e988-bd862e3fe1be46a994272793"
    );
    assert!(handler.get("tenantId").is_none());
    let error = with_marker(&lines, "m-one")
        .into_iter()
        .find(|l| l["message"] == "error line")
        .unwrap();
    assert_eq!(
        (&error["level"], &error["code"]),
        (&"ERROR".into(), &7.into())
    );

    // Not sampled: no trace id; the tenant id is there.
    for line in with_marker(&lines, "m-two") {
        assert!(line.get("xray_trace_id").is_none(), "{line}");
        assert_eq!(line["tenantId"], "tenant-a", "{line}");
    }
}

#[test]
fn debug_lines_appear_at_debug_and_trace_lines_do_not() {
    let api = Emulator::start();
    let function = Function::start(
        LOGGING,
        &api,
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
            ("RUST_LOG", "trace"),
        ],
    );
    let id = api.enqueue(Event::json(r#"{"marker":"m-debug"}"#));
    api.wait_outcome(&id, WAIT).expect("an outcome");
    let output = wait_lines(&function, 6);
    let lines = json_lines(&output);
    let mine = with_marker(&lines, "m-debug");
    assert_eq!(
        messages(&mine),
        [
            "debug line",
            "error line",
            "handler line",
            "task line",
            "thread line",
            "warn line"
        ],
        "{output}"
    );
    let debug = mine.iter().find(|l| l["message"] == "debug line").unwrap();
    assert_eq!(debug["level"], "DEBUG");
    assert_eq!(debug["requestId"], id.as_str());
}

/// Issue 14: `log` records carry the request id, and `RUST_LOG`'s directives choose by target,
/// in both formats, under the cap `AWS_LAMBDA_LOG_LEVEL` sets.
#[test]
fn log_crate_records_and_rust_log_directives_reach_the_lines() {
    let event = || Event::json(r#"{"marker":"m-log","log_crate":true}"#);
    let rust_log = ("RUST_LOG", "warn,logging=debug,chatty=warn");
    for format in ["Text", "JSON"] {
        let api = Emulator::start();
        let function = Function::start(
            LOGGING,
            &api,
            &[("AWS_LAMBDA_LOG_FORMAT", format), rust_log],
        );
        let id = api.enqueue(event());
        api.wait_outcome(&id, WAIT).expect("an outcome");
        let output = wait_lines(&function, 9);
        let lines = stdout_lines(&output);
        let line = |text: &str| lines.iter().find(|l| l.contains(text)).copied();
        for wanted in [
            "log record m-log",
            "chatty warn record m-log",
            "debug line from the function's own target",
            "debug line",
        ] {
            let found =
                line(wanted).unwrap_or_else(|| panic!("{format}: no {wanted:?}:\n{output}"));
            assert!(
                found.contains(id.as_str()),
                "{format}: no request id: {found}"
            );
        }
        assert!(
            line("chatty debug record").is_none(),
            "{format}: chatty=warn:\n{output}"
        );
        if format == "JSON" {
            let record: Value = serde_json::from_str(line("log record m-log").unwrap()).unwrap();
            assert_eq!(record["level"], "INFO");
            assert_eq!(record["message"], "log record m-log");
            assert_eq!(record["requestId"], id.as_str());
        }
    }

    // Lambda's level caps every directive.
    let api = Emulator::start();
    let function = Function::start(LOGGING, &api, &[("AWS_LAMBDA_LOG_LEVEL", "WARN"), rust_log]);
    let id = api.enqueue(event());
    api.wait_outcome(&id, WAIT).expect("an outcome");
    let output = wait_lines(&function, 3);
    assert!(output.contains("chatty warn record m-log"), "{output}");
    assert!(!output.contains("debug line"), "{output}");
    assert!(!output.contains("log record m-log\n"), "{output}");
    assert!(!output.contains(" INFO "), "{output}");
}

#[test]
fn text_lines_are_readable_and_carry_the_request_id() {
    let api = Emulator::start();
    let function = Function::start(LOGGING, &api, &[]);
    let id = api.enqueue(Event::json(r#"{"marker":"m-text"}"#));
    api.wait_outcome(&id, WAIT).expect("an outcome");
    let output = wait_lines(&function, 5);
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 5, "{output}");
    for line in &lines {
        assert!(serde_json::from_str::<Value>(line).is_err(), "{line}");
        assert!(line.contains(&format!(" {id} ")), "{line}");
        assert!(line.contains("marker=\"m-text\""), "{line}");
    }
    let handler = lines
        .iter()
        .find(|l| l.contains("handler line"))
        .expect("the handler's line");
    // Level, request id, message, then fields: the event's, then the span's. The newline in
    // `note` is escaped, so each event is one line.
    assert_eq!(
        *handler,
        format!(
            " INFO {id} handler line marker=\"m-text\" qty=3 gift=true note=\"a \\\"quote\\\", a \\\\ and a\\nnewline\" order_id=\"o-17\" attempt=1"
        )
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("ERROR {id} error line")))
    );
}

#[test]
fn an_invocations_lines_are_out_before_its_response_is_posted() {
    let api = Emulator::start();
    let function = Function::start(LOGGING, &api, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    // The emulator takes the response, then waits 3 s before answering it: the function is
    // blocked on that answer, so whatever it wrote before posting is visible by then, and
    // whatever it would write after is not.
    let hold = Duration::from_secs(3);
    api.inject(Route::Response, Fault::Delay(hold));
    let id = api.enqueue(Event::json(r#"{"marker":"m-order"}"#));
    let until = Instant::now() + WAIT;
    let posted = loop {
        let posted = api
            .requests()
            .into_iter()
            .find(|r| r.path.ends_with(&format!("{id}/response")));
        if let Some(posted) = posted {
            break posted.received;
        }
        assert!(Instant::now() < until, "no /response posted");
        thread::sleep(Duration::from_millis(5));
    };
    let output = loop {
        let output = function.output();
        if output.contains("thread line") || posted.elapsed() >= hold / 2 {
            break output;
        }
        thread::sleep(Duration::from_millis(5));
    };
    assert!(
        posted.elapsed() < hold,
        "the check itself took too long to mean anything"
    );
    let lines = json_lines(&output);
    assert_eq!(
        with_marker(&lines, "m-order").len(),
        5,
        "the handler's lines had not reached stdout when the response was posted:\n{output}"
    );
    api.wait_outcome(&id, WAIT).expect("the outcome");
}

#[test]
fn a_long_invocations_lines_are_out_while_it_still_runs() {
    let api = Emulator::start();
    let function = Function::start(LOGGING, &api, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    // The handler logs, then blocks its thread for 4 s: a timeout or a kill in that time must
    // not take its lines along, so they are out within a few ticks, long before it answers.
    let id = api.enqueue(Event::json(r#"{"marker":"m-long","hang_ms":4000}"#));
    let started = Instant::now();
    let output = loop {
        let output = function.output();
        if output.contains("thread line") || started.elapsed() >= Duration::from_secs(3) {
            break output;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let seen_after = started.elapsed();
    assert!(
        api.outcomes(&id).is_empty(),
        "the invocation ended already; the check proves nothing"
    );
    let lines = json_lines(&output);
    assert_eq!(
        with_marker(&lines, "m-long").len(),
        5,
        "the lines of a running invocation were still held back after {seen_after:?}:\n{output}"
    );
    assert!(seen_after < Duration::from_secs(1), "{seen_after:?}");
    api.wait_outcome(&id, WAIT).expect("the outcome");
}

#[test]
fn lines_from_many_threads_arrive_whole_past_the_buffer_bound() {
    let api = Emulator::start();
    let function = Function::start(LOGGING, &api, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    // 4 × 300 lines of ~250 bytes: ~300 KB, several times the 64 KB bound.
    let id = api.enqueue(Event::json(
        r#"{"marker":"m-bulk","threads":4,"lines":300}"#,
    ));
    api.wait_outcome(&id, WAIT).expect("an outcome");
    let output = wait_lines(&function, 1205);
    let lines = json_lines(&output);
    let bulk: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "bulk line")
        .collect();
    assert_eq!(bulk.len(), 1200);
    let mut seen = vec![[false; 300]; 4];
    for line in &bulk {
        assert_eq!(line["requestId"], id.as_str());
        assert_eq!(line["padding"].as_str().map(str::len), Some(100));
        let (t, n) = (
            line["thread"].as_u64().unwrap(),
            line["line"].as_u64().unwrap(),
        );
        seen[t as usize][n as usize] = true;
    }
    assert!(seen.iter().flatten().all(|s| *s), "every line, once each");
}

#[cfg(unix)]
#[test]
fn buffered_lines_are_flushed_before_a_panic_abort() {
    let binary = abort_build("logging");
    let api = Emulator::start();
    let mut function = Function::start(&binary, &api, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let id = api.enqueue(Event::json(r#"{"marker":"m-abort","panic":"boom"}"#));
    let outcome = api.wait_outcome(&id, WAIT).expect("the panic reported");
    assert_eq!(
        outcome.error().document["errorType"],
        "Runtime.HandlerPanic"
    );
    let status = function.expect_exit();
    assert!(!status.success());
    let output = function.output();
    let lines = json_lines(&output);
    let mine = with_marker(&lines, "m-abort");
    assert_eq!(
        messages(&mine),
        [
            "error line",
            "handler line",
            "task line",
            "thread line",
            "warn line"
        ],
        "the invocation's lines must survive the abort:\n{output}"
    );
    // The panic hook's own line, after the report, carries the request id too.
    let report = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("reported the panic"))
        })
        .unwrap_or_else(|| panic!("the hook's line:\n{output}"));
    assert_eq!(report["requestId"], id.as_str());
}

#[test]
fn a_subscriber_installed_in_init_takes_over_with_lamina_lines_as_a_layer() {
    const LAYERED: &str = env!("CARGO_BIN_EXE_logging_layer");
    let api = Emulator::start();
    let function = Function::start(LAYERED, &api, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let first = api.invoke(Event::json(r#"{"marker":"m-layer-1"}"#));
    // The counting layer saw the invocation's events, the DEBUG one too: lamina's subscriber
    // stepped aside, and lamina's layer filters only its own lines.
    assert_eq!(json(&first)["seen"], 3);
    let id = api.enqueue(Event::json(r#"{"marker":"m-layer-2"}"#));
    let second = api.wait_outcome(&id, WAIT).expect("an outcome");
    assert_eq!(json(&second)["seen"], 6);

    let output = wait_lines(&function, 5);
    let lines = json_lines(&output);
    assert_eq!(lines[0]["message"], "init line, before the registry");
    assert!(lines[0].get("requestId").is_none());
    let mine = with_marker(&lines, "m-layer-2");
    assert_eq!(messages(&mine), ["handler line", "thread line"], "{output}");
    for line in &mine {
        assert_eq!(line["requestId"], id.as_str(), "{line}");
        assert!(is_lambda_timestamp(line["timestamp"].as_str().unwrap()));
    }
    let handler = mine
        .iter()
        .find(|l| l["message"] == "handler line")
        .unwrap();
    assert_eq!(
        (&handler["qty"], &handler["order_id"]),
        (&3.into(), &"o-17".into())
    );
    assert_eq!(lines.len(), 5, "{output}");
}

#[test]
fn the_loops_own_lines_carry_the_request_id_and_lamina_log_off_silences_them() {
    const ECHO: &str = env!("CARGO_BIN_EXE_echo");
    let failing = r#"{"fail":"order 42 does not exist"}"#;
    let api = Emulator::start();
    let function = Function::start(ECHO, &api, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
    let id = api.enqueue(Event::json(failing));
    api.wait_outcome(&id, WAIT).expect("an outcome");
    let output = wait_lines(&function, 1);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1, "{output}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert_eq!(lines[0]["requestId"], id.as_str());
    assert_eq!(lines[0]["error_type"], "Handler.Requested");

    let api = Emulator::start();
    let function = Function::start(
        ECHO,
        &api,
        &[("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("LAMINA_LOG", "off")],
    );
    let id = api.enqueue(Event::json(failing));
    api.wait_outcome(&id, WAIT).expect("an outcome");
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        function.output(),
        "",
        "LAMINA_LOG=off: no subscriber, no lines"
    );
}
