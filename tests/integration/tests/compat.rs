//! `lamina::compat::run`: a function written for lambda_runtime (its README's shape, in
//! src/bin/compat_readme.rs) served by lamina's loop passes the same end-to-end cases as a
//! `#[lamina::handler]` function.

mod support;

use std::path::Path;

use serde_json::json;
use support::*;

const README: &str = env!("CARGO_BIN_EXE_compat_readme");

#[test]
fn a_lambda_runtime_readme_function_is_served_on_one_connection() {
    let api = Emulator::start();
    let mut function = Function::start(README, &api, &[]);
    let mut last = String::new();
    for i in 0..20 {
        let id = api.enqueue(Event::json(format!(r#"{{"firstName":"n{i}"}}"#)));
        let outcome = api.wait_outcome(&id, WAIT).expect("an outcome");
        assert_eq!(
            outcome.response(),
            format!(r#"{{"message":"Hello, n{i}!"}}"#).as_bytes()
        );
        last = id;
    }
    let posts = api.requests().into_iter().filter(|r| r.method == "POST");
    assert_eq!(posts.count(), 20);
    assert_eq!(
        api.connections(),
        1,
        "one keep-alive connection for the run"
    );
    // lamina's log lines, with the invocation's request id.
    let output = function.wait_output(&format!("INFO {last} greeting first_name=\"n19\""));
    assert!(
        output.contains(&format!("INFO {last} greeting first_name=\"n19\"")),
        "{output}"
    );
    assert!(function.is_running());
}

#[test]
fn a_service_future_runs_on_the_callers_runtime_with_its_timers_and_tasks() {
    let api = Emulator::start();
    let _function = Function::start(README, &api, &[]);
    let outcome = api.invoke(Event::json(r#"{"sleep_ms":20}"#));
    assert_eq!(json(&outcome), json!({"slept_ms": 20, "spawned": 40}));
}

#[test]
fn lambda_runtime_errors_post_readable_error_documents() {
    let api = Emulator::start();
    let _function = Function::start(README, &api, &[]);
    let outcome = api.invoke(Event::json(r#"{"fail":"order 42 does not exist"}"#));
    assert_eq!(
        outcome.error(),
        &Posted {
            error_type_header: Some("Function.Error".into()),
            platform_error_type: "Function.Error".into(),
            document: json!({"errorType": "Handler.Error", "errorMessage": "order 42 does not exist"}),
        }
    );
    // A `ParseIntError` through `?` into `lambda_runtime::Error`: named by its root cause.
    let outcome = api.invoke(Event::json(r#"{"parse":"many"}"#));
    assert_eq!(
        outcome.error(),
        &Posted {
            error_type_header: Some("Function.ParseIntError".into()),
            platform_error_type: "Function.ParseIntError".into(),
            document: json!({"errorType": "Handler.ParseIntError", "errorMessage": "invalid digit found in string"}),
        }
    );
    // An event `LambdaEvent<T>` cannot take: lamina's decoding error, the service not called.
    let outcome = api.invoke(Event::json("{not json"));
    assert_eq!(
        outcome.error().document["errorType"],
        json!("Runtime.InvalidEvent")
    );
    assert_eq!(api.invoke(Event::json(r#"{"parse":"7"}"#)).response(), b"7");
}

#[test]
fn a_panic_under_unwind_is_a_handler_panic_and_the_loop_goes_on() {
    let api = Emulator::start();
    let mut function = Function::start(README, &api, &[]);
    let outcome = api.invoke(Event::json(r#"{"panic":"boom"}"#));
    let posted = outcome.error();
    assert_eq!(
        posted.error_type_header.as_deref(),
        Some("Runtime.HandlerPanic")
    );
    let message = posted.document["errorMessage"].as_str().unwrap();
    assert!(
        message
            .starts_with("handler panicked: boom at tests/integration/src/bin/compat_readme.rs:"),
        "{message}"
    );
    assert_eq!(
        api.invoke(Event::json(r#"{"firstName":"again"}"#))
            .response(),
        br#"{"message":"Hello, again!"}"#
    );
    assert!(function.is_running());
    assert_eq!(api.connections(), 1);
}

#[test]
fn an_oversized_response_is_function_response_size_too_large() {
    oversized_response_is_a_readable_error(README);
}

#[test]
fn every_context_field_arrives_in_the_lambda_runtime_context() {
    let api = Emulator::start();
    let _function = Function::start(README, &api, &[]);
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let outcome = api.invoke(
        Event::json(r#"{"context":true}"#)
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
    // lambda_runtime's own serde form of its `Context`.
    assert_eq!(
        json(&outcome),
        json!({
            "context": {
                "request_id": "c0ffee00-0000-4000-8000-000000000001",
                "deadline": 4102444800000u64,
                "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:emulated",
                "xray_trace_id": trace,
                "client_context": {
                    "client": {"installationId": "inst", "appTitle": "Shop", "appVersionName": "2.1", "appVersionCode": "21", "appPackageName": "com.example.shop"},
                    "custom": {"cart": "7"},
                    "environment": {"locale": "en_GB"}
                },
                "identity": {"identityId": "eu-west-1:abcd", "identityPoolId": "eu-west-1:pool"},
                "tenant_id": "tenant-a",
                "env_config": {
                    "function_name": "orders",
                    "memory": 256,
                    "version": "$LATEST",
                    "log_stream": "2026/11/23/[$LATEST]0123456789abcdef",
                    "log_group": "/aws/lambda/orders"
                }
            },
            "trace_env": trace,
        })
    );
    let outcome = api
        .invoke(Event::json(r#"{"context":true}"#).without("Lambda-Runtime-Invoked-Function-Arn"));
    let seen = json(&outcome);
    for field in ["xray_trace_id", "client_context", "identity", "tenant_id"] {
        assert_eq!(seen["context"][field], json!(null), "{field}");
    }
    assert_eq!(seen["context"]["invoked_function_arn"], json!(""));
    assert_eq!(seen["trace_env"], json!(null));
}

#[test]
fn without_a_runtime_api_it_runs_one_local_invocation() {
    let run = |stdin: &[u8]| {
        let mut function = Function::spawn(Path::new(README), &[], &[], Some(stdin));
        let code = function.expect_exit().code();
        (code, function.output())
    };
    let (code, output) = run(br#"{"firstName":"local"}"#);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output
            .lines()
            .any(|l| l == r#"{"message":"Hello, local!"}"#),
        "{output}"
    );
    let (code, output) = run(br#"{"fail":"no stock"}"#);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output
            .lines()
            .any(|l| l == r#"[stderr] {"errorType":"Handler.Error","errorMessage":"no stock"}"#),
        "{output}"
    );
    assert!(!output.contains("Error:"), "reported once: {output}");
    // A command line it cannot run: lamina's usage error and status, as a `#[handler]` binary.
    let mut function = Function::spawn(Path::new(README), &[], &["--evnt", "x"], None);
    assert_eq!(function.expect_exit().code(), Some(2));
    assert!(
        function
            .output()
            .starts_with("[stderr] error: unknown argument `--evnt`\n"),
        "{}",
        function.output()
    );
}

mod panic_abort {
    use super::*;

    #[test]
    fn a_panic_under_abort_is_reported_before_the_process_aborts() {
        let readme = abort_build("compat_readme");
        let api = Emulator::start();
        let mut function = Function::start(&readme, &api, &[]);
        assert_eq!(
            api.invoke(Event::json(r#"{"firstName":"a"}"#)).response(),
            br#"{"message":"Hello, a!"}"#
        );
        panic_is_reported_before_the_abort(&api, &mut function);
    }
}

#[test]
fn a_current_thread_runtime_is_refused_with_what_to_do_before_any_request() {
    let api = Emulator::start();
    let mut function = Function::start(env!("CARGO_BIN_EXE_compat_current_thread"), &api, &[]);
    let status = function.expect_exit();
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        function.output(),
        "[stderr] Error: `lamina::compat::run` was awaited on tokio's current-thread runtime, \
         which cannot run the service's I/O while lamina's loop blocks its only thread on the \
         Runtime API; use `#[tokio::main]` without `flavor = \"current_thread\"`\n"
    );
    assert!(api.requests().is_empty());
}
