//! Layer mode: the runtime layer's `/opt/bootstrap` loading a handler library from `/var/task`,
//! in a Lambda-shaped sandbox (bwrap), against the emulator.
//!
//! The same fixture sources run as their own bootstrap (bin mode) and as libraries (layer mode),
//! both built with `panic = "abort"` as `cargo lambda build --release` builds them, and must
//! answer every event identically.

mod support;

use serde_json::{Value, json};
use support::*;

/// How one mode ran: each invocation's outcome, and how the process ended.
struct Run {
    outcomes: Vec<Outcome>,
    init_error: Option<Posted>,
    output: String,
}

/// The two ways to deploy `fixture`.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Bin,
    Layer,
}

/// Runs `events` (in order, each with the given request id) through `fixture` in `mode`; with
/// no events, waits for the init error instead.
fn run(mode: Mode, fixture: &str, env: &[(&str, &str)], events: &[(&str, Event)]) -> Run {
    let api = Emulator::start();
    let sandbox;
    let mut function = match mode {
        Mode::Bin => Function::start(abort_build(fixture), &api, env),
        Mode::Layer => {
            let library = format!("lib{fixture}.so");
            sandbox = LambdaSandbox::with_layer(&[(&library, layer_library(fixture))]);
            sandbox.start(&api, fixture, env)
        }
    };
    let mut outcomes = Vec::new();
    for (id, event) in events {
        api.enqueue(event.clone().request_id(id));
        let outcome = api.wait_outcome(id, WAIT).unwrap_or_else(|| {
            panic!(
                "{mode:?}: no outcome for {id}; output:\n{}",
                function.output()
            )
        });
        outcomes.push(outcome);
    }
    // Without events, the run is about INIT: it must fail, and the process must end.
    let init_error = if events.is_empty() {
        let posted = api.wait_init_error(WAIT);
        function.expect_exit();
        posted
    } else {
        // Everything written so far, to the last byte.
        function.stop();
        None
    };
    Run {
        outcomes,
        init_error,
        output: function.output(),
    }
}

/// Runs both modes and checks they agree; returns the layer's run for further checks.
fn same_in_both_modes(fixture: &str, env: &[(&str, &str)], events: &[(&str, Event)]) -> Run {
    let bin = run(Mode::Bin, fixture, env, events);
    let layer = run(Mode::Layer, fixture, env, events);
    assert_eq!(
        normalized(&bin.outcomes),
        normalized(&layer.outcomes),
        "bin and layer mode answered differently\n--- bin output:\n{}\n--- layer output:\n{}",
        bin.output,
        layer.output
    );
    let init_error = |run: &Run| run.init_error.as_ref().map(|p| same_file(&p.document));
    assert_eq!(
        init_error(&bin),
        init_error(&layer),
        "different init errors\n--- layer output:\n{}",
        layer.output
    );
    layer
}

/// Outcomes with what legitimately differs between the two runs taken out: the time left, and
/// the path by which each package names the one fixture file in a panic's location.
fn normalized(outcomes: &[Outcome]) -> Vec<Value> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Response(body) => match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(mut map)) => {
                    map.remove("remaining_ms");
                    json!({ "response": map })
                }
                _ => json!({ "response": String::from_utf8_lossy(body) }),
            },
            Outcome::Error(posted) => json!({
                "error": same_file(&posted.document),
                "header": posted.error_type_header,
            }),
            Outcome::Streamed(streamed) => json!({
                "streamed": {
                    "content_type": streamed.content_type,
                    "length": streamed.length,
                    "checksum": streamed.checksum,
                    "complete": streamed.complete,
                    "problem": streamed.problem,
                    "prelude": streamed.prelude(),
                    "error": streamed.error().map(|e| json!({
                        "type": e.error_type,
                        "document": same_file(&e.document),
                    })),
                }
            }),
        })
        .collect()
}

fn same_file(document: &Value) -> Value {
    let text = document.to_string();
    serde_json::from_str(
        &text.replace("tests/layer-fixtures/../integration/", "tests/integration/"),
    )
    .unwrap()
}

fn error_of(outcome: &Outcome) -> (String, String) {
    let document = &outcome.error().document;
    (
        document["errorType"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        document["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[test]
fn echo_answers_responses_errors_and_bad_events_alike() {
    let layer = same_in_both_modes(
        "echo",
        &[],
        &[
            ("e-1", Event::json(r#"{"n":1,"s":"ü"}"#)),
            ("e-2", Event::json(r#"{"fail":"no stock"}"#)),
            ("e-3", Event::json("{not json")),
            ("e-4", Event::json(r#"{"bytes":2000000}"#)),
            ("e-5", Event::json("")),
        ],
    );
    let outcomes = &layer.outcomes;
    assert_eq!(outcomes.len(), 5);
    assert_eq!(outcomes[0].response(), r#"{"n":1,"s":"ü"}"#.as_bytes());
    assert_eq!(
        error_of(&outcomes[1]),
        ("Handler.Requested".into(), "no stock".into())
    );
    assert_eq!(error_of(&outcomes[2]).0, "Runtime.InvalidEvent");
    assert_eq!(outcomes[3].response().len(), 2_000_002);
    assert_eq!(outcomes[4].response(), b"null");
}

/// Issue 12, item 4: serde's message quotes the event's values, and the loop logged it at ERROR.
/// The caller still gets it in the error document; the logs get the path and the expected type.
#[test]
fn invalid_event_values_never_reach_the_logs() {
    let secret = "4111111111111111";
    let event = Event::json(format!(
        r#"{{"id":"o1","items":[{{"sku":"a","qty":"{secret}"}}]}}"#
    ));
    for mode in [Mode::Bin, Mode::Layer] {
        let run = run(
            mode,
            "stateful",
            &[("STATE_LABEL", "eu")],
            &[("v-1", event.clone())],
        );
        let (error_type, message) = error_of(&run.outcomes[0]);
        assert_eq!(error_type, "Runtime.InvalidEvent");
        assert!(
            message.contains(secret),
            "{mode:?}: the caller's document: {message}"
        );
        assert!(
            !run.output.contains(secret),
            "{mode:?}: the event's value was logged:\n{}",
            run.output
        );
        assert!(
            run.output.contains(
                "the event does not match `Order` at `items[0].qty`: invalid type: string, \
                 expected u32"
            ),
            "{mode:?}: the log names the path and the expected type:\n{}",
            run.output
        );
    }
}

#[test]
fn state_is_built_once_and_shared_by_every_invocation() {
    let order = |id: &str| {
        Event::json(format!(
            r#"{{"id":"{id}","items":[{{"sku":"a","qty":2}}]}}"#
        ))
    };
    let layer = same_in_both_modes(
        "stateful",
        &[("STATE_LABEL", "eu")],
        &[
            ("s-1", order("o1")),
            ("s-2", order("o2")),
            ("s-3", order("o3")),
        ],
    );
    let last = json(&layer.outcomes[2]);
    assert_eq!(
        last,
        json!({"id": "o3", "total_qty": 2, "init_runs": 1, "invocation": 3, "label": "eu"})
    );
}

#[test]
fn the_context_crosses_the_abi_whole() {
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let event = Event::json("{}")
        .header("Lambda-Runtime-Deadline-Ms", "4102444800000")
        .header("Lambda-Runtime-Trace-Id", trace)
        .header(
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:eu-west-1:123456789012:function:orders:live",
        )
        .header(
            "Lambda-Runtime-Client-Context",
            r#"{"client":{"installationId":"inst","appTitle":"Shop","appVersionName":"2.1","appVersionCode":"21","appPackageName":"com.example.shop"},"custom":{"cart":"7"},"env":{"locale":"en_GB"}}"#,
        )
        .header(
            "Lambda-Runtime-Cognito-Identity",
            r#"{"cognitoIdentityId":"eu-west-1:abcd","cognitoIdentityPoolId":"eu-west-1:pool"}"#,
        )
        .header("Lambda-Runtime-Aws-Tenant-Id", "tenant-a");
    let layer = same_in_both_modes("context", &[], &[("c-1", event)]);
    let seen = json(&layer.outcomes[0]);
    assert_eq!(seen["request_id"], "c-1");
    assert_eq!(seen["deadline_ms"], 4_102_444_800_000u64);
    assert_eq!(seen["xray_trace_header"], trace);
    assert_eq!(
        seen["trace_env"], trace,
        "the loader's env var is the library's"
    );
    assert_eq!(seen["client_context"]["custom"]["cart"], "7");
    assert_eq!(seen["identity"]["cognitoIdentityPoolId"], "eu-west-1:pool");
    assert_eq!(seen["tenant_id"], "tenant-a");
    assert_eq!(seen["function_name"], "orders");
    assert_eq!(seen["memory_mb"], 256);
}

/// Item 5 of issue 12: the `bootstrap`'s std wrote `_X_AMZN_TRACE_ID` on every invocation while
/// the library's std (another environment lock) could be reading the environment. Now the
/// library side alone writes it: a library that does not write it sees none from the loader.
#[test]
fn layer_mode_the_loader_leaves_the_trace_env_to_the_library() {
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=1:a87bb3a7:0";
    let layer = run(
        Mode::Layer,
        "trace_env_probe",
        &[],
        &[(
            "p-1",
            Event::json("{}").header("Lambda-Runtime-Trace-Id", trace),
        )],
    );
    assert_eq!(
        json(&layer.outcomes[0]),
        json!({ "trace_env": null }),
        "the loader wrote the library's environment\n{}",
        layer.output
    );
}

/// The other half of item 5: with the library owning `_X_AMZN_TRACE_ID`, each invocation's
/// handler still sees its own header there, and none after an invocation without one.
#[test]
fn the_library_sets_the_trace_env_for_each_invocation() {
    let first = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let second = "Root=1-6759e988-0d862e3fe1be46a994272793;Parent=63995c3f42cd8ad8;Sampled=0;Lineage=1:a87bb3a7:0";
    // A fixed deadline, so the two modes' answers can be compared whole.
    let event = || Event::json("{}").header("Lambda-Runtime-Deadline-Ms", "4102444800000");
    let with = |trace: &str| event().header("Lambda-Runtime-Trace-Id", trace);
    let layer = same_in_both_modes(
        "context",
        &[],
        &[
            ("t-1", with(first)),
            ("t-2", with(second)),
            ("t-3", event()),
        ],
    );
    let seen: Vec<Value> = layer
        .outcomes
        .iter()
        .map(|o| json(o)["trace_env"].clone())
        .collect();
    assert_eq!(seen, [json!(first), json!(second), Value::Null]);
}

#[test]
fn sqs_partial_batch_failures_are_the_same() {
    let batch = include_str!("../fixtures/events/sqs-standard.json");
    let layer = same_in_both_modes("events_sqs", &[], &[("q-1", Event::json(batch))]);
    // The fixture's batch holds an order that panics: under abort, the whole invocation fails.
    assert_eq!(error_of(&layer.outcomes[0]).0, "Runtime.HandlerPanic");
    let mut batch: Value = serde_json::from_str(batch).unwrap();
    batch["Records"]
        .as_array_mut()
        .unwrap()
        .retain(|record| !record["body"].as_str().unwrap().contains("o-6"));
    let layer = same_in_both_modes(
        "events_sqs",
        &[],
        &[("q-2", Event::json(batch.to_string()))],
    );
    let failures = json(&layer.outcomes[0]);
    assert_eq!(
        failures["batchItemFailures"].as_array().unwrap().len(),
        3,
        "{failures}"
    );
}

#[test]
fn a_failing_init_is_reported_as_in_bin_mode() {
    let layer = same_in_both_modes("stateful", &[], &[]);
    let posted = layer.init_error.expect("an init error");
    assert_eq!(posted.document["errorType"], "Init.VarError");
}

#[test]
fn a_panicking_init_is_reported_before_the_abort() {
    let layer = same_in_both_modes(
        "stateful",
        &[("INIT_PANIC", "1"), ("STATE_LABEL", "x")],
        &[],
    );
    let posted = layer.init_error.expect("an init error");
    assert_eq!(posted.document["errorType"], "Runtime.InitPanic");
    assert!(
        posted.document["errorMessage"]
            .as_str()
            .unwrap()
            .contains("init exploded")
    );
}

#[test]
fn a_panic_inside_the_library_is_reported_before_the_abort() {
    let api = Emulator::start();
    let sandbox = LambdaSandbox::with_layer(&[("libecho.so", layer_library("echo"))]);
    let mut function = sandbox.start(&api, "echo", &[]);
    assert_eq!(
        api.invoke(Event::json(r#"{"n":1}"#)).response(),
        br#"{"n":1}"#
    );
    let id = api.enqueue(Event::json(r#"{"panic":"the library broke"}"#));
    let outcome = api.wait_outcome(&id, WAIT).expect("the panic reported");
    let (error_type, message) = error_of(&outcome);
    assert_eq!(error_type, "Runtime.HandlerPanic");
    assert!(message.contains("the library broke"), "{message}");
    let status = function.expect_exit();
    assert!(
        !status.success(),
        "the process aborts under panic = \"abort\""
    );
    assert_eq!(api.outcomes(&id).len(), 1, "reported once");
}

#[test]
fn exiting_the_layer_does_not_wait_for_a_blocking_task_of_the_library() {
    let bound = std::time::Duration::from_secs(10);
    let library = [("libblocking_task.so", layer_library("blocking_task"))];

    let api = Emulator::start();
    let sandbox = LambdaSandbox::with_layer(&library);
    let mut function = sandbox.start(&api, "blocking_task", &[("INIT_FAIL", "1")]);
    let posted = api.wait_init_error(bound).unwrap_or_else(|| {
        panic!(
            "the init error waited for the blocking task; output:\n{}",
            function.output()
        )
    });
    assert_eq!(posted.document["errorType"], "Init.ModelMissing");
    assert!(
        function.wait_exit(bound).is_some(),
        "the process waited for the blocking task after its init error"
    );

    let api = Emulator::start();
    api.inject(Route::Next, Fault::Status(500));
    let mut function = sandbox.start(&api, "blocking_task", &[]);
    assert!(api.wait_next_polls(1, WAIT), "{}", function.output());
    assert!(
        function.wait_exit(bound).is_some(),
        "the process waited for the blocking task after the Runtime API failed; output:\n{}",
        function.output()
    );
}

/// The panic hook of the library reads the in-flight trace header from `_X_AMZN_TRACE_ID`,
/// which the library itself now sets: a sampled invocation that panics still gets its X-Ray
/// error cause.
#[test]
fn a_panic_inside_the_library_still_reports_the_xray_error_cause() {
    let api = Emulator::start();
    let sandbox = LambdaSandbox::with_layer(&[("libecho.so", layer_library("echo"))]);
    let _function = sandbox.start(&api, "echo", &[]);
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let id = api.enqueue(
        Event::json(r#"{"panic":"traced and broken"}"#).header("Lambda-Runtime-Trace-Id", trace),
    );
    api.wait_outcome(&id, WAIT).expect("the panic reported");
    let post = api
        .requests()
        .into_iter()
        .find(|r| r.path == format!("/2018-06-01/runtime/invocation/{id}/error"))
        .expect("the /error call");
    let cause: Value = serde_json::from_str(
        post.header("Lambda-Runtime-Function-XRay-Error-Cause")
            .expect("the cause header"),
    )
    .expect("the cause is JSON");
    assert_eq!(cause["exceptions"][0]["type"], "Runtime.HandlerPanic");
}

/// Starts the layer with `libraries` in the task root and `_HANDLER=handler`, and returns the
/// init error it reports (after checking the process exits non-zero).
fn init_error(libraries: &[(&str, std::path::PathBuf)], handler: &str) -> (String, String) {
    let api = Emulator::start();
    let sandbox = LambdaSandbox::with_layer(libraries);
    let mut function = sandbox.start(&api, handler, &[]);
    let posted = api
        .wait_init_error(WAIT)
        .unwrap_or_else(|| panic!("no init error; output:\n{}", function.output()));
    assert!(!function.expect_exit().success());
    assert!(
        api.requests()
            .iter()
            .all(|r| r.path == "/2018-06-01/runtime/init/error"),
        "nothing but the init error: {:?}",
        api.requests()
    );
    assert_eq!(
        posted.error_type_header.as_deref(),
        posted.document["errorType"].as_str()
    );
    (
        posted.document["errorType"].as_str().unwrap().to_owned(),
        posted.document["errorMessage"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn a_missing_library_is_an_init_error_naming_the_path() {
    let (error_type, message) = init_error(&[], "orders");
    assert_eq!(error_type, "Runtime.HandlerNotFound");
    assert!(message.contains("/var/task/liborders.so"), "{message}");
}

#[test]
fn an_empty_handler_setting_is_an_init_error() {
    let (error_type, message) = init_error(&[("libecho.so", layer_library("echo"))], "");
    assert_eq!(error_type, "Runtime.HandlerNotFound");
    assert!(message.contains("_HANDLER"), "{message}");
}

#[test]
fn another_abi_version_is_refused_before_anything_in_it_runs() {
    let (error_type, message) = init_error(
        &[("libwrong_abi.so", layer_library("wrong_abi"))],
        "wrong_abi",
    );
    assert_eq!(error_type, "Runtime.AbiMismatch");
    assert!(message.contains("lamina 9.9.9"), "{message}");
    assert!(message.contains("/var/task/libwrong_abi.so"), "{message}");
}

#[test]
fn a_library_without_the_entry_point_is_refused() {
    let (error_type, message) = init_error(&[("libplain.so", layer_library("plain"))], "plain");
    assert_eq!(error_type, "Runtime.InvalidEntrypoint");
    assert!(message.contains("lamina_handler_abi"), "{message}");
}

#[test]
fn a_file_that_is_not_a_library_is_refused_with_the_loader_message() {
    let sandbox = LambdaSandbox::with_layer(&[]);
    std::fs::write(sandbox.task().join("libtext.so"), "just text").unwrap();
    let api = Emulator::start();
    let mut function = sandbox.start(&api, "text", &[]);
    let posted = api.wait_init_error(WAIT).expect("an init error");
    assert!(!function.expect_exit().success());
    assert_eq!(posted.document["errorType"], "Runtime.InvalidEntrypoint");
    let message = posted.document["errorMessage"].as_str().unwrap();
    assert!(message.contains("could not be loaded"), "{message}");
    assert!(message.contains("/var/task/libtext.so"), "{message}");
}

#[test]
fn outside_lambda_the_layer_bootstrap_runs_one_local_invocation() {
    let task = LambdaSandbox::with_layer(&[("libecho.so", layer_library("echo"))]);
    let env = [
        ("_HANDLER".to_owned(), "echo".to_owned()),
        (
            "LAMBDA_TASK_ROOT".to_owned(),
            task.task().display().to_string(),
        ),
    ];
    let mut function = Function::spawn(
        &task.opt().join("bootstrap"),
        &env,
        &[],
        Some(br#"{"local":true}"#),
    );
    assert!(function.expect_exit().success(), "{}", function.output());
    let output = function.output();
    assert_eq!(output.lines().next(), Some(r#"{"local":true}"#), "{output}");
}

#[test]
fn the_librarys_json_logs_carry_the_request_id_and_reach_stdout_as_in_bin_mode() {
    let env = [("AWS_LAMBDA_LOG_FORMAT", "JSON")];
    let event = || Event::json(r#"{"marker":"m-layer"}"#);
    let lines = |mode: Mode| -> Vec<Value> {
        let run = run(mode, "logging", &env, &[("l-1", event()), ("l-2", event())]);
        run.output
            .lines()
            .filter(|line| line.contains("m-layer"))
            .map(|line| {
                let mut line: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{mode:?}: not JSON ({e}): {line}"));
                line.as_object_mut().unwrap().remove("timestamp");
                line
            })
            .collect()
    };
    let (bin, layer) = (lines(Mode::Bin), lines(Mode::Layer));
    assert!(!layer.is_empty(), "the library logged nothing");
    assert!(
        layer
            .iter()
            .all(|l| l["requestId"] == "l-1" || l["requestId"] == "l-2"),
        "{layer:?}"
    );
    assert!(layer.iter().any(|l| l["requestId"] == "l-2"));
    let sorted = |mut lines: Vec<Value>| {
        lines.sort_by_key(|l| l.to_string());
        lines
    };
    assert_eq!(sorted(bin), sorted(layer));
}

/// An HTTP function (the `lamina::http` handler form, and the axum example) converts events and
/// responses on the library's side of the ABI, and answers the same in both modes.
#[test]
fn http_functions_answer_alike_in_both_modes() {
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/fixtures/events/http/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let layer = same_in_both_modes(
        "http_echo",
        &[],
        &[
            ("h-1", Event::json(fixture("rest-stage.json"))),
            ("h-2", Event::json(fixture("http-api-stage.json"))),
            ("h-3", Event::json(fixture("alb-multi.json"))),
            ("h-4", Event::json(fixture("lattice-v2.json"))),
            ("h-5", Event::json(fixture("not-http.json"))),
        ],
    );
    let response =
        |i: usize| serde_json::from_slice::<Value>(layer.outcomes[i].response()).unwrap();
    assert!(response(0).get("multiValueHeaders").is_some());
    let echoed: Value = serde_json::from_str(response(1)["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["path"], "/orders/42");
    assert_eq!(response(2)["statusDescription"], "200 OK");
    assert_eq!(error_of(&layer.outcomes[4]).0, "Runtime.InvalidEvent");

    let layer = same_in_both_modes(
        "axum_example",
        &[],
        &[("a-1", Event::json(fixture("http-api-stage.json")))],
    );
    let response: Value = serde_json::from_slice(layer.outcomes[0].response()).unwrap();
    assert_eq!(
        response["body"],
        r#"{"id":42,"currency":"EUR","fields":null}"#
    );
}

/// Managed Instances on the runtime layer: the bootstrap's workers call into the handler library
/// at the same time, each on an instance forked from the first.
#[test]
fn a_handler_library_serves_concurrent_invocations_from_forked_instances() {
    let api = Emulator::start();
    let sandbox = LambdaSandbox::with_layer(&[("libconcurrent.so", layer_library("concurrent"))]);
    let mut function = sandbox.start(&api, "concurrent", &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")]);
    let ids: Vec<String> = (0..4)
        .map(|_| api.enqueue(Event::json(r#"{"wait_for":4}"#)))
        .collect();
    for id in &ids {
        let outcome = api
            .wait_outcome(id, WAIT)
            .unwrap_or_else(|| panic!("no outcome for {id}:\n{}", function.output()));
        let body = json(&outcome);
        assert_eq!(body["peak"], json!(4), "{body}");
    }
    // (The library's std does not know the names the bootstrap gave its threads; connections
    // tell the workers apart.)
    let connections: std::collections::HashSet<usize> = api
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.connection)
        .collect();
    assert_eq!(connections.len(), 4);
    function.stop();
}

#[test]
fn a_handler_library_whose_state_is_not_sync_serves_one_at_a_time() {
    let api = Emulator::start();
    let sandbox =
        LambdaSandbox::with_layer(&[("libunshared_state.so", layer_library("unshared_state"))]);
    let function = sandbox.start(
        &api,
        "unshared_state",
        &[("AWS_LAMBDA_MAX_CONCURRENCY", "3")],
    );
    let ids: Vec<String> = (0..4).map(|_| api.enqueue(Event::json("{}"))).collect();
    for (n, id) in ids.iter().enumerate() {
        let outcome = api.wait_outcome(id, WAIT).expect("an outcome");
        assert_eq!(json(&outcome), json!(n + 1));
    }
    let output = function.wait_output("is not `Sync`");
    assert!(output.contains("is not `Sync`"), "{output}");
}

/// Tasks that `init` or a handler spawned run while the loop waits for the next invocation, in
/// both modes.
#[test]
fn background_tasks_make_progress_between_invocations() {
    for mode in [Mode::Bin, Mode::Layer] {
        let api = Emulator::start();
        let sandbox;
        let mut function = match mode {
            Mode::Bin => Function::start(abort_build("background"), &api, &[]),
            Mode::Layer => {
                sandbox =
                    LambdaSandbox::with_layer(&[("libbackground.so", layer_library("background"))]);
                sandbox.start(&api, "background", &[])
            }
        };
        let ticks = |event: &str| {
            let id = api.enqueue(Event::json(event));
            let outcome = api
                .wait_outcome(&id, WAIT)
                .unwrap_or_else(|| panic!("{mode:?}: no outcome:\n{}", function.output()));
            json(&outcome).as_u64().unwrap()
        };
        let before = ticks(r#"{"spawn_log":"left behind, logged later"}"#);
        std::thread::sleep(std::time::Duration::from_millis(600));
        // The task the handler left behind ran with no invocation in flight.
        let output = function.wait_output("left behind, logged later");
        assert!(
            output.contains("left behind, logged later"),
            "{mode:?}: {output}"
        );
        let after = ticks("{}");
        // About 30 ticks of 20 ms in the 600 ms between; without the wait they would not move.
        assert!(after >= before + 10, "{mode:?}: {before} → {after}");
        function.stop();
    }
}

/// A handler library with a shutdown hook registers the extension itself, in INIT.
#[test]
fn a_handler_library_with_a_shutdown_hook_registers_its_extension() {
    let api = Emulator::start();
    let sandbox = LambdaSandbox::with_layer(&[("libshutdown.so", layer_library("shutdown"))]);
    let _function = sandbox.start(&api, "shutdown", &[("SHUTDOWN_MARKER", "/tmp/marker")]);
    assert_eq!(json(&api.invoke(Event::json("{}"))), json!(1));
    let requests = api.requests();
    assert_eq!(requests[0].path, "/2020-01-01/extension/register");
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/2020-01-01/extension/event/next")
    );
}

#[test]
fn streamed_responses_are_the_same_in_both_modes() {
    let ask =
        |mode: &str, bytes: u64| Event::json(json!({"mode": mode, "bytes": bytes}).to_string());
    let run = same_in_both_modes(
        "stream_bytes",
        &[],
        &[
            ("count", ask("count", 1 << 20)),
            ("after-first", ask("fail_after_first", 0)),
            ("before", ask("fail_before", 0)),
            ("error-first", ask("error_first", 0)),
            ("empty", ask("empty", 0)),
            ("forged", ask("forged_content_type", 0)),
            // Under `panic = "abort"` the library's own hook ends the loader's stream.
            ("panic", ask("panic_mid", 0)),
        ],
    );
    assert_eq!(
        error_of(&run.outcomes[5]).0,
        "Runtime.StreamOpen",
        "{}",
        run.output
    );
    let streamed = run.outcomes[0].streamed();
    assert_eq!((streamed.length, streamed.chunks), (1 << 20, 16));
    let panicked = run.outcomes[6].streamed();
    assert_eq!(
        panicked.error().map(|e| e.error_type),
        Some("Runtime.HandlerPanic".to_owned()),
        "{}",
        run.output
    );
    assert!(panicked.complete);

    let url = |path: &str, query: &str| {
        let mut event: Value =
            serde_json::from_str(include_str!("../fixtures/events/http/function-url.json"))
                .unwrap();
        event["rawPath"] = json!(path);
        event["rawQueryString"] = json!(query);
        event["requestContext"]["http"]["method"] = json!("GET");
        event["body"] = Value::Null;
        Event::json(event.to_string())
    };
    let run = same_in_both_modes(
        "stream_http",
        &[],
        &[
            ("download", url("/download", "bytes=70000")),
            ("events", url("/events", "")),
            ("fail-mid", url("/fail_mid", "")),
            ("missing", url("/missing", "")),
        ],
    );
    let download = run.outcomes[0].streamed();
    assert_eq!(download.problem, None);
    assert_eq!(download.http_body().len(), 70000);
}

/// A handler library's metrics leave with its lines, from its own copy of lamina, as in bin
/// mode: the same documents, the cold start included, and a failed invocation's too.
#[test]
fn metrics_documents_are_the_same_in_both_modes() {
    let events = || {
        [
            (
                "m-1",
                Event::json(r#"{"orders":2,"channel":"web","latency":[1.5,2.5]}"#),
            ),
            ("m-2", Event::json(r#"{"orders":1,"fail":"declined"}"#)),
        ]
    };
    let documents = |mode: Mode| -> Vec<Value> {
        let run = run(
            mode,
            "metrics",
            &[("AWS_LAMBDA_FUNCTION_NAME", "shop")],
            &events(),
        );
        lamina_integration::emf::documents(&run.output)
            .into_iter()
            .map(|mut document| {
                document["_aws"]
                    .as_object_mut()
                    .unwrap()
                    .remove("Timestamp");
                document
            })
            .collect()
    };
    let (bin, layer) = (documents(Mode::Bin), documents(Mode::Layer));
    assert_eq!(
        layer.len(),
        3,
        "ColdStart and one per invocation: {layer:?}"
    );
    assert_eq!(bin, layer);
}
