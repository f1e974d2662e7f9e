//! Idempotent invocations end to end: a function whose work is wrapped in
//! `lamina::idempotency`, invoked again and again with the same payment under the emulator.
//! (The DynamoDB store's races, expiry and outages are tested against moto in the library.)

mod support;

use serde_json::json;
use support::*;

const IDEMPOTENT: &str = env!("CARGO_BIN_EXE_idempotent");

#[test]
fn a_redelivered_event_gets_the_first_response_and_a_failure_is_retried() {
    let api = Emulator::start();
    let _function = Function::start(IDEMPOTENT, &api, &[("AWS_LAMBDA_FUNCTION_NAME", "charge")]);
    let invoke = |event: &str| api.invoke(Event::json(event.to_owned()));

    let first = invoke(r#"{"payment_id":"p-1","cents":100}"#);
    assert_eq!(json(&first), json!({"charged": 100, "attempt": 1}));
    let again = invoke(r#"{"payment_id":"p-1","cents":100}"#);
    assert_eq!(
        json(&again),
        json!({"charged": 100, "attempt": 1}),
        "replayed, not run"
    );

    let mismatch = invoke(r#"{"payment_id":"p-1","cents":999}"#);
    assert_eq!(
        mismatch.error().document["errorType"],
        "Idempotency.PayloadMismatch"
    );

    let declined = invoke(r#"{"payment_id":"p-2","cents":5,"fail":"card declined"}"#);
    assert_eq!(declined.error().document["errorType"], "Payment.Declined");
    let retried = invoke(r#"{"payment_id":"p-2","cents":5}"#);
    assert_eq!(
        json(&retried),
        json!({"charged": 5, "attempt": 3}),
        "the failed attempt left no record"
    );
}
