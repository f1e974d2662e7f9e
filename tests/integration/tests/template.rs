//! `templates/function`, as a new user meets it: `cargo lambda new --template`, then the
//! generated function's own tests, a local invocation, and release zips for x86_64 and arm64
//! that serve the Runtime API emulator (arm64 under qemu-user).
//!
//! The generated projects live in a temporary directory outside the workspace and depend on
//! `lamina-lambda` by version, as the template writes it; a `[patch.crates-io]` section points
//! that version at this checkout, the way a published release would be found on crates.io.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::*;

/// A function generated from the template into a directory of its own, removed when dropped.
struct Generated {
    dir: PathBuf,
    name: String,
}

impl Generated {
    /// `cargo lambda new NAME --template templates/function -y ARGS`, patched to this checkout.
    fn new(name: &str, args: &[&str]) -> Self {
        require_cargo_lambda();
        let parent =
            std::env::temp_dir().join(format!("lamina-template-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&parent);
        std::fs::create_dir_all(&parent).unwrap();
        let template = repo_root().join("templates/function");
        run_ok(
            Command::new("cargo")
                .current_dir(&parent)
                .args(["lambda", "new", name, "--template"])
                .arg(&template)
                .arg("--no-interactive")
                .args(args),
        );
        let generated = Generated {
            dir: parent.join(name),
            name: name.to_owned(),
        };
        let manifest = generated.dir.join("Cargo.toml");
        let mut text = std::fs::read_to_string(&manifest).unwrap();
        let root = repo_root();
        text.push_str(&format!(
            "\n[patch.crates-io]\nlamina-lambda = {{ path = {:?} }}\nlamina-lambda-macros = {{ path = {:?} }}\n",
            root.display().to_string(),
            root.join("macros").display().to_string()
        ));
        std::fs::write(&manifest, text).unwrap();
        generated
    }

    fn file(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.join(path))
            .unwrap_or_else(|e| panic!("{} in the generated function: {e}", path))
    }

    /// `cargo ARGS` in the generated function, building into the cargo-lambda target directory
    /// (its dependencies are mostly the workspace's, already built there).
    fn cargo(&self, args: &[&str]) -> Command {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .current_dir(&self.dir)
            .args(args)
            .env("CARGO_TARGET_DIR", cargo_lambda_target());
        command
    }

    /// `cargo lambda build --release --output-format zip` (plus `--arm64` when asked), and the
    /// zip it wrote.
    fn zip(&self, arm64: bool) -> PathBuf {
        let lambda_dir = cargo_lambda_target().join(if arm64 {
            "template-arm64"
        } else {
            "template-x86_64"
        });
        let mut args = vec!["lambda", "build", "--release", "--output-format", "zip"];
        if arm64 {
            args.push("--arm64");
        }
        run_ok(self.cargo(&args).arg("--lambda-dir").arg(&lambda_dir));
        lambda_dir.join(&self.name).join("bootstrap.zip")
    }
}

impl Drop for Generated {
    fn drop(&mut self) {
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

fn unzipped(zip: &Path) -> LambdaSandbox {
    let sandbox = LambdaSandbox::new();
    unzip(zip, &sandbox.task());
    sandbox
}

/// The event function's two outcomes, from a running `bootstrap`.
fn greets_and_refuses_an_empty_name(api: &Emulator, function: &Function) {
    let outcome_of = |event: &str| {
        let id = api.enqueue(Event::json(event));
        let outcome = api
            .wait_outcome(&id, WAIT)
            .unwrap_or_else(|| panic!("no outcome; output:\n{}", function.output()));
        (id, outcome)
    };
    let (id, outcome) = outcome_of(r#"{"name": "Ada"}"#);
    assert_eq!(
        json(&outcome),
        serde_json::json!({"message": "Hello, Ada!", "request_id": id})
    );
    let (_, outcome) = outcome_of(r#"{"name": ""}"#);
    assert_eq!(
        outcome.error().document,
        serde_json::json!({
            "errorType": "EmptyName",
            "errorMessage": "the event's `name` is empty; send a name to greet"
        })
    );
    let (_, outcome) = outcome_of(r#"{"nom": "Ada"}"#);
    assert_eq!(
        outcome.error().document["errorType"],
        "Runtime.InvalidEvent"
    );
}

#[test]
fn the_template_renders_an_event_function_by_default_and_an_http_one_when_asked() {
    let event = Generated::new("lamina-template-render", &[]);
    let manifest = event.file("Cargo.toml");
    assert!(
        manifest.contains("\nlamina-lambda = \"0.1\"\n"),
        "{manifest}"
    );
    assert!(!manifest.contains("axum"), "{manifest}");
    assert!(
        event.file("src/main.rs").contains("invoke_json"),
        "the event function comes with a unit test"
    );
    let names: Vec<String> = std::fs::read_dir(&event.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n == "CargoLambda.toml"),
        "the template's own settings stay behind: {names:?}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&event.file("event.json")).unwrap(),
        serde_json::json!({"name": "Ada"})
    );
    drop(event);

    // cargo-lambda's own `--http` flag and the template's question (answered with
    // `--render-var`) make the same HTTP function; `http=false` keeps the event one.
    let flag = Generated::new("lamina-template-flag", &["--http"]);
    let answered = Generated::new("lamina-template-answered", &["--render-var", "http=true"]);
    let declined = Generated::new("lamina-template-declined", &["--render-var", "http=false"]);
    for http in [&flag, &answered] {
        let manifest = http.file("Cargo.toml");
        assert!(
            manifest.contains(r#"lamina-lambda = { version = "0.1", features = ["http"] }"#),
            "{manifest}"
        );
        assert!(manifest.contains("axum"), "{manifest}");
        let main = http.file("src/main.rs");
        assert!(main.contains("lamina::http::serve"), "{main}");
        assert!(
            main.contains("invoke_http"),
            "the HTTP function comes with a unit test"
        );
        let event: Value = serde_json::from_str(&http.file("event.json")).unwrap();
        assert_eq!(event["rawPath"], "/hello/Ada");
    }
    assert_eq!(
        flag.file("src/main.rs")
            .replace("lamina-template-flag", "NAME"),
        answered
            .file("src/main.rs")
            .replace("lamina-template-answered", "NAME")
    );
    assert!(!declined.file("Cargo.toml").contains("axum"));
}

#[test]
fn a_new_event_function_tests_runs_locally_and_ships_for_both_architectures() {
    let function = Generated::new("lamina-template-event", &[]);

    let tested = run_ok(&mut function.cargo(&["test"]));
    let report = String::from_utf8_lossy(&tested.stdout);
    assert!(report.contains("test result: ok. 2 passed"), "{report}");

    let local = run_ok(&mut function.cargo(&["run", "--quiet", "--", "--event", "event.json"]));
    let answer: Value = serde_json::from_slice(&local.stdout).unwrap();
    assert_eq!(answer["message"], "Hello, Ada!");

    let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    let sandbox = unzipped(&function.zip(false));
    let api = Emulator::start();
    let running = sandbox.start_own(&api, &[]);
    greets_and_refuses_an_empty_name(&api, &running);
    assert_eq!(api.connections(), 1);

    let sandbox = unzipped(&function.zip(true));
    let api = Emulator::start();
    let running = sandbox.start_own_arm64(&api, &[]);
    greets_and_refuses_an_empty_name(&api, &running);
    assert_eq!(api.connections(), 1);
}

#[test]
fn a_new_http_function_tests_runs_locally_and_its_arm64_zip_answers_function_url_requests() {
    let function = Generated::new("lamina-template-http", &["--http"]);

    let tested = run_ok(&mut function.cargo(&["test"]));
    let report = String::from_utf8_lossy(&tested.stdout);
    assert!(report.contains("test result: ok. 1 passed"), "{report}");

    let local = run_ok(&mut function.cargo(&["run", "--quiet", "--", "--event", "event.json"]));
    let answer: Value = serde_json::from_slice(&local.stdout).unwrap();
    assert_eq!(answer["statusCode"], 200);
    assert_eq!(answer["body"], r#"{"message":"Hello, Ada!"}"#);

    let _one = BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    let sandbox = unzipped(&function.zip(true));
    let api = Emulator::start();
    let running = sandbox.start_own_arm64(&api, &[]);
    let request = |path: &str| {
        let event = function.file("event.json").replace("/hello/Ada", path);
        let id = api.enqueue(Event::json(event));
        let outcome = api
            .wait_outcome(&id, WAIT)
            .unwrap_or_else(|| panic!("no outcome; output:\n{}", running.output()));
        json(&outcome)
    };
    let greeted = request("/hello/Grace");
    assert_eq!(greeted["statusCode"], 200, "{greeted}");
    assert_eq!(greeted["body"], r#"{"message":"Hello, Grace!"}"#);
    assert_eq!(request("/nowhere")["statusCode"], 404);
    assert_eq!(api.connections(), 1);
}
