//! The invoke loop against the Runtime API emulator: exact paths, headers and bodies.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

const ECHO: &str = env!("CARGO_BIN_EXE_echo");
const CONTEXT: &str = env!("CARGO_BIN_EXE_context");
const STATEFUL: &str = env!("CARGO_BIN_EXE_stateful");
const BLOCKING_TASK: &str = env!("CARGO_BIN_EXE_blocking_task");
const CONCURRENT: &str = env!("CARGO_BIN_EXE_concurrent");

/// How long an exit may take with the fixture's 60 s blocking task still running: far less than
/// the task, so only an exit that waited for it misses this bound.
const EXIT_BOUND: Duration = Duration::from_secs(10);

#[test]
fn echo_round_trip_uses_the_documented_paths_on_one_connection() {
    let api = Emulator::start();
    let _function = Function::start(ECHO, &api, &[]);
    let ids: Vec<String> = (0..20)
        .map(|i| {
            let id = api.enqueue(Event::json(format!(r#"{{"n":{i}}}"#)));
            let outcome = api.wait_outcome(&id, WAIT).expect("an outcome");
            assert_eq!(outcome.response(), format!(r#"{{"n":{i}}}"#).as_bytes());
            id
        })
        .collect();

    let requests = api.requests();
    let first = &requests[0];
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("GET", "/2018-06-01/runtime/invocation/next")
    );
    assert_eq!(first.header("host"), Some(api.address().as_str()));
    assert!(first.header("user-agent").unwrap().starts_with("lamina/"));
    let posts: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 20);
    for (post, id) in posts.iter().zip(&ids) {
        assert_eq!(
            post.path,
            format!("/2018-06-01/runtime/invocation/{id}/response")
        );
        assert_eq!(
            post.header("content-length").unwrap(),
            post.body.len().to_string()
        );
    }
    assert_eq!(
        api.connections(),
        1,
        "one keep-alive connection for the whole run"
    );
    assert!(requests.iter().all(|r| r.connection == 0));
}

#[test]
fn context_carries_every_header_and_the_environment() {
    let api = Emulator::start();
    let _function = Function::start(CONTEXT, &api, &[]);
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let outcome = api.invoke(
        Event::json("{}")
            .request_id("c0ffee00-0000-4000-8000-000000000001")
            .header("Lambda-Runtime-Deadline-Ms", "4102444800000")
            .header("Lambda-Runtime-Trace-Id", trace)
            .header(
                "Lambda-Runtime-Client-Context",
                r#"{"client":{"installationId":"inst","appTitle":"Shop","appVersionName":"2.1","appVersionCode":"21","appPackageName":"com.example.shop"},"custom":{"cart":"7"},"env":{"locale":"en_GB"}}"#,
            )
            .header(
                "Lambda-Runtime-Cognito-Identity",
                r#"{"cognitoIdentityId":"eu-west-1:abcd","cognitoIdentityPoolId":"eu-west-1:pool"}"#,
            )
            .header("Lambda-Runtime-Aws-Tenant-Id", "tenant-a"),
    );
    let seen = json(&outcome);
    let remaining = seen["remaining_ms"].as_u64().unwrap();
    assert!(remaining > 0, "a 2100 deadline leaves time");
    assert_eq!(
        seen,
        json!({
            "request_id": "c0ffee00-0000-4000-8000-000000000001",
            "deadline_ms": 4102444800000u64,
            "remaining_ms": remaining,
            "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:emulated",
            "xray_trace_header": trace,
            "trace_env": trace,
            "client_context": {
                "client": {"installationId": "inst", "appTitle": "Shop", "appVersionName": "2.1", "appVersionCode": "21", "appPackageName": "com.example.shop"},
                "custom": {"cart": "7"},
                "env": {"locale": "en_GB"}
            },
            "identity": {"cognitoIdentityId": "eu-west-1:abcd", "cognitoIdentityPoolId": "eu-west-1:pool"},
            "tenant_id": "tenant-a",
            "function_name": "orders",
            "function_version": "$LATEST",
            "memory_mb": 256,
            "log_group": "/aws/lambda/orders",
            "log_stream": "2026/11/23/[$LATEST]0123456789abcdef",
        })
    );

    // The next invocation has no trace header: the variable is cleared, optional fields are
    // absent, and malformed optional headers are ignored rather than failing the invocation.
    let outcome = api.invoke(
        Event::json("{}")
            .without("Lambda-Runtime-Invoked-Function-Arn")
            .header("Lambda-Runtime-Client-Context", "{not json")
            .header("Lambda-Runtime-Cognito-Identity", "[]"),
    );
    let seen = json(&outcome);
    for field in [
        "xray_trace_header",
        "trace_env",
        "client_context",
        "identity",
        "tenant_id",
        "invoked_function_arn",
    ] {
        assert_eq!(seen[field], json!(null), "{field}");
    }
}

#[test]
fn a_handler_error_posts_its_type_and_message() {
    let api = Emulator::start();
    let _function = Function::start(ECHO, &api, &[]);
    let id = api.enqueue(Event::json(r#"{"fail":"order 42 does not exist"}"#));
    let outcome = api.wait_outcome(&id, WAIT).unwrap();
    assert_eq!(
        outcome.error(),
        &Posted {
            error_type_header: Some("Function.Requested".into()),
            platform_error_type: "Function.Requested".into(),
            document: json!({"errorType": "Handler.Requested", "errorMessage": "order 42 does not exist"}),
        }
    );
    let post = api
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(
        post.path,
        format!("/2018-06-01/runtime/invocation/{id}/error")
    );
    // The loop goes on.
    assert_eq!(api.invoke(Event::json("[1]")).response(), b"[1]");
}

#[test]
fn a_malformed_event_fails_with_the_json_path_and_the_handler_is_not_called() {
    let api = Emulator::start();
    let _function = Function::start(STATEFUL, &api, &[("STATE_LABEL", "s")]);
    let outcome = api.invoke(Event::json(
        r#"{"id":"o1","items":[{"sku":"a","qty":1},{"sku":"b","qty":-3}]}"#,
    ));
    assert_eq!(
        outcome.error().document,
        json!({
            "errorType": "Runtime.InvalidEvent",
            "errorMessage": "the event does not match `Order` at `items[1].qty`: invalid value: integer `-3`, expected u32 at line 1 column 59"
        })
    );
    let outcome = api.invoke(Event::json("{\"id\": tru"));
    assert_eq!(
        outcome.error().document["errorType"],
        "Runtime.InvalidEvent"
    );
    assert!(
        outcome.error().document["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("the event is not valid JSON")
    );
    // A good event afterwards is the first the handler saw.
    let receipt = json(&api.invoke(Event::json(r#"{"id":"o2","items":[{"sku":"a","qty":2}]}"#)));
    assert_eq!(receipt["invocation"], 1);
}

#[test]
fn init_runs_once_and_every_invocation_borrows_its_state() {
    let api = Emulator::start();
    let _function = Function::start(STATEFUL, &api, &[("STATE_LABEL", "warm")]);
    for n in 1..=5 {
        let receipt = json(&api.invoke(Event::json(
            r#"{"id":"o","items":[{"sku":"a","qty":2},{"sku":"b","qty":3}]}"#,
        )));
        assert_eq!(
            receipt,
            json!({"id": "o", "total_qty": 5, "init_runs": 1, "invocation": n, "label": "warm"})
        );
    }
}

/// Issue 14: the error types functions written for lambda_runtime return, each posted with its
/// exact document and a header Lambda keeps.
#[test]
fn anyhow_boxed_and_string_errors_post_exact_documents() {
    let cases = [
        (
            env!("CARGO_BIN_EXE_errors_anyhow"),
            r#"{"variable":"LAMINA_TEST_UNSET"}"#,
            "Handler.VarError",
            "Function.VarError",
            "loading the configuration: reading `LAMINA_TEST_UNSET`: environment variable not found",
        ),
        (
            env!("CARGO_BIN_EXE_errors_boxed"),
            r#"{"count":"many"}"#,
            "Handler.ParseIntError",
            "Function.ParseIntError",
            "invalid digit found in string",
        ),
        (
            env!("CARGO_BIN_EXE_errors_boxed"),
            "{}",
            "Handler.Error",
            "Function.Error",
            "send a `count`",
        ),
        (
            env!("CARGO_BIN_EXE_errors_string"),
            r#"{"order":42}"#,
            "Handler.Error",
            "Function.Error",
            "no order 42",
        ),
    ];
    for (binary, event, error_type, header, message) in cases {
        let api = Emulator::start();
        let _function = Function::start(binary, &api, &[]);
        let outcome = api.invoke(Event::json(event));
        assert_eq!(
            outcome.error(),
            &Posted {
                error_type_header: Some(header.into()),
                platform_error_type: header.into(),
                document: json!({"errorType": error_type, "errorMessage": message}),
            },
            "{binary} with {event}"
        );
    }
}

#[test]
fn an_init_error_is_posted_before_any_next_and_the_process_exits() {
    let api = Emulator::start();
    let mut function = Function::start(STATEFUL, &api, &[]);
    let posted = api.wait_init_error(WAIT).expect("an init error");
    assert_eq!(
        posted,
        Posted {
            error_type_header: Some("Function.VarError".into()),
            platform_error_type: "Function.VarError".into(),
            document: json!({"errorType": "Init.VarError", "errorMessage": "environment variable not found"}),
        }
    );
    let status = function.expect_exit();
    assert!(!status.success());
    let requests = api.requests();
    assert_eq!(
        requests.len(),
        1,
        "nothing but the init error: {requests:?}"
    );
    assert_eq!(requests[0].path, "/2018-06-01/runtime/init/error");
    assert!(
        function.output().contains("init failed"),
        "{}",
        function.output()
    );
}

#[test]
fn a_panic_in_init_is_an_init_error() {
    let api = Emulator::start();
    let mut function =
        Function::start(STATEFUL, &api, &[("STATE_LABEL", "x"), ("INIT_PANIC", "1")]);
    let posted = api.wait_init_error(WAIT).expect("an init error");
    assert_eq!(
        posted.error_type_header.as_deref(),
        Some("Runtime.InitPanic")
    );
    let message = posted.document["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("init panicked: init exploded at "),
        "{message}"
    );
    assert!(!function.expect_exit().success());
}

#[test]
fn a_missing_lambda_variable_is_an_init_error_naming_it() {
    let api = Emulator::start();
    let mut function = Function::start(ECHO, &api, &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")]);
    let posted = api.wait_init_error(WAIT).expect("an init error");
    assert_eq!(
        posted.document,
        json!({
            "errorType": "Runtime.InvalidConfig",
            "errorMessage": "`AWS_LAMBDA_FUNCTION_MEMORY_SIZE` is not set; Lambda sets it for every function, so an emulator must set it too"
        })
    );
    assert!(!function.expect_exit().success());
}

#[test]
fn an_unusable_runtime_api_address_exits_with_a_message() {
    let api = Emulator::start();
    let mut function = Function::start(
        ECHO,
        &api,
        &[("AWS_LAMBDA_RUNTIME_API", "https://127.0.0.1:1")],
    );
    assert!(!function.expect_exit().success());
    let output = function.output();
    assert!(
        output.contains(
            "`AWS_LAMBDA_RUNTIME_API` is `https://127.0.0.1:1`, which is not a plain-HTTP address"
        ),
        "{output}"
    );
}

#[test]
fn the_cargo_lambda_watch_address_form_keeps_its_path_prefix() {
    let api = Emulator::start_with_prefix("/.rt/orders");
    let address = format!("http://{}/.rt/orders", api.address());
    let _function = Function::start(ECHO, &api, &[("AWS_LAMBDA_RUNTIME_API", &address)]);
    assert_eq!(api.invoke(Event::json("true")).response(), b"true");
    let paths: Vec<String> = api.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths[0] == "/.rt/orders/2018-06-01/runtime/invocation/next",
        "{paths:?}"
    );
    assert!(
        paths[1].starts_with("/.rt/orders/2018-06-01/runtime/invocation/req-"),
        "{paths:?}"
    );
}

#[test]
fn a_handler_panic_is_an_invocation_error_and_the_loop_goes_on() {
    let api = Emulator::start();
    let mut function = Function::start(ECHO, &api, &[]);
    let outcome = api.invoke(Event::json(r#"{"panic":"boom"}"#));
    let posted = outcome.error();
    assert_eq!(
        posted.error_type_header.as_deref(),
        Some("Runtime.HandlerPanic")
    );
    let message = posted.document["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("handler panicked: boom at tests/integration/src/bin/echo.rs:"),
        "{message}"
    );
    assert_eq!(api.invoke(Event::json("2")).response(), b"2");
    assert!(function.is_running());
}

#[test]
fn outcomes_echo_the_invocation_id_and_a_late_answer_refused_as_gone_is_not_fatal() {
    let api = Emulator::start();
    let mut function = Function::start(ECHO, &api, &[]);
    let answered = api.enqueue(Event::json("1"));
    api.wait_outcome(&answered, WAIT).expect("an outcome");
    let failed = api.enqueue(Event::json(r#"{"fail":"no"}"#));
    api.wait_outcome(&failed, WAIT).expect("an outcome");
    for (id, suffix) in [(&answered, "/response"), (&failed, "/error")] {
        let post = api
            .requests()
            .into_iter()
            .find(|r| r.path.ends_with(&format!("{id}{suffix}")))
            .expect("the outcome's request");
        assert_eq!(
            post.header("lambda-runtime-invocation-id"),
            api.invocation_id(id).as_deref(),
            "{suffix}"
        );
    }

    // The invocation times out while its handler still runs: its late answer is refused.
    let late = api.enqueue(Event::json(r#"{"sleep_ms":400}"#));
    // Expired once delivered: an id expired before its delivery gets a fresh invocation id
    // with it, and its answer would be taken.
    let deadline = std::time::Instant::now() + WAIT;
    while api.deliveries(&late) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    api.expire(&late);
    let deadline = std::time::Instant::now() + WAIT;
    while api.gone(&late) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(api.gone(&late), 1);
    assert!(api.outcomes(&late).is_empty(), "no outcome was taken");
    let output = function.wait_output("410 Gone");
    assert!(output.contains("410 Gone"), "{output}");
    assert_eq!(api.invoke(Event::json("4")).response(), b"4");
    assert!(function.is_running());
}

#[test]
fn without_an_invocation_id_nothing_is_echoed() {
    let api = Emulator::start();
    let _function = Function::start(ECHO, &api, &[]);
    let id = api.enqueue(Event::json("1").without("Lambda-Runtime-Invocation-Id"));
    api.wait_outcome(&id, WAIT).expect("an outcome");
    let post = api
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.header("lambda-runtime-invocation-id"), None);
}

/// The emulator's deadline is 30 s after `/next`; a margin of 29.7 s leaves the handler 300 ms.
#[test]
fn the_deadline_guard_cancels_a_handler_at_its_margin_with_its_lines_written() {
    let api = Emulator::start();
    let function = Function::start(
        CONCURRENT,
        &api,
        &[
            ("LAMINA_DEADLINE_MARGIN_MS", "29700"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ],
    );
    let slow = api.enqueue(Event::json(r#"{"sleep_ms":10000}"#));
    let outcome = api.wait_outcome(&slow, Duration::from_secs(5));
    let posted = outcome
        .expect("cancelled well before the 10 s sleep")
        .error()
        .clone();
    assert_eq!(
        posted.error_type_header.as_deref(),
        Some("Runtime.HandlerTimeout")
    );
    let message = posted.document["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("ms before the invocation's deadline (LAMINA_DEADLINE_MARGIN_MS=29700)"),
        "{message}"
    );
    // The line the handler wrote before it was cancelled is out, with its request id.
    let started = format!(r#""requestId":"{slow}""#);
    let output = function.wait_output(&started);
    assert!(output.contains(&started), "{output}");
    // A quick one is untouched.
    assert_eq!(json(&api.invoke(Event::json("{}")))["peak"], json!(1));
}

#[test]
fn a_malformed_deadline_margin_is_an_init_error() {
    let api = Emulator::start();
    let mut function = Function::start(CONCURRENT, &api, &[("LAMINA_DEADLINE_MARGIN_MS", "soon")]);
    let posted = api.wait_init_error(WAIT).expect("an init error");
    assert_eq!(
        posted.error_type_header.as_deref(),
        Some("Runtime.InvalidConfig")
    );
    function.expect_exit();
}

#[test]
fn a_big_event_and_response_pass_intact() {
    let api = Emulator::start();
    let _function = Function::start(ECHO, &api, &[]);
    let big = format!(r#"{{"blob":"{}"}}"#, "é".repeat(2_500_000));
    assert_eq!(
        api.invoke(Event::json(big.clone())).response(),
        big.as_bytes()
    );
}

mod faults {
    use super::*;

    #[test]
    fn a_500_on_next_makes_the_process_exit_promptly_saying_why() {
        let api = Emulator::start();
        api.inject(Route::Next, Fault::Status(500));
        let mut function = Function::start(ECHO, &api, &[]);
        let status = function
            .wait_exit(Duration::from_secs(5))
            .expect("exits promptly");
        assert!(!status.success());
        let output = function.output();
        assert!(
            output.contains("the Runtime API answered `/2018-06-01/runtime/invocation/next` with 500 (the API's state cannot be recovered; the process exits so Lambda starts a new one)"),
            "{output}"
        );
    }

    #[test]
    fn a_500_on_response_makes_the_process_exit() {
        let api = Emulator::start();
        api.inject(Route::Response, Fault::Status(500));
        let mut function = Function::start(ECHO, &api, &[]);
        api.enqueue(Event::json("1"));
        assert!(!function.expect_exit().success());
        assert!(
            function.output().contains("with 500"),
            "{}",
            function.output()
        );
    }

    #[test]
    fn a_413_on_response_still_ends_the_invocation_with_a_readable_error() {
        oversized_response_is_a_readable_error(ECHO);
    }

    /// Review finding (issue 26, item 1): the Runtime API answers an oversized body with `413`
    /// once it has read its limit, closes its side and resets the connection; lamina wrote on,
    /// took the reset for a stale connection, sent the same body four more times and exited,
    /// so the caller saw `Runtime.ExitError` and the next invocation a cold start.
    #[test]
    fn a_413_sent_before_the_body_is_read_is_a_readable_error_and_the_function_serves_on() {
        let api = Emulator::start();
        api.set_response_limit(1000);
        let mut function = Function::start(ECHO, &api, &[]);
        let id = api.enqueue(Event::json(r#"{"bytes":6200000}"#));
        let outcome = api
            .wait_outcome(&id, WAIT)
            .unwrap_or_else(|| panic!("no outcome; output:\n{}", function.output()));
        assert_eq!(
            outcome.error().document["errorType"],
            "Function.ResponseSizeTooLarge",
            "{}",
            function.output()
        );
        assert_eq!(
            outcome.error().document["errorMessage"],
            "the response of 6200002 bytes is over Lambda's payload limit (6 MB for a synchronous call); return less, or store the data (in S3, say) and return where it is"
        );
        let posts = api
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(&format!("{id}/response")))
            .count();
        assert_eq!(posts, 1, "the refused body is not sent again");
        assert_eq!(
            api.invoke(Event::json(r#"{"bytes":3}"#)).response(),
            br#""xxx""#
        );
        assert!(function.is_running(), "{}", function.output());
    }

    /// A response over Lambda's own limit (6 MiB and 100 bytes) is failed without being sent.
    #[test]
    fn a_response_over_lambdas_limit_is_failed_without_being_posted() {
        let api = Emulator::start();
        let function = Function::start(ECHO, &api, &[]);
        // A JSON string of N bytes is N + 2 with its quotes: one byte over the limit, and at it.
        let over = Event::json(format!(r#"{{"bytes":{}}}"#, 6 * 1024 * 1024 + 100 - 1));
        let id = api.enqueue(over);
        let outcome = api
            .wait_outcome(&id, WAIT)
            .unwrap_or_else(|| panic!("no outcome; output:\n{}", function.output()));
        assert_eq!(
            outcome.error().document["errorType"],
            "Function.ResponseSizeTooLarge"
        );
        assert!(
            api.requests()
                .iter()
                .all(|r| !r.path.ends_with(&format!("{id}/response"))),
            "nothing was posted to /response"
        );
        let at = Event::json(format!(r#"{{"bytes":{}}}"#, 6 * 1024 * 1024 + 100 - 2));
        assert_eq!(api.invoke(at).response().len(), 6 * 1024 * 1024 + 100);
    }

    #[test]
    fn an_error_message_over_lambdas_limit_is_cut_and_still_reported() {
        let api = Emulator::start();
        let function = Function::start(ECHO, &api, &[]);
        let id = api.enqueue(Event::json(r#"{"fail_bytes":7000000}"#));
        let outcome = api
            .wait_outcome(&id, WAIT)
            .unwrap_or_else(|| panic!("no outcome; output:\n{}", function.output()));
        let document = &outcome.error().document;
        assert_eq!(document["errorType"], "Handler.Requested");
        let message = document["errorMessage"].as_str().unwrap();
        assert!(message.len() <= 16 * 1024, "{} bytes", message.len());
        assert!(message.starts_with("éé"), "{}", &message[..20]);
        assert!(
            message.ends_with("bytes cut)"),
            "{}",
            &message[message.len() - 40..]
        );
        // Still serving.
        assert_eq!(api.invoke(Event::json("1")).response(), b"1");
    }

    #[test]
    fn a_connection_dropped_before_next_answers_is_reestablished() {
        let api = Emulator::start();
        api.inject(Route::Next, Fault::DropBeforeAnswer);
        let _function = Function::start(ECHO, &api, &[]);
        let id = api.enqueue(Event::json("7"));
        assert_eq!(api.wait_outcome(&id, WAIT).unwrap().response(), b"7");
        assert_eq!(api.connections(), 2);
        assert_eq!(api.deliveries(&id), 1);
    }

    #[test]
    fn a_connection_dropped_in_the_middle_of_an_answer_is_reestablished() {
        let api = Emulator::start();
        api.inject(Route::Next, Fault::DropMidAnswer);
        api.inject(Route::Response, Fault::DropMidAnswer);
        let _function = Function::start(ECHO, &api, &[]);
        let id = api.enqueue(Event::json("8"));
        assert_eq!(api.wait_outcome(&id, WAIT).unwrap().response(), b"8");
        assert_eq!(api.outcomes(&id).len(), 1, "the response is recorded once");
        assert_eq!(api.connections(), 3);
    }

    #[test]
    fn a_keep_alive_connection_closed_while_idle_is_reestablished() {
        let api = Emulator::start();
        api.inject(Route::Response, Fault::CloseAfterAnswer);
        api.inject(Route::Error, Fault::CloseAfterAnswer);
        let _function = Function::start(ECHO, &api, &[]);
        assert_eq!(api.invoke(Event::json("1")).response(), b"1");
        let failed = api.invoke(Event::json(r#"{"fail":"x"}"#));
        assert_eq!(failed.error().document["errorType"], "Handler.Requested");
        assert_eq!(api.invoke(Event::json("3")).response(), b"3");
        assert_eq!(api.connections(), 3);
    }

    #[test]
    fn a_slow_next_is_waited_for() {
        let api = Emulator::start();
        api.inject(Route::Next, Fault::Delay(Duration::from_millis(1500)));
        let _function = Function::start(ECHO, &api, &[]);
        assert_eq!(api.invoke(Event::json("9")).response(), b"9");
        assert_eq!(api.connections(), 1);
    }

    #[test]
    fn a_refused_outcome_is_logged_and_the_loop_goes_on() {
        let api = Emulator::start();
        api.inject(Route::Response, Fault::Status(400));
        let function = Function::start(ECHO, &api, &[]);
        let id = api.enqueue(Event::json("1"));
        assert_eq!(api.invoke(Event::json("2")).response(), b"2");
        assert!(api.outcomes(&id).is_empty());
        let output = function.wait_output(&id);
        assert!(
            output.contains("the Runtime API refused the invocation's outcome"),
            "{output}"
        );
        assert!(output.contains(&id), "{output}");
    }

    #[test]
    fn an_invocation_without_a_request_id_is_skipped() {
        let api = Emulator::start();
        let function = Function::start(ECHO, &api, &[]);
        let lost = api.enqueue(Event::json("1").without("Lambda-Runtime-Aws-Request-Id"));
        assert_eq!(api.invoke(Event::json("2")).response(), b"2");
        assert!(api.outcomes(&lost).is_empty());
        let expected = "invocation skipped: the `lambda-runtime-aws-request-id` header is missing";
        let output = function.wait_output(expected);
        assert!(output.contains(expected), "{output}");
    }

    #[test]
    fn an_invocation_with_a_malformed_deadline_is_failed_not_run() {
        let api = Emulator::start();
        let _function = Function::start(ECHO, &api, &[]);
        let outcome = api.invoke(
            Event::json(r#"{"panic":"must not run"}"#).header("Lambda-Runtime-Deadline-Ms", "soon"),
        );
        assert_eq!(
            outcome.error().document,
            json!({
                "errorType": "Runtime.ApiError",
                "errorMessage": "the Runtime API's answer to `/2018-06-01/runtime/invocation/next` is unusable: invocation skipped: the `lambda-runtime-deadline-ms` header is not a number of epoch milliseconds"
            })
        );
    }

    #[test]
    fn an_api_that_goes_away_ends_the_process_after_retrying() {
        let api = Emulator::start();
        let mut function = Function::start(ECHO, &api, &[]);
        assert_eq!(api.invoke(Event::json("1")).response(), b"1");
        assert!(api.wait_next_polls(2, WAIT));
        drop(api);
        let status = function.wait_exit(Duration::from_secs(10)).expect("exits");
        assert!(!status.success());
        assert!(
            function.output().contains("exiting"),
            "{}",
            function.output()
        );
    }
}

mod exit {
    use super::*;

    #[test]
    fn exiting_after_an_init_error_does_not_wait_for_a_blocking_task() {
        let api = Emulator::start();
        let mut function = Function::start(BLOCKING_TASK, &api, &[("INIT_FAIL", "1")]);
        let posted = api.wait_init_error(EXIT_BOUND).unwrap_or_else(|| {
            panic!(
                "the init error waited for the blocking task; output:\n{}",
                function.output()
            )
        });
        assert_eq!(
            posted.document,
            json!({"errorType": "Init.ModelMissing", "errorMessage": "the model is not in the package"})
        );
        let status = function
            .wait_exit(EXIT_BOUND)
            .expect("the process exits without waiting for the blocking task");
        assert!(!status.success());
    }

    #[test]
    fn exiting_after_an_init_panic_does_not_wait_for_a_blocking_task() {
        let api = Emulator::start();
        let mut function = Function::start(BLOCKING_TASK, &api, &[("INIT_PANIC", "1")]);
        let posted = api.wait_init_error(EXIT_BOUND).unwrap_or_else(|| {
            panic!(
                "the init error waited for the blocking task; output:\n{}",
                function.output()
            )
        });
        assert_eq!(posted.document["errorType"], "Runtime.InitPanic");
        let status = function
            .wait_exit(EXIT_BOUND)
            .expect("the process exits without waiting for the blocking task");
        assert!(!status.success());
    }

    #[test]
    fn exiting_after_a_runtime_api_failure_does_not_wait_for_a_blocking_task() {
        let api = Emulator::start();
        api.inject(Route::Next, Fault::Status(500));
        let mut function = Function::start(BLOCKING_TASK, &api, &[]);
        assert!(
            api.wait_next_polls(1, WAIT),
            "init never finished; output:\n{}",
            function.output()
        );
        let status = function
            .wait_exit(EXIT_BOUND)
            .expect("the process exits without waiting for the blocking task");
        assert!(!status.success());
        assert!(
            function.output().contains("with 500"),
            "{}",
            function.output()
        );
    }
}

mod panic_abort {
    use super::*;

    #[test]
    fn a_handler_panic_is_reported_before_the_process_aborts() {
        let echo = abort_build("echo");
        let api = Emulator::start();
        let mut function = Function::start(&echo, &api, &[]);
        assert_eq!(api.invoke(Event::json("1")).response(), b"1");
        panic_is_reported_before_the_abort(&api, &mut function);
    }

    #[test]
    fn a_second_panic_while_the_first_is_reported_does_not_lose_the_report() {
        use std::os::unix::process::ExitStatusExt;
        let echo = abort_build("echo");
        let api = Emulator::start();
        // The report's first four connections are dropped: it is still being retried (for some
        // 150 ms) when the other thread panics, 50 ms after the handler.
        for _ in 0..4 {
            api.inject(Route::Error, Fault::DropBeforeAnswer);
        }
        let mut function = Function::start(&echo, &api, &[]);
        let id = api.enqueue(Event::json(r#"{"panic_twice":"the first panic"}"#));
        let posted = api.wait_outcome(&id, WAIT).unwrap_or_else(|| {
            panic!(
                "the first panic's report was lost; output:\n{}",
                function.output()
            )
        });
        let message = posted.error().document["errorMessage"].as_str().unwrap();
        assert!(
            message.starts_with("handler panicked: the first panic at "),
            "{message}"
        );
        let status = function.expect_exit();
        assert_eq!(status.signal(), Some(6), "SIGABRT");
        assert_eq!(api.outcomes(&id).len(), 1, "reported once");
        assert!(
            function.output().contains("the second panic"),
            "{}",
            function.output()
        );
    }

    #[test]
    fn an_init_panic_is_reported_before_the_process_aborts() {
        let stateful = abort_build("stateful");
        let api = Emulator::start();
        let mut function = Function::start(
            &stateful,
            &api,
            &[("STATE_LABEL", "x"), ("INIT_PANIC", "1")],
        );
        let posted = api.wait_init_error(WAIT).expect("the panic is reported");
        assert_eq!(
            posted.error_type_header.as_deref(),
            Some("Runtime.InitPanic")
        );
        assert!(!function.expect_exit().success());
    }
}
