//! Typed events end to end: each fixture event through a lamina function under the Runtime API
//! emulator, and the exact response JSON it posts.

mod support;

use serde_json::json;
use support::*;

const ALB: &str = env!("CARGO_BIN_EXE_events_alb");
const S3: &str = env!("CARGO_BIN_EXE_events_s3");
const SQS: &str = env!("CARGO_BIN_EXE_events_sqs");
const KINESIS: &str = env!("CARGO_BIN_EXE_events_kinesis");
const DYNAMODB: &str = env!("CARGO_BIN_EXE_events_dynamodb");
const DYNAMODB_EXAMPLE: &str = env!("CARGO_BIN_EXE_dynamodb_example");
const SNS: &str = env!("CARGO_BIN_EXE_events_sns");
const EVENTBRIDGE_EXAMPLE: &str = env!("CARGO_BIN_EXE_eventbridge_example");

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

/// The `event.json` of an example, as its doc comment tells readers to run it.
macro_rules! example_event {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/",
            $name,
            "/event.json"
        ))
    };
}

/// Invokes `binary` once with `event` and returns the error it posted: the
/// `Lambda-Runtime-Function-Error-Type` header, then the document's `errorType` and
/// `errorMessage`.
fn invoke_error(binary: &str, event: &str) -> (String, String, String) {
    let api = Emulator::start();
    let _function = Function::start(binary, &api, &[]);
    let outcome = api.invoke(Event::json(event));
    let posted = outcome.error();
    let field = |name: &str| posted.document[name].as_str().unwrap().to_owned();
    (
        posted.error_type_header.clone().unwrap(),
        field("errorType"),
        field("errorMessage"),
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

/// A DynamoDB stream sequence number of the fixtures, by record.
fn ddb_seq(i: u32) -> String {
    format!("4421584500000000017450439{i:03}")
}

fn ddb_failures(ids: &[u32]) -> String {
    let items: Vec<String> = ids
        .iter()
        .map(|&i| format!(r#"{{"itemIdentifier":"{}"}}"#, ddb_seq(i)))
        .collect();
    format!(r#"{{"batchItemFailures":[{}]}}"#, items.join(","))
}

#[test]
fn dynamodb_example_indexes_inserts_and_modifies_and_unindexes_removes() {
    let api = Emulator::start();
    let function = Function::start(DYNAMODB_EXAMPLE, &api, &[]);
    let outcome = api.invoke(Event::json(example_event!("dynamodb")));
    assert_eq!(outcome.response(), br#"{"batchItemFailures":[]}"#);
    let output = function.wait_output("removed from the index");
    assert_eq!(output.matches("indexed").count(), 2, "{output}");
    assert!(output.contains("o-0999"), "{output}");
}

#[test]
fn dynamodb_example_stops_at_the_first_failure() {
    // Record 3 has a malformed attribute value: it fails, and Lambda redelivers it and
    // everything after it.
    assert_eq!(
        invoke(DYNAMODB_EXAMPLE, &[], fixture!("dynamodb-failures.json")),
        ddb_failures(&[3])
    );
}

#[test]
fn dynamodb_can_go_on_and_report_every_failure() {
    // 3: malformed attribute value, 4: `lines` is not a number, 5: the handler fails.
    assert_eq!(
        invoke(
            DYNAMODB,
            &[("CONTINUE", "1")],
            fixture!("dynamodb-failures.json")
        ),
        ddb_failures(&[3, 4, 5])
    );
}

#[test]
fn dynamodb_failures_are_logged_by_sequence_number_without_the_item() {
    let api = Emulator::start();
    let function = Function::start(DYNAMODB, &api, &[("CONTINUE", "1")]);
    api.invoke(Event::json(fixture!("dynamodb-failures.json")));
    let output = function.wait_output(&format!("sequence_number=\"{}\"", ddb_seq(5)));
    for i in [3, 4, 5] {
        assert_eq!(
            output
                .matches(&format!("sequence_number=\"{}\"", ddb_seq(i)))
                .count(),
            1,
            "one line for record {i}:\n{output}"
        );
    }
    assert!(
        output.contains(
            "the record did not decode at `dynamodb.NewImage.total.N`: invalid type: floating \
             point, expected a string"
        ),
        "{output}"
    );
    assert!(
        output.contains(
            "the record's NewImage does not match `Order` at `lines`: expected a number (`N`)"
        ),
        "{output}"
    );
    assert!(
        output.contains("order o-4 is fraudulent (Fraud)"),
        "{output}"
    );
    for value in ["99.5", "three", "c-10"] {
        assert!(
            !output.contains(value),
            "the item leaked ({value}):\n{output}"
        );
    }
}

#[test]
fn dynamodb_keys_only_stream_fails_with_how_to_fix_it() {
    let api = Emulator::start();
    let function = Function::start(DYNAMODB, &api, &[]);
    let outcome = api.invoke(Event::json(fixture!("dynamodb-keys-only.json")));
    assert_eq!(outcome.response(), ddb_failures(&[7]).as_bytes());
    let output = function.wait_output("NEW_AND_OLD_IMAGES");
    assert!(
        output.contains(
            "the INSERT record has no NewImage, as the stream's view type is KEYS_ONLY; set the \
             table's stream view type to NEW_IMAGE or NEW_AND_OLD_IMAGES"
        ),
        "{output}"
    );
}

#[test]
fn sns_message_is_decoded_and_processed() {
    assert_eq!(invoke(SNS, &[], fixture!("sns-signup.json")), "null");
}

#[test]
fn sns_failure_names_the_message_and_keeps_the_handlers_error_type() {
    let (header, error_type, message) = invoke_error(SNS, fixture!("sns-batch.json"));
    assert_eq!(
        (header.as_str(), error_type.as_str()),
        ("Function.NoPlan", "NoPlan")
    );
    assert_eq!(
        message,
        "2 of 3 SNS messages failed: `m-2`: grace@example.com chose no plan; `m-3`: the SNS \
         message is not valid JSON (line 1, column 1); send JSON, or read it as bytes instead of \
         decoding it into `Signup`"
    );
}

#[test]
fn sns_message_of_the_wrong_shape_is_an_invalid_message() {
    let mut event: serde_json::Value = serde_json::from_str(fixture!("sns-signup.json")).unwrap();
    event["Records"][0]["Sns"]["Message"] = json!(r#"{"email":"ada@example.com"}"#);
    let (header, error_type, message) = invoke_error(SNS, &event.to_string());
    assert_eq!(
        (header.as_str(), error_type.as_str()),
        ("Function.SnsInvalidMessage", "Sns.InvalidMessage")
    );
    assert_eq!(
        message,
        "SNS message `0b4a6f8e-6e0c-5a61-9d3c-3f1c2b7d9a01` failed: the SNS message does not \
         match `Signup` at `.`: missing field `plan` (line 1, column 27); make `Signup` and the \
         producer agree on the shape"
    );
}

#[test]
fn eventbridge_example_handles_an_order() {
    assert_eq!(
        invoke(EVENTBRIDGE_EXAMPLE, &[], example_event!("eventbridge")),
        r#"{"order":"o-1","total":42.5}"#
    );
}

#[test]
fn eventbridge_example_runs_the_nightly_report_on_schedule() {
    assert_eq!(
        invoke(
            EVENTBRIDGE_EXAMPLE,
            &[],
            fixture!("eventbridge-scheduled.json")
        ),
        r#"{"report":"nightly","rule":"arn:aws:events:eu-west-1:123456789012:rule/nightly-report"}"#
    );
}

#[test]
fn eventbridge_example_rejects_what_its_rules_should_not_send() {
    let mut event: serde_json::Value =
        serde_json::from_str(fixture!("eventbridge-order.json")).unwrap();
    event["source"] = json!("com.example.billing");
    assert_eq!(
        invoke_error(EVENTBRIDGE_EXAMPLE, &event.to_string()),
        (
            "Function.DetailError".to_owned(),
            "Handler.DetailError".to_owned(),
            "the event's `source` is `com.example.billing`, but this function expects \
             `com.example.orders`; make the event pattern of the EventBridge rule that targets \
             this function match only it (`\"source\": [\"com.example.orders\"]`)"
                .to_owned()
        )
    );
    event["source"] = json!("com.example.orders");
    event["detail-type"] = json!("OrderShipped");
    assert_eq!(
        invoke_error(EVENTBRIDGE_EXAMPLE, &event.to_string()),
        (
            "Function.DetailError".to_owned(),
            "Handler.DetailError".to_owned(),
            "the event's `detail-type` is `OrderShipped`, but this function expects \
             `OrderPlaced`; make the event pattern of the EventBridge rule that targets this \
             function match only it (`\"detail-type\": [\"OrderPlaced\"]`)"
                .to_owned()
        )
    );
    event["detail-type"] = json!("OrderPlaced");
    event["detail"]["total"] = json!("42.50 EUR");
    assert_eq!(
        invoke_error(EVENTBRIDGE_EXAMPLE, &event.to_string()),
        (
            "Function.DetailError".to_owned(),
            "Handler.DetailError".to_owned(),
            "the event detail does not match `OrderPlaced` at `total`: invalid type: string, \
             expected f64; make `OrderPlaced` and the producer agree on the shape"
                .to_owned()
        )
    );
}
