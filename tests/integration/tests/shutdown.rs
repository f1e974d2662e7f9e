//! Graceful shutdown: the internal extension registered in INIT, the hook run on `SIGTERM`.

mod support;

use std::time::{Duration, Instant};

use support::*;

const SHUTDOWN: &str = env!("CARGO_BIN_EXE_shutdown");
const ECHO: &str = env!("CARGO_BIN_EXE_echo");

/// Starts the shutdown fixture, its hook writing to `marker`, with `env` besides.
fn start_with_hook(api: &Emulator, marker: &std::path::Path, env: &[(&str, &str)]) -> Function {
    let mut all = vec![("SHUTDOWN_MARKER", marker.to_str().unwrap())];
    all.extend_from_slice(env);
    Function::start(SHUTDOWN, api, &all)
}

fn marker(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("lamina-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn a_hook_registers_an_extension_in_init_and_runs_on_sigterm_then_exits_zero() {
    let api = Emulator::start();
    let marker = marker("shutdown-marker");
    let mut function = start_with_hook(&api, &marker, &[]);
    assert_eq!(json(&api.invoke(Event::json("{}"))), serde_json::json!(1));
    assert_eq!(json(&api.invoke(Event::json("{}"))), serde_json::json!(2));

    let requests = api.requests();
    let register = &requests[0];
    assert_eq!(
        (register.method.as_str(), register.path.as_str()),
        ("POST", "/2020-01-01/extension/register"),
        "registered before anything else"
    );
    assert_eq!(
        register.header("lambda-extension-name"),
        Some("lamina-graceful-shutdown")
    );
    let body: serde_json::Value = serde_json::from_slice(&register.body).unwrap();
    assert_eq!(body, serde_json::json!({"events": []}));
    // The extension's long-poll is sent from a thread of its own after registering, so on a
    // busy machine it can reach the emulator after the invocations: wait for it, bounded.
    let until = Instant::now() + WAIT;
    let waiting = loop {
        let found = api
            .requests()
            .into_iter()
            .find(|r| r.path == "/2020-01-01/extension/event/next");
        match found {
            Some(request) => break request,
            None if Instant::now() < until => std::thread::sleep(Duration::from_millis(10)),
            None => panic!("the extension never waited on event/next"),
        }
    };
    assert_eq!(
        waiting.header("lambda-extension-identifier"),
        Some("ext-0001")
    );

    function.terminate();
    let status = function.expect_exit();
    assert_eq!(status.code(), Some(0), "{}", function.output());
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "served 2");
    let output = function.output();
    assert!(output.contains("shutdown hook ran"), "{output}");
    let _ = std::fs::remove_file(marker);
}

#[test]
fn a_hook_past_its_budget_is_cut_off_and_the_process_still_exits_zero() {
    let api = Emulator::start();
    let marker = marker("slow-shutdown-marker");
    let mut function = start_with_hook(&api, &marker, &[("SHUTDOWN_SLOW", "1")]);
    api.invoke(Event::json("{}"));
    let sent = Instant::now();
    function.terminate();
    let status = function.expect_exit();
    assert_eq!(status.code(), Some(0));
    // Lambda's SIGKILL comes about 500 ms after SIGTERM; the hook had 400 of them.
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    let output = function.output();
    assert!(
        output.contains("the shutdown hook did not finish within 400 ms"),
        "{output}"
    );
    assert!(!marker.exists());
}

#[test]
fn an_invocation_in_flight_at_sigterm_is_answered_before_the_hook_and_the_exit() {
    let api = Emulator::start();
    let marker = marker("drain-marker");
    let mut function = start_with_hook(&api, &marker, &[]);
    api.invoke(Event::json("{}"));
    let id = api.enqueue(Event::json(r#"{"sleep_ms":150}"#));
    wait_until_delivered(&api, &id);
    function.terminate();
    let status = function.expect_exit();
    assert_eq!(status.code(), Some(0), "{}", function.output());
    let outcome = api.wait_outcome(&id, Duration::ZERO).unwrap_or_else(|| {
        panic!(
            "the invocation in flight lost its outcome:\n{}",
            function.output()
        )
    });
    assert_eq!(json(&outcome), serde_json::json!(2));
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "served 2");
    let _ = std::fs::remove_file(marker);
}

#[test]
fn an_invocation_still_running_past_the_drain_is_named_and_the_hook_still_runs() {
    let api = Emulator::start();
    let marker = marker("stuck-marker");
    let mut function = start_with_hook(&api, &marker, &[]);
    let id = api.enqueue(Event::json(r#"{"sleep_ms":30000}"#));
    wait_until_delivered(&api, &id);
    let sent = Instant::now();
    function.terminate();
    let status = function.expect_exit();
    assert_eq!(status.code(), Some(0));
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    let output = function.output();
    assert!(
        output.contains(&format!(
            "shutting down with 1 invocation(s) still running after 200 ms, whose outcomes end \
             with the process: {id}"
        )),
        "{output}"
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "served 0");
    let _ = std::fs::remove_file(marker);
}

#[test]
fn a_signal_listener_set_up_in_init_still_hears_sigterm() {
    let api = Emulator::start();
    let marker = marker("listener-marker");
    let mut function = start_with_hook(&api, &marker, &[("SHUTDOWN_LISTEN", "1")]);
    api.invoke(Event::json("{}"));
    function.terminate();
    let status = function.expect_exit();
    assert_eq!(status.code(), Some(0), "{}", function.output());
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "served 1, listener heard",
        "{}",
        function.output()
    );
    let _ = std::fs::remove_file(marker);
}

/// Waits, bounded, until the function has received the invocation `id`.
fn wait_until_delivered(api: &Emulator, id: &str) {
    let until = Instant::now() + WAIT;
    while api.deliveries(id) == 0 {
        assert!(
            Instant::now() < until,
            "invocation {id} was never delivered"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn without_a_hook_nothing_is_registered() {
    let api = Emulator::start();
    let _function = Function::start(ECHO, &api, &[]);
    api.invoke(Event::json("1"));
    assert!(
        api.requests()
            .iter()
            .all(|r| !r.path.starts_with("/2020-01-01/")),
        "{:?}",
        api.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

#[test]
fn a_refused_registration_leaves_the_function_serving_and_says_so() {
    let api = Emulator::start();
    api.inject(Route::ExtensionRegister, Fault::Status(403));
    let marker = marker("refused-marker");
    let function = start_with_hook(&api, &marker, &[]);
    assert_eq!(json(&api.invoke(Event::json("{}"))), serde_json::json!(1));
    let output = function.wait_output("graceful shutdown is off");
    assert!(
        output.contains("the Extensions API answered `/2020-01-01/extension/register` with 403"),
        "{output}"
    );
}
