//! The two ways to ship, built by the real tools: `cargo lambda build --release` (the function is
//! its own bootstrap), `layers/build` (the runtime layer plus a handler library), and
//! `cargo lambda watch` + `cargo lambda invoke` for local development.
//!
//! The builds go to `target/cargo-lambda`, away from the directory `cargo test` holds locked.

mod support;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const HELLO_EVENT: &str = r#"{"name": "Ada"}"#;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_release_build_zip_serves_the_runtime_api_as_var_task_bootstrap() {
    require_cargo_lambda();
    let zip = {
        let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
        run_ok(&mut cargo(&[
            "lambda",
            "build",
            "--release",
            "--example",
            "hello",
            "--output-format",
            "zip",
        ]));
        cargo_lambda_target().join("lambda/hello/bootstrap.zip")
    };
    let sandbox = LambdaSandbox::new();
    unzip(&zip, &sandbox.task());
    let bootstrap = sandbox.task().join("bootstrap");
    assert_eq!(
        mode(&bootstrap),
        0o755,
        "the zip keeps bootstrap executable"
    );

    let api = Emulator::start();
    let function = sandbox.start_own(&api, &[]);
    let outcome_of = |event: &str| {
        let id = api.enqueue(Event::json(event));
        let outcome = api
            .wait_outcome(&id, WAIT)
            .unwrap_or_else(|| panic!("no outcome; output:\n{}", function.output()));
        (id, outcome)
    };
    for _ in 0..3 {
        let (id, outcome) = outcome_of(HELLO_EVENT);
        let body = json(&outcome);
        assert_eq!(body["message"], "Hello, Ada!");
        assert_eq!(body["request_id"], id.as_str());
    }
    let (_, outcome) = outcome_of(r#"{"nom": "Ada"}"#);
    assert_eq!(
        outcome.error().document["errorType"],
        "Runtime.InvalidEvent"
    );
    assert_eq!(api.connections(), 1);
}

#[test]
fn an_arm64_release_build_zip_serves_the_runtime_api_under_qemu() {
    require_cargo_lambda();
    let lambda_dir = cargo_lambda_target().join("lambda-arm64");
    {
        let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
        run_ok(
            cargo(&[
                "lambda",
                "build",
                "--release",
                "--arm64",
                "--example",
                "hello",
                "--output-format",
                "zip",
                "--lambda-dir",
            ])
            .arg(&lambda_dir),
        );
    }
    let dir = LambdaSandbox::new();
    unzip(&lambda_dir.join("hello/bootstrap.zip"), &dir.task());
    let bootstrap = dir.task().join("bootstrap");
    assert_eq!(mode(&bootstrap), 0o755);
    expect_aarch64(&bootstrap);

    let api = Emulator::start();
    let function = dir.start_own_arm64(&api, &[]);
    let outcome_of = |event: &str| {
        let id = api.enqueue(Event::json(event));
        api.wait_outcome(&id, WAIT)
            .unwrap_or_else(|| panic!("no outcome; output:\n{}", function.output()))
    };
    assert_eq!(json(&outcome_of(HELLO_EVENT))["message"], "Hello, Ada!");
    assert_eq!(
        outcome_of(r#"{"nom": "Ada"}"#).error().document["errorType"],
        "Runtime.InvalidEvent"
    );
    assert_eq!(json(&outcome_of(HELLO_EVENT))["message"], "Hello, Ada!");
    assert_eq!(api.connections(), 1);
}

#[test]
fn layers_build_zips_serve_in_the_sandbox_as_opt_bootstrap() {
    require_cargo_lambda();
    let out = cargo_lambda_target().join("layers-test");
    {
        let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
        let output = run_ok(
            Command::new(repo_root().join("layers/build"))
                .current_dir(repo_root())
                .env("CARGO_TARGET_DIR", cargo_lambda_target())
                .arg("--out")
                .arg(&out),
        );
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(report.contains("All checks passed"), "{report}");
        for arch in ["x86_64", "arm64"] {
            for zip in [
                format!("lamina-runtime-{arch}.zip"),
                format!("hello-{arch}.zip"),
            ] {
                assert!(out.join(&zip).is_file(), "{zip} missing:\n{report}");
            }
        }
    }
    let sandbox = LambdaSandbox::new();
    unzip(&out.join("lamina-runtime-x86_64.zip"), &sandbox.opt());
    unzip(&out.join("hello-x86_64.zip"), &sandbox.task());
    let names = |dir: PathBuf| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(sandbox.opt()), ["bootstrap"]);
    assert_eq!(names(sandbox.task()), ["libhello.so"]);
    assert_eq!(mode(&sandbox.opt().join("bootstrap")), 0o755);

    let api = Emulator::start();
    let _function = sandbox.start(&api, "hello", &[("GREETING", "Hej")]);
    let id = api.enqueue(Event::json(HELLO_EVENT));
    let outcome = api.wait_outcome(&id, WAIT).expect("an outcome");
    assert_eq!(json(&outcome)["message"], "Hej, Ada!");

    // The arm64 pair, under qemu-user in the same kind of sandbox.
    let sandbox = LambdaSandbox::new();
    unzip(&out.join("lamina-runtime-arm64.zip"), &sandbox.opt());
    unzip(&out.join("hello-arm64.zip"), &sandbox.task());
    assert_eq!(names(sandbox.task()), ["libhello.so"]);
    expect_aarch64(&sandbox.task().join("libhello.so"));
    let api = Emulator::start();
    let function = sandbox.start_arm64(&api, "hello", &[("GREETING", "Hej")]);
    let id = api.enqueue(Event::json(HELLO_EVENT));
    let outcome = api
        .wait_outcome(&id, WAIT)
        .unwrap_or_else(|| panic!("no outcome; output:\n{}", function.output()));
    assert_eq!(json(&outcome)["message"], "Hej, Ada!");
    let id = api.enqueue(Event::json(r#"{"nom": "Ada"}"#));
    let outcome = api.wait_outcome(&id, WAIT).expect("an outcome");
    assert_eq!(
        outcome.error().document["errorType"],
        "Runtime.InvalidEvent"
    );
}

/// arm64 builds of the echo fixture (bin mode), of its handler library with the layer's
/// `bootstrap`, and of the axum example, copied out of the shared target directory while the
/// build lock is held.
struct Arm64Builds {
    echo: PathBuf,
    axum: PathBuf,
    bootstrap: PathBuf,
    library: PathBuf,
}

fn arm64_builds() -> &'static Arm64Builds {
    static BUILT: std::sync::OnceLock<Arm64Builds> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        require_cargo_lambda();
        let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
        let target = cargo_lambda_target();
        let keep = target.join("arm64-under-qemu");
        std::fs::create_dir_all(&keep).unwrap();
        let copy = |from: PathBuf, name: &str| {
            let to = keep.join(name);
            std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
            to
        };
        run_ok(&mut cargo(&[
            "lambda",
            "build",
            "--release",
            "--arm64",
            "-p",
            "lamina-integration",
            "--bin",
            "echo",
            "--bin",
            "axum_example",
        ]));
        let echo = copy(target.join("lambda/echo/bootstrap"), "echo");
        let axum = copy(target.join("lambda/axum_example/bootstrap"), "axum_example");
        run_ok(&mut cargo(&[
            "lambda",
            "build",
            "--release",
            "--arm64",
            "-p",
            "lamina-bootstrap",
            "--bin",
            "bootstrap",
        ]));
        let bootstrap = copy(target.join("lambda/bootstrap/bootstrap"), "bootstrap");
        run_ok(&mut cargo(&[
            "lambda",
            "build",
            "--release",
            "--arm64",
            "-p",
            "lamina-layer-fixtures",
            "--example",
            "echo",
        ]));
        let library = copy(
            target.join("aarch64-unknown-linux-gnu/release/examples/libecho.so"),
            "libecho.so",
        );
        Arm64Builds {
            echo,
            axum,
            bootstrap,
            library,
        }
    })
}

/// An answer, a handler error and a panic (the release profile aborts) from a running arm64
/// echo function, whichever way it runs.
fn answers_fails_and_panics(api: &Emulator, function: &mut Function) {
    let outcome_of = |event: &str| {
        let id = api.enqueue(Event::json(event));
        api.wait_outcome(&id, WAIT)
            .unwrap_or_else(|| panic!("no outcome; output:\n{}", function.output()))
    };
    assert_eq!(outcome_of(r#"{"n":1}"#).response(), br#"{"n":1}"#);
    let failed = outcome_of(r#"{"fail":"no stock"}"#);
    assert_eq!(
        failed.error().document,
        serde_json::json!({"errorType": "Handler.Requested", "errorMessage": "no stock"})
    );
    assert_eq!(
        failed.error().error_type_header.as_deref(),
        Some("Function.Requested")
    );
    let id = api.enqueue(Event::json(r#"{"panic":"boom"}"#));
    let posted = api.wait_outcome(&id, WAIT).expect("the panic is reported");
    assert_eq!(
        posted.error().error_type_header.as_deref(),
        Some("Runtime.HandlerPanic")
    );
    let message = posted.error().document["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("handler panicked: boom at "),
        "{message}"
    );
    // qemu-user ends itself with the guest's SIGABRT; bwrap, when it is the parent, passes that
    // on as exit status 128 + 6.
    let status = function.expect_exit();
    assert!(
        status.signal() == Some(6) || status.code() == Some(128 + 6),
        "SIGABRT, not {status:?}; output:\n{}",
        function.output()
    );
    assert_eq!(api.outcomes(&id).len(), 1, "reported once");
}

#[test]
fn an_arm64_function_answers_fails_and_panics_under_qemu() {
    let builds = arm64_builds();
    let api = Emulator::start();
    let sandbox = LambdaSandbox::new();
    std::fs::copy(&builds.echo, sandbox.task().join("bootstrap")).unwrap();
    let mut function = sandbox.start_own_arm64(&api, &[]);
    answers_fails_and_panics(&api, &mut function);
}

#[test]
fn an_arm64_layer_and_handler_library_answer_fail_and_panic_under_qemu() {
    let builds = arm64_builds();
    let api = Emulator::start();
    let sandbox = LambdaSandbox::new();
    std::fs::copy(&builds.bootstrap, sandbox.opt().join("bootstrap")).unwrap();
    std::fs::copy(&builds.library, sandbox.task().join("libecho.so")).unwrap();
    expect_aarch64(&sandbox.task().join("libecho.so"));
    let mut function = sandbox.start_arm64(&api, "echo", &[]);
    answers_fails_and_panics(&api, &mut function);
}

#[test]
fn an_arm64_http_function_answers_a_function_url_request_under_qemu() {
    let builds = arm64_builds();
    let api = Emulator::start();
    let mut function = start_arm64(&builds.axum, &api, &[]);
    let event = std::fs::read_to_string(repo_root().join("examples/axum/event.json")).unwrap();
    let outcome = api.invoke(Event::json(event));
    let response = json(&outcome);
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(
        serde_json::from_str::<Value>(response["body"].as_str().unwrap()).unwrap(),
        serde_json::json!({"id": 42, "currency": "EUR", "fields": "name,qty"})
    );
    // A route the app does not have is axum's 404, not an invocation error.
    let missing = r#"{"version":"2.0","routeKey":"$default","rawPath":"/nowhere","rawQueryString":"",
        "headers":{"host":"abc.lambda-url.eu-west-1.on.aws"},
        "requestContext":{"http":{"method":"GET","path":"/nowhere"},"stage":"$default"},
        "isBase64Encoded":false}"#;
    assert_eq!(json(&api.invoke(Event::json(missing)))["statusCode"], 404);
    assert!(function.is_running(), "output:\n{}", function.output());
}

/// `cargo lambda watch`, in a process group of its own so the function it spawns goes with it.
struct Watch {
    child: Child,
    port: u16,
}

impl Watch {
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// `cargo lambda watch` with `extra` arguments.
    fn start_with(extra: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = cargo(&[
            "lambda",
            "watch",
            "-p",
            "lamina-integration",
            "--ignore-changes",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start cargo lambda watch");
        Watch { child, port }
    }

    /// `cargo lambda invoke hello_example` with `event`, within `timeout` (the first one compiles
    /// the function); returns the exit status's success and the output.
    fn invoke(&self, event: &str, timeout: Duration) -> (bool, String) {
        self.invoke_function("hello_example", event, timeout)
    }

    /// `cargo lambda invoke function` with `event`; see [`Watch::invoke`].
    fn invoke_function(&self, function: &str, event: &str, timeout: Duration) -> (bool, String) {
        let until = Instant::now() + timeout;
        loop {
            let output = Command::new("cargo")
                .current_dir(repo_root())
                .args(["lambda", "invoke", function, "--data-ascii", event])
                .args(["-A", "127.0.0.1", "-P", &self.port.to_string()])
                .output()
                .expect("run cargo lambda invoke");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            // Until watch listens, invoke cannot connect: try again.
            let refused =
                text.contains("onnection refused") || text.contains("error sending request");
            if !refused || Instant::now() >= until {
                return (output.status.success(), text);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // The group this test created: watch and the function it runs.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_and_invoke_run_a_lamina_function() {
    require_cargo_lambda();
    let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    let watch = Watch::start();
    let (ok, first) = watch.invoke(HELLO_EVENT, Duration::from_secs(600));
    assert!(ok, "{first}");
    let first: Value = serde_json::from_str(first.trim()).expect(&first);
    assert_eq!(first["message"], "Hello, Ada!");

    let (ok, second) = watch.invoke(HELLO_EVENT, Duration::from_secs(60));
    assert!(ok, "{second}");
    let second: Value = serde_json::from_str(second.trim()).expect(&second);
    assert_ne!(first["request_id"], second["request_id"]);

    let (ok, failed) = watch.invoke(r#"{"nom": "Ada"}"#, Duration::from_secs(60));
    assert!(!ok, "a bad event fails the invoke: {failed}");
    assert!(failed.contains("Runtime.InvalidEvent"), "{failed}");
}

/// `curl` against `cargo lambda watch`'s Function URL endpoint: `-i` output (status line,
/// headers, body) of one request, retried while watch is not yet listening or still compiling.
fn curl(watch: &Watch, args: &[&str], path: &str, timeout: Duration) -> Vec<u8> {
    let until = Instant::now() + timeout;
    let url = format!("http://127.0.0.1:{}/lambda-url/{path}", watch.port);
    loop {
        let output = Command::new("curl")
            .args(["-s", "-i", "--max-time", "600"])
            .args(args)
            .arg(&url)
            .output()
            .expect("run curl");
        // Exit 7: cannot connect yet.
        if output.status.code() != Some(7) || Instant::now() >= until {
            assert!(output.status.success(), "curl {url} failed: {output:?}");
            return output.stdout;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The status code, the headers (lower-case names) and the body of a `curl -i` answer.
fn parse_http(answer: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&answer[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, answer[split + 4..].to_vec())
}

fn all<'h>(headers: &'h [(String, String)], name: &str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn watch_serves_function_url_requests_to_http_functions_over_plain_http() {
    require_cargo_lambda();
    let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    let watch = Watch::start();

    let answer = curl(
        &watch,
        &[],
        "axum_example/orders/42?fields=name%2Cqty",
        Duration::from_secs(600),
    );
    let (status, headers, body) = parse_http(&answer);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(all(&headers, "content-type"), ["application/json"]);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"id":42,"currency":"EUR","fields":"name,qty"}"#
    );

    let answer = curl(
        &watch,
        &[
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "--data",
            r#"{"sku":"hat","qty":3}"#,
        ],
        "axum_example/orders",
        Duration::from_secs(60),
    );
    let (status, _, body) = parse_http(&answer);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(String::from_utf8(body).unwrap(), r#"{"sku":"hat","qty":3}"#);

    let (status, headers, body) = parse_http(&curl(
        &watch,
        &[],
        "axum_example/logo.png",
        Duration::from_secs(60),
    ));
    assert_eq!(status, 200);
    assert_eq!(all(&headers, "content-type"), ["image/png"]);
    assert_eq!(
        body,
        [0x89, b'P', b'N', b'G', 0x00, 0xFF],
        "the bytes, not their base64"
    );

    let (status, headers, body) = parse_http(&curl(
        &watch,
        &["-X", "POST"],
        "axum_example/login",
        Duration::from_secs(60),
    ));
    assert_eq!(status, 200);
    assert_eq!(
        all(&headers, "set-cookie"),
        ["session=new; HttpOnly", "theme=light; Path=/"]
    );
    assert_eq!(body, b"welcome");

    let (status, _, _) = parse_http(&curl(
        &watch,
        &[],
        "axum_example/nowhere",
        Duration::from_secs(60),
    ));
    assert_eq!(status, 404);

    // The plain handler form, with a repeated query key and a cookie from the client.
    let answer = curl(
        &watch,
        &["-H", "cookie: a=1; b=2"],
        "http_echo/items/blue%20hat?tag=a&tag=b%20c",
        Duration::from_secs(600),
    );
    let (status, _, body) = parse_http(&answer);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let echoed: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(echoed["path"], "/items/blue%20hat", "{echoed}");
    assert_eq!(echoed["query"], "tag=a&tag=b%20c", "{echoed}");
    assert_eq!(echoed["method"], "GET");
    let (status, headers, _) = parse_http(&curl(
        &watch,
        &[],
        "http_echo/cookies",
        Duration::from_secs(60),
    ));
    assert_eq!(status, 204);
    assert_eq!(
        all(&headers, "set-cookie"),
        ["session=new; HttpOnly", "theme=light; Path=/"]
    );
}

/// Issue 16: a `lamina::http::Streaming` function under `cargo lambda watch` (1.9). Watch sends
/// Function URL requests as HTTP API events (their domain is not a `lambda-url` one), and an HTTP
/// API cannot stream, so lamina answers them whole: status, headers, both cookies and the body
/// are all there, they just arrive at once.
#[test]
fn watch_serves_a_streaming_http_function_whole() {
    require_cargo_lambda();
    let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    let watch = Watch::start();
    let answer = curl(
        &watch,
        &[],
        "stream_http/download?bytes=100000",
        Duration::from_secs(600),
    );
    let (status, headers, body) = parse_http(&answer);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(all(&headers, "content-type"), ["application/octet-stream"]);
    assert_eq!(all(&headers, "x-export"), ["orders"]);
    assert_eq!(
        all(&headers, "set-cookie"),
        ["session=abc; HttpOnly", "theme=dark"]
    );
    assert_eq!(body, vec![b'd'; 100_000]);

    let (status, headers, body) = parse_http(&curl(
        &watch,
        &["-N"],
        "stream_http/events",
        Duration::from_secs(60),
    ));
    assert_eq!(status, 200);
    assert_eq!(all(&headers, "content-type"), ["text/event-stream"]);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "event: tick\ndata: 1\n\nevent: tick\ndata: 2\n\nevent: tick\ndata: 3\n\n"
    );
}

/// Issue 15: `cargo lambda watch --concurrency 4` (Managed Instances as cargo-lambda mimics them:
/// up to four processes, each told `AWS_LAMBDA_MAX_CONCURRENCY=1`) with four invocations in
/// flight at once from parallel `cargo lambda invoke`s.
#[test]
fn watch_with_concurrency_serves_parallel_invokes_from_several_processes() {
    require_cargo_lambda();
    let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    let watch = Watch::start_with(&["--concurrency", "4"]);
    let (ok, warm) = watch.invoke_function("concurrent", "{}", Duration::from_secs(600));
    assert!(ok, "{warm}");
    let answers: Vec<(bool, String)> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    watch.invoke_function(
                        "concurrent",
                        r#"{"sleep_ms":3000}"#,
                        Duration::from_secs(120),
                    )
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut pids = std::collections::HashSet::new();
    for (ok, answer) in &answers {
        assert!(ok, "{answer}");
        let body: Value = serde_json::from_str(answer.trim()).expect(answer);
        pids.insert(body["pid"].as_u64().unwrap());
        // watch tells each process 1, so each serves one invocation at a time, and sets the
        // trace variable as without concurrency.
        assert_eq!(body["peak"], 1, "{body}");
    }
    assert!(
        pids.len() >= 2,
        "four invocations in flight ran in {pids:?}"
    );
}

#[test]
fn a_lamina_extension_gets_invoke_events_from_watch() {
    require_cargo_lambda();
    let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    let watch = Watch::start();
    let (ok, warm) = watch.invoke(HELLO_EVENT, Duration::from_secs(600));
    assert!(ok, "{warm}");
    // Watch serves the Extensions API under `/.rt`; an extension is started beside it, as its
    // documentation says, and subscribes to telemetry (which watch accepts and never delivers).
    let api = format!("http://127.0.0.1:{}/.rt", watch.port);
    let env = vec![
        ("AWS_LAMBDA_RUNTIME_API".to_owned(), api),
        ("EXTENSION_MODE".to_owned(), "telemetry".to_owned()),
    ];
    let extension_binary = Path::new(env!("CARGO_BIN_EXE_extension"));
    let mut extension = Function::spawn(extension_binary, &env, &[], None);
    extension.wait_output("registered function-name account-id");
    // Watch sends INVOKE only to the extensions waiting in `event/next` at that moment: ask
    // until the extension has been waiting when one arrived.
    let until = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let (ok, answer) = watch.invoke(HELLO_EVENT, Duration::from_secs(60));
        assert!(ok, "{answer}");
        let body: Value = serde_json::from_str(answer.trim()).expect(&answer);
        let id = body["request_id"]
            .as_str()
            .expect("a request id")
            .to_owned();
        let line = format!("invoke {id} hello_example -");
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && !extension.output().contains(&line) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if extension.output().contains(&line) || Instant::now() >= until {
            break extension.output().contains(&line);
        }
    };
    assert!(
        seen,
        "no INVOKE reached the extension:\n{}",
        extension.output()
    );
    assert!(extension.is_running(), "{}", extension.output());
    extension.stop();
}

#[test]
fn layers_build_makes_extension_layers_that_run_from_opt_extensions() {
    require_cargo_lambda();
    let out = cargo_lambda_target().join("layers-extension-test");
    {
        let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
        let output = run_ok(
            Command::new(repo_root().join("layers/build"))
                .current_dir(repo_root())
                .env("CARGO_TARGET_DIR", cargo_lambda_target())
                .args(["--extension", "report-forwarder", "--out"])
                .arg(&out),
        );
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(report.contains("All checks passed"), "{report}");
    }
    let report = r#"[{"time":"2026-12-07T10:00:00.000Z","type":"platform.report","record":{"requestId":"r-1","status":"success","metrics":{"durationMs":4.5,"billedDurationMs":5,"memorySizeMB":128,"maxMemoryUsedMB":19}}}]"#;
    for arch in ["x86_64", "arm64"] {
        let sandbox = LambdaSandbox::new();
        unzip(
            &out.join(format!("report-forwarder-{arch}.zip")),
            &sandbox.opt(),
        );
        let extensions = sandbox.opt().join("extensions");
        let entries: Vec<String> = std::fs::read_dir(&extensions)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(entries, ["report-forwarder"], "{arch}");
        let binary = extensions.join("report-forwarder");
        assert_eq!(mode(&binary), 0o755, "{arch}");
        let qemu = qemu_aarch64();
        let program: Vec<&str> = if arch == "arm64" {
            expect_aarch64(&binary);
            vec![
                qemu.to_str().unwrap(),
                "-L",
                AARCH64_SYSROOT,
                "/opt/extensions/report-forwarder",
            ]
        } else {
            vec!["/opt/extensions/report-forwarder"]
        };
        let api = Emulator::start();
        api.external("report-forwarder");
        // Without LAMBDA_TASK_ROOT the listener binds 127.0.0.1, where the emulator pushes.
        let mut extension = sandbox.start_program(&program, &api, &[("LAMBDA_TASK_ROOT", "")]);
        assert!(
            api.wait_extensions_ready(1, WAIT),
            "{arch}: {}",
            extension.output()
        );
        assert_eq!(api.extensions()[0].name, "report-forwarder", "{arch}");
        assert_eq!(api.wait_subscribers(1, WAIT).len(), 1, "{arch}");
        let answers = api.push_telemetry(report);
        assert_eq!(*answers[0].as_ref().expect("an answer"), 200, "{arch}");
        let output = extension.wait_output("\"BilledDuration\"");
        assert!(
            output.contains("\"FunctionName\":\"orders\""),
            "{arch}: {output}"
        );
        api.shutdown_extensions("spindown", Duration::from_secs(2));
        let status = extension.wait_exit(WAIT).expect("the extension exits");
        assert!(status.success(), "{arch}: {status:?}");
    }
}
