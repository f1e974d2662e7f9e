//! The same binaries outside Lambda: one invocation from a file or stdin, no Runtime API.

mod support;

use std::path::Path;

use serde_json::json;
use support::Function;

const ECHO: &str = env!("CARGO_BIN_EXE_echo");
const STATEFUL: &str = env!("CARGO_BIN_EXE_stateful");
const CONTEXT: &str = env!("CARGO_BIN_EXE_context");

fn run(
    binary: &str,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&[u8]>,
) -> (i32, String, String) {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut function = Function::spawn(Path::new(binary), &env, args, stdin);
    let code = function.expect_exit().code().expect("exited normally");
    let (mut stdout, mut stderr) = (String::new(), String::new());
    for line in function.output().lines() {
        match line.strip_prefix("[stderr] ") {
            Some(err) => stderr.push_str(&format!("{err}\n")),
            None => stdout.push_str(&format!("{line}\n")),
        }
    }
    (code, stdout, stderr)
}

fn event_file(name: &str, contents: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("lamina-local-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn an_event_file_gives_the_response_on_stdout_alone() {
    let file = event_file("order.json", r#"{"id":"o1","items":[{"sku":"a","qty":4}]}"#);
    let (code, stdout, stderr) = run(
        STATEFUL,
        &[("STATE_LABEL", "local"), ("RUST_LOG", "debug")],
        &["--event", file.to_str().unwrap()],
        None,
    );
    std::fs::remove_file(&file).unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "{\"id\":\"o1\",\"total_qty\":4,\"init_runs\":1,\"invocation\":1,\"label\":\"local\"}\n"
    );
}

#[test]
fn stdin_is_the_default_event_source() {
    let (code, stdout, _) = run(ECHO, &[], &[], Some(br#"{"piped":true}"#));
    assert_eq!((code, stdout.as_str()), (0, "{\"piped\":true}\n"));
    let (code, stdout, _) = run(ECHO, &[], &["--event", "-"], Some(b"[1,2]"));
    assert_eq!((code, stdout.as_str()), (0, "[1,2]\n"));
}

#[test]
fn a_handler_error_is_lambdas_json_on_stderr_with_status_1() {
    let (code, stdout, stderr) = run(ECHO, &[], &[], Some(br#"{"fail":"no stock"}"#));
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    let last = stderr.lines().last().unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(last).unwrap(),
        json!({"errorType": "Handler.Requested", "errorMessage": "no stock"})
    );
}

#[test]
fn init_errors_and_panics_fail_the_local_run() {
    let (code, _, stderr) = run(STATEFUL, &[], &[], Some(b"{}"));
    assert_eq!(code, 1);
    assert!(stderr.ends_with("{\"errorType\":\"Init.VarError\",\"errorMessage\":\"environment variable not found\"}\n"), "{stderr}");
    let (code, _, stderr) = run(ECHO, &[], &[], Some(br#"{"panic":"local boom"}"#));
    assert_eq!(code, 1);
    assert!(stderr.contains("\"errorType\":\"Runtime.HandlerPanic\",\"errorMessage\":\"handler panicked: local boom at "), "{stderr}");
}

#[test]
fn the_local_context_has_a_real_deadline_and_the_environments_identity() {
    let (code, stdout, stderr) = run(
        CONTEXT,
        &[("AWS_LAMBDA_FUNCTION_NAME", "mine")],
        &["--timeout", "60"],
        Some(b"{}"),
    );
    assert_eq!(code, 0, "{stderr}");
    let seen: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let remaining = seen["remaining_ms"].as_u64().unwrap();
    assert!(remaining > 50_000 && remaining <= 60_000, "{remaining}");
    assert_eq!(seen["function_name"], "mine");
    assert_eq!(seen["function_version"], "$LATEST");
    assert_eq!(seen["memory_mb"], 128);
    assert_eq!(seen["request_id"].as_str().unwrap().len(), 36);
}

/// Moving `_X_AMZN_TRACE_ID` from the loop to the handler's side (issue 12, item 5) must not make
/// a local run, which never had a loop writing it, clear a value the user exported.
#[test]
fn a_local_run_leaves_an_exported_trace_env_alone() {
    let exported = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let (code, stdout, stderr) = run(CONTEXT, &[("_X_AMZN_TRACE_ID", exported)], &[], Some(b"{}"));
    assert_eq!(code, 0, "{stderr}");
    let seen: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(seen["trace_env"], exported);
    assert_eq!(seen["xray_trace_header"], serde_json::Value::Null);
}

#[test]
fn help_and_usage_errors() {
    let (code, stdout, _) = run(ECHO, &[], &["--help"], None);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("usage: echo [--event FILE] [--timeout SECONDS]\n"),
        "{stdout}"
    );
    assert!(stdout.contains("AWS_LAMBDA_RUNTIME_API"), "{stdout}");

    let (code, _, stderr) = run(ECHO, &[], &["--event", "/nonexistent/event.json"], None);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: cannot read the event file `/nonexistent/event.json`: "),
        "{stderr}"
    );

    let (code, _, stderr) = run(ECHO, &[], &["--evnt", "x.json"], None);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: unknown argument `--evnt`\n\nusage: echo"),
        "{stderr}"
    );
}
