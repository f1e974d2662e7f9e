//! CloudWatch metrics end to end: the EMF documents a function writes to stdout under the
//! emulator, each checked against the specification (`lamina_integration::emf`), and when they
//! leave relative to the response.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use lamina_integration::emf;
use serde_json::Value;
use support::*;

const METRICS: &str = env!("CARGO_BIN_EXE_metrics");

/// Waits until `function` has written `count` EMF documents, and returns them.
fn wait_documents(function: &Function, count: usize) -> Vec<Value> {
    let until = Instant::now() + WAIT;
    loop {
        let documents = emf::documents(&function.output());
        if documents.len() >= count || Instant::now() > until {
            return documents;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn named<'a>(documents: &'a [Value], metric: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|d| emf::metric_names(d).iter().any(|n| n == metric))
        .collect()
}

#[test]
fn documents_are_valid_and_carry_what_the_invocation_recorded_with_one_cold_start() {
    let api = Emulator::start();
    let function = Function::start(
        METRICS,
        &api,
        &[("AWS_LAMBDA_FUNCTION_NAME", "shop-orders")],
    );
    let first = api.invoke(Event::json(
        r#"{"orders":2,"latency":[3.5,4.25],"channel":"web","single":"acme","metadata":{"orderId":"o-1","items":[1,2]}}"#,
    ));
    assert_eq!(first.response(), b"true");
    // With one invocation in flight, a thread of the handler's own records into it.
    let second = api.invoke(Event::json(
        r#"{"orders":1,"channel":"app","from_thread":true}"#,
    ));
    assert_eq!(second.response(), b"true");
    let documents = wait_documents(&function, 4);
    assert_eq!(documents.len(), 4, "{}", function.output());

    let cold = named(&documents, "ColdStart");
    assert_eq!(cold.len(), 1, "one ColdStart per environment");
    assert_eq!(emf::dimension_names(cold[0]), ["service", "function_name"]);
    assert_eq!(cold[0]["function_name"], "shop-orders");
    assert_eq!(cold[0]["ColdStart"], 1);

    let orders = named(&documents, "Orders");
    assert_eq!(orders.len(), 2);
    let first = orders[0];
    assert_eq!(
        first["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Lamina/Tests"
    );
    assert_eq!(emf::dimension_names(first), ["service", "Channel"]);
    assert_eq!(
        (first["service"].as_str(), first["Channel"].as_str()),
        (Some("fixture"), Some("web"))
    );
    assert_eq!(emf::values(first, "Orders"), [2.0]);
    assert_eq!(emf::values(first, "Latency"), [3.5, 4.25]);
    assert_eq!(
        first["_aws"]["CloudWatchMetrics"][0]["Metrics"][1],
        serde_json::json!({"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1})
    );
    assert_eq!(first["orderId"], "o-1");
    assert_eq!(first["items"], serde_json::json!([1, 2]));
    assert_eq!(orders[1]["Channel"], "app", "dimensions do not carry over");
    assert!(orders[1].get("orderId").is_none(), "nor does metadata");

    let declined = named(&documents, "Declined");
    assert_eq!(declined.len(), 1);
    assert_eq!(emf::dimension_names(declined[0]), ["service", "Provider"]);
}

#[test]
fn the_documents_are_out_before_the_response_is_posted() {
    let api = Emulator::start();
    let function = Function::start(METRICS, &api, &[]);
    // As for log lines: the emulator holds its answer to the response for 3 s, so whatever the
    // function wrote before posting is visible by then.
    let hold = Duration::from_secs(3);
    api.inject(Route::Response, Fault::Delay(hold));
    let id = api.enqueue(Event::json(r#"{"orders":5}"#));
    let until = Instant::now() + WAIT;
    let posted = loop {
        if let Some(posted) = api
            .requests()
            .into_iter()
            .find(|r| r.path.ends_with(&format!("{id}/response")))
        {
            break posted.received;
        }
        assert!(Instant::now() < until, "no /response posted");
        thread::sleep(Duration::from_millis(5));
    };
    let documents = loop {
        let documents = emf::documents(&function.output());
        if documents.len() >= 2 || posted.elapsed() >= hold / 2 {
            break documents;
        }
        thread::sleep(Duration::from_millis(5));
    };
    assert!(
        posted.elapsed() < hold,
        "the check itself took too long to mean anything"
    );
    assert_eq!(
        named(&documents, "Orders").len(),
        1,
        "{}",
        function.output()
    );
    assert_eq!(named(&documents, "ColdStart").len(), 1);
    api.wait_outcome(&id, WAIT).expect("the outcome");
}

#[test]
fn a_failed_invocation_still_writes_what_it_recorded() {
    let api = Emulator::start();
    let function = Function::start(METRICS, &api, &[]);
    let outcome = api.invoke(Event::json(r#"{"orders":1,"fail":"out of stock"}"#));
    assert_eq!(outcome.error().document["errorType"], "Handler.Requested");
    let documents = wait_documents(&function, 2);
    assert_eq!(
        named(&documents, "Orders").len(),
        1,
        "{}",
        function.output()
    );
}

#[test]
fn an_invalid_metric_fails_the_invocation_with_a_clear_error_and_writes_nothing_bad() {
    let api = Emulator::start();
    let function = Function::start(METRICS, &api, &[]);
    let outcome = api.invoke(Event::json(r#"{"invalid":"_aws","orders":1}"#));
    let error = &outcome.error().document;
    assert_eq!(error["errorType"], "Handler.MetricsError");
    assert_eq!(
        error["errorMessage"],
        "the metric name \"_aws\" is not valid: `_aws` holds the document's own metadata in EMF"
    );
    // Every EMF line the function wrote passes the checks (`emf::documents` panics otherwise).
    let documents = wait_documents(&function, 1);
    assert!(named(&documents, "Orders").is_empty());
    assert_eq!(named(&documents, "ColdStart").len(), 1);
}

#[test]
fn concurrent_invocations_keep_their_metrics_apart() {
    let api = Emulator::start();
    let function = Function::start(METRICS, &api, &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")]);
    assert!(api.wait_next_polls(4, WAIT), "{}", function.output());
    let ids: Vec<String> = (0..8)
        .map(|i| {
            let from_thread = if i % 2 == 0 {
                r#","from_thread":true"#
            } else {
                ""
            };
            api.enqueue(Event::json(format!(
                r#"{{"orders":{i},"channel":"c{i}","sleep_ms":200{from_thread}}}"#
            )))
        })
        .collect();
    for id in &ids {
        api.wait_outcome(id, WAIT).expect("an outcome");
    }
    let documents = wait_documents(&function, 9);
    let orders = named(&documents, "Orders");
    assert_eq!(orders.len(), 8, "{}", function.output());
    let mut pairs: Vec<(Option<&str>, f64)> = orders
        .iter()
        .map(|d| (d["Channel"].as_str(), emf::values(d, "Orders")[0]))
        .collect();
    pairs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // With several invocations in flight, a thread of the handler's own cannot be told apart:
    // its metric is written at once, in a document of its own, as its log lines are.
    let expected: Vec<(Option<&str>, f64)> = [(None, 0.0), (None, 2.0), (None, 4.0), (None, 6.0)]
        .into_iter()
        .chain([
            (Some("c1"), 1.0),
            (Some("c3"), 3.0),
            (Some("c5"), 5.0),
            (Some("c7"), 7.0),
        ])
        .collect();
    assert_eq!(
        pairs, expected,
        "each invocation's value under its own dimension"
    );
    assert_eq!(named(&documents, "ColdStart").len(), 1);
}

#[test]
fn the_settings_come_from_powertools_variables_when_init_makes_none() {
    let api = Emulator::start();
    let function = Function::start(
        METRICS,
        &api,
        &[
            ("METRICS_FROM_ENV", "1"),
            ("POWERTOOLS_METRICS_NAMESPACE", "Powertools/Shop"),
            ("POWERTOOLS_SERVICE_NAME", "checkout"),
        ],
    );
    api.invoke(Event::json(r#"{"orders":1}"#));
    let documents = wait_documents(&function, 1);
    assert_eq!(documents.len(), 1, "no ColdStart unless asked for");
    assert_eq!(
        documents[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Powertools/Shop"
    );
    assert_eq!(documents[0]["service"], "checkout");

    let api = Emulator::start();
    let _function = Function::start(METRICS, &api, &[("METRICS_FROM_ENV", "1")]);
    let outcome = api.invoke(Event::json(r#"{"orders":1}"#));
    assert_eq!(
        outcome.error().document["errorMessage"],
        "metrics have no namespace: call `lamina::metrics::configure` in `init`, or set \
         POWERTOOLS_METRICS_NAMESPACE"
    );
}

#[cfg(unix)]
#[test]
fn the_documents_survive_a_panic_abort() {
    let binary = abort_build("metrics");
    let api = Emulator::start();
    let mut function = Function::start(&binary, &api, &[]);
    let id = api.enqueue(Event::json(r#"{"orders":3,"panic":"boom"}"#));
    let outcome = api.wait_outcome(&id, WAIT).expect("the panic reported");
    assert_eq!(
        outcome.error().document["errorType"],
        "Runtime.HandlerPanic"
    );
    assert!(!function.expect_exit().success());
    let documents = emf::documents(&function.output());
    let orders = named(&documents, "Orders");
    assert_eq!(orders.len(), 1, "{}", function.output());
    assert_eq!(emf::values(orders[0], "Orders"), [3.0]);
}
