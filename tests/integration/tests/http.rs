//! HTTP functions end to end: each source's event through a lamina HTTP function under the
//! Runtime API emulator, and the exact response document it posts; once for a plain handler
//! (`http_echo`, which answers with the request it got) and once for the axum example.

mod support;

use serde_json::{Value, json};
use support::*;

const ECHO: &str = env!("CARGO_BIN_EXE_http_echo");
const AXUM: &str = env!("CARGO_BIN_EXE_axum_example");

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/events/http/",
            $name
        ))
    };
}

/// Runs `events` through one process of `binary` and returns each outcome.
fn run(binary: &str, env: &[(&str, &str)], events: &[&str]) -> Vec<Outcome> {
    let api = Emulator::start();
    let _function = Function::start(binary, &api, env);
    events
        .iter()
        .map(|event| api.invoke(Event::json(*event)))
        .collect()
}

/// The echo function's response document for a JSON body `echoed`, in `source`'s shape.
fn echoed(shape: &str, echoed: Value) -> String {
    let body = serde_json::to_string(&echoed.to_string()).unwrap();
    let (head, headers) = match shape {
        "rest" | "alb-multi" => (
            "",
            r#""multiValueHeaders":{"content-type":["application/json"]}"#,
        ),
        "2.0" => (
            "",
            r#""headers":{"content-type":"application/json"},"cookies":[]"#,
        ),
        _ => ("", r#""headers":{"content-type":"application/json"}"#),
    };
    let status = if shape.starts_with("alb") {
        r#""statusCode":200,"statusDescription":"200 OK""#
    } else {
        r#""statusCode":200"#
    };
    format!(r#"{head}{{{status},{headers},"body":{body},"isBase64Encoded":false}}"#)
}

/// An event `fixture` with its path (and route) replaced by `path`, for the echo function's
/// special paths.
fn with_path(fixture: &str, path: &str) -> String {
    let mut event: Value = serde_json::from_str(fixture).unwrap();
    for field in ["path", "rawPath"] {
        if event.get(field).is_some() {
            event[field] = json!(path);
        }
    }
    event["resource"] = json!(path);
    if event.get("routeKey").is_some() {
        event["routeKey"] = json!("$default");
    }
    if let Some(context) = event.get_mut("requestContext") {
        context["path"] = json!(path);
    }
    event.to_string()
}

#[test]
fn every_source_gets_the_request_and_an_answer_in_its_own_shape() {
    let cases = [
        (
            fixture!("rest-stage.json"),
            "rest",
            json!({"body":"","body_len":0,"client_path":"/prod/orders/42","cookies":[],"method":"GET",
                   "path":"/orders/42","query":"color=red&color=dark%20blue&size=L",
                   "source":"API Gateway REST API (payload 1.0)"}),
        ),
        (
            fixture!("rest-custom-domain.json"),
            "rest",
            json!({"body":"{\"qty\":2}","body_len":9,"client_path":"/shop/items/blue%20hat",
                   "cookies":["session=abc; theme=dark"],"method":"POST","path":"/items/blue%20hat",
                   "query":null,"source":"API Gateway REST API (payload 1.0)"}),
        ),
        (
            fixture!("http-api-stage.json"),
            "2.0",
            json!({"body":"","body_len":0,"client_path":"/prod/orders/42",
                   "cookies":["session=abc; theme=dark"],"method":"GET","path":"/orders/42",
                   "query":"color=red&color=dark%20blue&q=a%2Bb",
                   "source":"API Gateway HTTP API (payload 2.0)"}),
        ),
        (
            fixture!("function-url.json"),
            "2.0",
            json!({"body":"hello","body_len":5,"client_path":"/greet/Ada%20L","cookies":["a=1"],
                   "method":"POST","path":"/greet/Ada%20L","query":"lang=en&lang=fr",
                   "source":"Lambda Function URL"}),
        ),
        (
            fixture!("alb-single.json"),
            "alb",
            json!({"body":"","body_len":0,"client_path":"/greet","cookies":["theme=dark"],
                   "method":"GET","path":"/greet","query":"q=100%25%20sure&name=Ada+Lovelace",
                   "source":"Application Load Balancer"}),
        ),
        (
            fixture!("alb-multi.json"),
            "alb-multi",
            json!({"body":"","body_len":0,"client_path":"/greet","cookies":["session=abc","theme=dark"],
                   "method":"GET","path":"/greet","query":"color=red&color=dark%20blue",
                   "source":"Application Load Balancer (multi-value headers)"}),
        ),
        (
            fixture!("lattice-v2.json"),
            "lattice",
            json!({"body":"","body_len":0,"client_path":"/inventory/sku-9","cookies":[],
                   "method":"GET","path":"/inventory/sku-9","query":"fields=name&fields=qty",
                   "source":"VPC Lattice (event structure v2)"}),
        ),
    ];
    let events: Vec<&str> = cases.iter().map(|(event, _, _)| *event).collect();
    let outcomes = run(ECHO, &[], &events);
    for ((event, shape, expected), outcome) in cases.iter().zip(&outcomes) {
        let response = String::from_utf8(outcome.response().to_vec()).unwrap();
        assert_eq!(
            response,
            echoed(shape, expected.clone()),
            "for the event {}",
            &event[..80]
        );
    }
}

#[test]
fn a_binary_body_round_trips_byte_for_byte() {
    let outcomes = run(
        ECHO,
        &[],
        &[
            fixture!("http-api-default.json"),
            &with_path(fixture!("rest-stage.json"), "/x/binary"),
        ],
    );
    let request: Value = serde_json::from_slice(outcomes[0].response()).unwrap();
    let echoed: Value = serde_json::from_str(request["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["body_len"], 8, "the request body, base64-decoded");
    assert_eq!(
        String::from_utf8(outcomes[1].response().to_vec()).unwrap(),
        r#"{"statusCode":200,"multiValueHeaders":{"content-type":["image/png"]},"body":"iVBORwD/","isBase64Encoded":true}"#
    );
}

#[test]
fn two_set_cookie_headers_survive_in_every_source_that_can_carry_them() {
    let events = [
        with_path(fixture!("rest-stage.json"), "/cookies"),
        with_path(fixture!("http-api-stage.json"), "/cookies"),
        with_path(fixture!("function-url.json"), "/cookies"),
        with_path(fixture!("alb-multi.json"), "/cookies"),
        with_path(fixture!("alb-single.json"), "/cookies"),
    ];
    let api = Emulator::start();
    let function = Function::start(ECHO, &api, &[]);
    let answers: Vec<String> = events
        .iter()
        .map(|event| {
            let outcome = api.invoke(Event::json(event.as_str()));
            String::from_utf8(outcome.response().to_vec()).unwrap()
        })
        .collect();
    let multi =
        r#""multiValueHeaders":{"set-cookie":["session=new; HttpOnly","theme=light; Path=/"]}"#;
    let v2 = r#"{"statusCode":204,"headers":{},"cookies":["session=new; HttpOnly","theme=light; Path=/"],"body":"","isBase64Encoded":false}"#;
    assert_eq!(
        answers[0],
        format!(r#"{{"statusCode":204,{multi},"body":"","isBase64Encoded":false}}"#)
    );
    assert_eq!(answers[1], v2);
    assert_eq!(answers[2], v2);
    assert_eq!(
        answers[3],
        format!(
            r#"{{"statusCode":204,"statusDescription":"204 No Content",{multi},"body":"","isBase64Encoded":false}}"#
        )
    );
    // A single-value target group can carry one cookie: the first goes, and the log says why.
    assert_eq!(
        answers[4],
        r#"{"statusCode":204,"statusDescription":"204 No Content","headers":{"set-cookie":"session=new; HttpOnly"},"body":"","isBase64Encoded":false}"#
    );
    let logs = function.wait_output("lambda.multi_value_headers.enabled");
    assert!(logs.contains("dropped=1"), "{logs}");
}

#[test]
fn a_handler_error_fails_the_invocation_or_answers_500_when_asked() {
    let event = with_path(fixture!("http-api-stage.json"), "/fail");
    let failed = run(ECHO, &[], &[&event]).remove(0);
    let document = &failed.error().document;
    assert_eq!(document["errorType"], "OrderNotFound");
    assert_eq!(document["errorMessage"], "order 7 does not exist");

    let api = Emulator::start();
    let function = Function::start(ECHO, &api, &[("LAMINA_HTTP_ERRORS", "500")]);
    let outcome = api.invoke(Event::json(event.as_str()).request_id("req-500"));
    let response: Value = serde_json::from_slice(outcome.response()).unwrap();
    assert_eq!(response["statusCode"], 500);
    assert_eq!(
        response["headers"]["content-type"],
        "application/problem+json"
    );
    let problem: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(problem["status"], 500);
    assert_eq!(problem["requestId"], "req-500");
    assert!(
        !response["body"].as_str().unwrap().contains("order 7"),
        "the error's message is for the logs, not the client"
    );
    let logs = function.wait_output("order 7 does not exist");
    assert!(logs.contains("LAMINA_HTTP_ERRORS=500"), "{logs}");
}

#[test]
fn the_client_path_is_one_setting_away() {
    let outcome = run(
        ECHO,
        &[("LAMINA_HTTP_PATH", "client")],
        &[fixture!("http-api-stage.json")],
    )
    .remove(0);
    let response: Value = serde_json::from_slice(outcome.response()).unwrap();
    let echoed: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["path"], "/prod/orders/42");
}

#[test]
fn a_setting_lamina_does_not_know_fails_init() {
    let api = Emulator::start();
    let mut function = Function::start(ECHO, &api, &[("LAMINA_HTTP_PATH", "stage")]);
    let posted = api.wait_init_error(WAIT).expect("an init error");
    function.expect_exit();
    assert_eq!(posted.document["errorType"], "Runtime.InvalidConfig");
    let message = posted.document["errorMessage"].as_str().unwrap();
    assert!(message.contains("LAMINA_HTTP_PATH"), "{message}");
    assert!(message.contains("`client`"), "{message}");
}

#[test]
fn an_event_from_no_http_source_is_an_invalid_event_naming_what_was_tried() {
    let outcome = run(
        ECHO,
        &[],
        &[fixture!("not-http.json"), fixture!("rest-stage.json")],
    );
    let document = &outcome[0].error().document;
    assert_eq!(document["errorType"], "Runtime.InvalidEvent");
    let message = document["errorMessage"].as_str().unwrap();
    for source in [
        "API Gateway REST",
        "HTTP APIs",
        "Function URLs",
        "ALB",
        "VPC Lattice",
    ] {
        assert!(message.contains(source), "{source} missing from: {message}");
    }
    // The function goes on serving.
    assert!(!outcome[1].response().is_empty());
}

#[test]
fn axum_routes_extractors_and_state_work_unchanged() {
    let post = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/orders", "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws"},
        "requestContext": {"domainName": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws",
                           "http": {"method": "POST"}, "stage": "$default"},
        "body": "eyJza3UiOiJoYXQiLCJxdHkiOjN9", "isBase64Encoded": true
    })
    .to_string();
    let rest_order = {
        let mut event: Value = serde_json::from_str(fixture!("rest-stage.json")).unwrap();
        event["multiValueQueryStringParameters"] = json!({"fields": ["name,qty"]});
        event.to_string()
    };
    let events = [
        fixture!("http-api-stage.json").to_owned(),
        rest_order,
        post,
        with_path(fixture!("function-url.json"), "/logo.png").replace("\"POST\"", "\"GET\""),
        with_path(fixture!("http-api-stage.json"), "/login").replace("\"GET\"", "\"POST\""),
        with_path(fixture!("alb-single.json"), "/nowhere"),
        with_path(fixture!("alb-single.json"), "/orders/not-a-number"),
    ];
    let events: Vec<&str> = events.iter().map(String::as_str).collect();
    let answers: Vec<String> = run(AXUM, &[], &events)
        .iter()
        .map(|outcome| String::from_utf8(outcome.response().to_vec()).unwrap())
        .collect();
    assert_eq!(
        answers[0],
        r#"{"statusCode":200,"headers":{"content-type":"application/json","content-length":"40"},"cookies":[],"body":"{\"id\":42,\"currency\":\"EUR\",\"fields\":null}","isBase64Encoded":false}"#
    );
    assert_eq!(
        answers[1],
        r#"{"statusCode":200,"multiValueHeaders":{"content-type":["application/json"],"content-length":["46"]},"body":"{\"id\":42,\"currency\":\"EUR\",\"fields\":\"name,qty\"}","isBase64Encoded":false}"#
    );
    assert_eq!(
        answers[2],
        r#"{"statusCode":201,"headers":{"content-type":"application/json","content-length":"21"},"cookies":[],"body":"{\"sku\":\"hat\",\"qty\":3}","isBase64Encoded":false}"#
    );
    assert_eq!(
        answers[3],
        r#"{"statusCode":200,"headers":{"content-type":"image/png","content-length":"6"},"cookies":[],"body":"iVBORwD/","isBase64Encoded":true}"#
    );
    assert_eq!(
        answers[4],
        r#"{"statusCode":200,"headers":{"content-type":"text/plain; charset=utf-8","content-length":"7"},"cookies":["session=new; HttpOnly","theme=light; Path=/"],"body":"welcome","isBase64Encoded":false}"#
    );
    assert_eq!(
        answers[5],
        r#"{"statusCode":404,"statusDescription":"404 Not Found","headers":{},"body":"","isBase64Encoded":false}"#
    );
    let rejected: Value = serde_json::from_str(&answers[6]).unwrap();
    assert_eq!(rejected["statusCode"], 400, "{rejected}");
}

#[test]
fn local_invoke_of_the_axum_example_prints_the_response() {
    let output = std::process::Command::new(AXUM)
        .args([
            "--event",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/axum/event.json"
            ),
        ])
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .expect("run the example");
    assert!(output.status.success(), "{output:?}");
    let response: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(response["statusCode"], 200);
    assert_eq!(
        response["body"],
        r#"{"id":42,"currency":"EUR","fields":"name,qty"}"#
    );
}

#[test]
fn a_panic_is_reported_and_the_function_goes_on_or_aborts_after_reporting() {
    use std::os::unix::process::ExitStatusExt;
    let panic = with_path(fixture!("http-api-stage.json"), "/panic");
    let outcomes = run(ECHO, &[], &[&panic, fixture!("rest-stage.json")]);
    let message = outcomes[0].error().document["errorMessage"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        outcomes[0].error().document["errorType"],
        "Runtime.HandlerPanic"
    );
    assert!(
        message.starts_with("handler panicked: boom at "),
        "{message}"
    );
    assert!(
        !outcomes[1].response().is_empty(),
        "under unwind the function goes on"
    );

    let api = Emulator::start();
    let mut function = Function::start(abort_build("http_echo"), &api, &[]);
    let id = api.enqueue(Event::json(panic.as_str()));
    let posted = api.wait_outcome(&id, WAIT).expect("the panic is reported");
    assert_eq!(
        posted.error().error_type_header.as_deref(),
        Some("Runtime.HandlerPanic")
    );
    assert_eq!(
        function.expect_exit().signal(),
        Some(6),
        "SIGABRT after the report"
    );
}
