//! Typed events end to end: each fixture event through a lamina function under the Runtime API
//! emulator, and the exact response JSON it posts.

mod support;

use serde_json::json;
use support::*;

const ALB: &str = env!("CARGO_BIN_EXE_events_alb");
const S3: &str = env!("CARGO_BIN_EXE_events_s3");
const SQS: &str = env!("CARGO_BIN_EXE_events_sqs");
const KINESIS: &str = env!("CARGO_BIN_EXE_events_kinesis");

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/events/",
            $name
        ))
    };
}

/// The response document the ALB function writes: `headers` is the header map's JSON, as
/// `"headers":{...}` or `"multiValueHeaders":{...}`.
fn alb_response(headers: &str, body: &str) -> String {
    format!(
        r#"{{"statusCode":200,"statusDescription":"200 OK",{headers},"body":{},"isBase64Encoded":false}}"#,
        serde_json::to_string(body).unwrap()
    )
}

/// Invokes `binary` once with `event` and returns the response body as text.
fn invoke(binary: &str, extra: &[(&str, &str)], event: &str) -> String {
    let api = Emulator::start();
    let _function = Function::start(binary, &api, extra);
    let outcome = api.invoke(Event::json(event));
    String::from_utf8(outcome.response().to_vec()).expect("a UTF-8 response")
}

#[test]
fn alb_single_value_request_gets_a_single_value_response() {
    let response = invoke(ALB, &[], fixture!("alb-single.json"));
    let body = r#"{"body_len":17,"body_text":"{\"greeting\":\"hi\"}","method":"POST","query":[["name","Ada Lovelace"],["q","100% sure"],["tag","c++"]],"uri":"/greet?name=Ada+Lovelace&q=100%25+sure&tag=c%2B%2B","user_agent":"curl/8.5.0"}"#;
    assert_eq!(
        response,
        alb_response(r#""headers":{"content-type":"application/json"}"#, body)
    );
}

#[test]
fn alb_multi_value_request_gets_a_multi_value_response() {
    let response = invoke(ALB, &[], fixture!("alb-multi.json"));
    let body = r#"{"body_len":0,"body_text":"","method":"GET","query":[["color","red"],["color","dark blue"],["é","ü"]],"uri":"/colors?%C3%A9=%C3%BC&color=red&color=dark%20blue","user_agent":"Mozilla/5.0 (X11; Linux x86_64)"}"#;
    assert_eq!(
        response,
        alb_response(
            r#""multiValueHeaders":{"content-type":["application/json"]}"#,
            body
        )
    );
}

#[test]
fn alb_binary_bodies_are_decoded_and_binary_responses_encoded() {
    let response = invoke(ALB, &[], fixture!("alb-binary.json"));
    let body = r#"{"body_len":10,"body_text":null,"method":"POST","query":[],"uri":"/upload","user_agent":"curl/8.5.0"}"#;
    assert_eq!(
        response,
        alb_response(r#""headers":{"content-type":"application/json"}"#, body)
    );

    let mut request: serde_json::Value = serde_json::from_str(fixture!("alb-empty.json")).unwrap();
    request["path"] = json!("/binary");
    assert_eq!(
        invoke(ALB, &[], &request.to_string()),
        r#"{"statusCode":200,"statusDescription":"200 OK","headers":{"content-type":"application/octet-stream"},"body":"3q2+7w==","isBase64Encoded":true}"#
    );
}

#[test]
fn alb_empty_body_and_cookies_in_both_modes() {
    let mut single: serde_json::Value = serde_json::from_str(fixture!("alb-empty.json")).unwrap();
    single["path"] = json!("/cookies");
    assert_eq!(
        invoke(ALB, &[], &single.to_string()),
        r#"{"statusCode":204,"statusDescription":"204 No Content","headers":{"set-cookie":"a=1"},"body":"","isBase64Encoded":false}"#
    );
    let mut multi: serde_json::Value = serde_json::from_str(fixture!("alb-multi.json")).unwrap();
    multi["path"] = json!("/cookies");
    assert_eq!(
        invoke(ALB, &[], &multi.to_string()),
        r#"{"statusCode":204,"statusDescription":"204 No Content","multiValueHeaders":{"set-cookie":["a=1","b=2"]},"body":"","isBase64Encoded":false}"#
    );
}

#[test]
fn alb_bad_base64_body_is_answered_with_400() {
    let mut request: serde_json::Value = serde_json::from_str(fixture!("alb-binary.json")).unwrap();
    request["body"] = json!("***");
    assert_eq!(
        invoke(ALB, &[], &request.to_string()),
        r#"{"statusCode":400,"statusDescription":"400 Bad Request","headers":{"content-type":"text/plain; charset=utf-8"},"body":"the request body is marked `isBase64Encoded` but is not valid base64 (Invalid symbol 42, offset 0.); ALB encodes bodies itself, so check what produced this event","isBase64Encoded":false}"#
    );
}

#[test]
fn s3_keys_are_decoded_or_explained() {
    let response = invoke(S3, &[], fixture!("s3-keys.json"));
    let expected = json!([
        {"bucket": "lamina-reports", "key": {"key": "reports/Q1 2026.pdf"}, "size": 1024,
         "version_id": "096fKKXTRTtl3on89fVO.nfljtsv6qko", "category": "Created"},
        {"bucket": "lamina-reports", "key": {"key": "math/1+1=2.txt"}, "size": 11,
         "version_id": "096fKKXTRTtl3on89fVO.nfljtsv6qko", "category": "Created"},
        {"bucket": "lamina-reports", "key": {"key": "photos/café/日本 😀.jpg"}, "size": 12,
         "version_id": "096fKKXTRTtl3on89fVO.nfljtsv6qko", "category": "Created"},
        {"bucket": "lamina-reports", "key": {"key": "literal/a%2Bb means a+b"}, "size": 13,
         "version_id": "096fKKXTRTtl3on89fVO.nfljtsv6qko", "category": "Created"},
        {"bucket": "lamina-reports", "key": {"error": "the S3 object key `broken/100%.txt` has a `%` at byte 10 that is not followed by two hex digits; S3 sends keys URL-encoded, so the key was changed on the way: pass the event on unmodified"},
         "size": 5, "version_id": null, "category": "Created"},
        {"bucket": "lamina-reports", "key": {"error": "the S3 object key `latin1/caf%E9.txt` decodes to bytes that are not UTF-8 (byte 10 of the decoded key); read it with `key_bytes()` instead"},
         "size": 7, "version_id": null, "category": "Created"},
    ]);
    assert_eq!(response, expected.to_string());
    assert_eq!(
        invoke(S3, &[], fixture!("s3-removed.json")),
        r#"[{"bucket":"lamina-reports","category":"Removed","key":{"key":"old/report.csv"},"size":null,"version_id":"096fKKXTRTtl3on89fVO.nfljtsv6qko"}]"#
    );
}

#[test]
fn sqs_standard_batch_reports_exactly_the_failed_messages() {
    // m-2 is not JSON, m-3 is rejected by the handler, m-4 has the wrong shape, m-6 panics.
    assert_eq!(
        invoke(SQS, &[], fixture!("sqs-standard.json")),
        r#"{"batchItemFailures":[{"itemIdentifier":"m-2"},{"itemIdentifier":"m-3"},{"itemIdentifier":"m-4"},{"itemIdentifier":"m-6"}]}"#
    );
}

#[test]
fn sqs_failures_are_logged_by_id_without_the_body() {
    let api = Emulator::start();
    let function = Function::start(SQS, &api, &[]);
    api.invoke(Event::json(fixture!("sqs-standard.json")));
    let output = function.wait_output("message_id=\"m-6\"");
    for id in ["m-2", "m-3", "m-4", "m-6"] {
        assert_eq!(
            output.matches(&format!("message_id=\"{id}\"")).count(),
            1,
            "one line for {id}:\n{output}"
        );
    }
    assert!(
        output.contains("order o-3 has no items (EmptyOrder)"),
        "{output}"
    );
    assert!(
        !output.contains("hello, this is not JSON"),
        "the body leaked:\n{output}"
    );
    assert!(!output.contains("three"), "the body leaked:\n{output}");
}

#[test]
fn sqs_fifo_batch_stops_at_the_first_failure() {
    let mut batch: serde_json::Value = serde_json::from_str(fixture!("sqs-fifo.json")).unwrap();
    batch["Records"][1]["body"] = json!(r#"{"id":"o-2","qty":0}"#);
    assert_eq!(
        invoke(SQS, &[], &batch.to_string()),
        r#"{"batchItemFailures":[{"itemIdentifier":"f-2"},{"itemIdentifier":"f-3"},{"itemIdentifier":"f-4"},{"itemIdentifier":"f-5"}]}"#
    );
    assert_eq!(
        invoke(SQS, &[], fixture!("sqs-fifo.json")),
        r#"{"batchItemFailures":[]}"#
    );
}

#[test]
fn sqs_panic_under_abort_fails_the_whole_invocation() {
    let binary = abort_build("events_sqs");
    let api = Emulator::start();
    let mut function = Function::start(&binary, &api, &[]);
    let outcome = api.invoke(Event::json(fixture!("sqs-standard.json")));
    let posted = outcome.error();
    assert_eq!(
        posted.error_type_header.as_deref(),
        Some("Runtime.HandlerPanic")
    );
    let message = posted.document["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("handler panicked: order o-6 exploded at "),
        "{message}"
    );
    function.expect_exit();
}

#[test]
fn kinesis_stops_at_the_first_failure() {
    // Record 3 has invalid base64: it fails, and Lambda redelivers it and everything after it.
    assert_eq!(
        invoke(KINESIS, &[], fixture!("kinesis-clicks.json")),
        r#"{"batchItemFailures":[{"itemIdentifier":"49590338271490256608559692538361571095921575989136580003"}]}"#
    );
}

#[test]
fn kinesis_can_go_on_and_report_every_failure() {
    // 3: invalid base64, 4: not JSON, 5: the handler fails.
    assert_eq!(
        invoke(
            KINESIS,
            &[("CONTINUE", "1")],
            fixture!("kinesis-clicks.json")
        ),
        r#"{"batchItemFailures":[{"itemIdentifier":"49590338271490256608559692538361571095921575989136580003"},{"itemIdentifier":"49590338271490256608559692538361571095921575989136580004"},{"itemIdentifier":"49590338271490256608559692538361571095921575989136580005"}]}"#
    );
}
