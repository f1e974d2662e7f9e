//! Starting a lamina function as Lambda would, against the emulator, and watching it.

#![allow(dead_code, unused_imports)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub use lamina_emulator::{Emulator, Event, Fault, Outcome, Posted, Route};

pub const WAIT: Duration = Duration::from_secs(20);

/// A function process; killed (by its PID, which this test started) when dropped.
pub struct Function {
    child: Child,
    output: Arc<Mutex<String>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Function {
    /// Starts `binary` under the emulator with Lambda's environment plus `extra`, where an
    /// empty value removes a variable.
    pub fn start(binary: impl AsRef<Path>, emulator: &Emulator, extra: &[(&str, &str)]) -> Self {
        let mut env = emulator.lambda_env();
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            if !v.is_empty() {
                env.push((k.to_string(), v.to_string()));
            }
        }
        Self::spawn(binary.as_ref(), &env, &[], None)
    }

    /// Starts `binary` with exactly `env` (plus PATH), `args` and optional stdin bytes.
    pub fn spawn(
        binary: &Path,
        env: &[(String, String)],
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Self {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_BACKTRACE", "0")
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        if let Some(bytes) = stdin {
            use std::io::Write;
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(bytes).unwrap();
        }
        let output = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for (tag, mut pipe) in [("", out), ("[stderr] ", err)] {
            let output = Arc::clone(&output);
            readers.push(thread::spawn(move || {
                let mut reader = BufReader::new(&mut pipe);
                let mut line = Vec::new();
                while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    let mut all = output.lock().unwrap();
                    all.push_str(tag);
                    all.push_str(String::from_utf8_lossy(&line).trim_end_matches('\n'));
                    all.push('\n');
                    line.clear();
                }
            }));
        }
        Function {
            child,
            output,
            readers,
        }
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the process to exit; panics with its output if it does not.
    pub fn expect_exit(&mut self) -> ExitStatus {
        match self.wait_exit(WAIT) {
            Some(status) => status,
            None => panic!("the function did not exit; output:\n{}", self.output()),
        }
    }

    /// What the process printed so far; stderr lines are tagged `[stderr] `. Complete once it
    /// has exited.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output contains `text`; returns the output either way.
    pub fn wait_output(&self, text: &str) -> String {
        self.wait_output_times(text, 1)
    }

    /// Waits until the output contains `text` `times` times (lines reach it through a reader
    /// thread, after the process wrote them); returns the output either way.
    pub fn wait_output_times(&self, text: &str, times: usize) -> String {
        let until = Instant::now() + WAIT;
        loop {
            let output = self.output();
            if output.matches(text).count() >= times || Instant::now() >= until {
                return output;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process (this test started it) and reads the rest of its output.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    /// The process's peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmHWM in /proc/<pid>/status")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends `SIGTERM` to the process (this test started it), as Lambda does at shutdown.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fixture `name` built with `panic = "abort"`, in a target directory of its own (building
/// there does not wait on the lock `cargo test` holds on the main one).
pub fn abort_build(name: &str) -> PathBuf {
    abort_target().join("debug").join(name)
}

/// The fixture `name` built as a handler library (`lib<name>.so`), with `panic = "abort"` as
/// `cargo lambda build --release` builds it.
pub fn layer_library(name: &str) -> PathBuf {
    abort_target()
        .join("debug")
        .join("examples")
        .join(format!("lib{name}.so"))
}

/// The runtime layer's `bootstrap`, built with `panic = "abort"`.
pub fn layer_bootstrap() -> PathBuf {
    abort_target().join("debug").join("bootstrap")
}

/// Builds, once per test binary, everything that runs with `panic = "abort"`: the fixtures as
/// binaries, the same fixtures as handler libraries, and the layer's `bootstrap`.
fn abort_target() -> PathBuf {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let main_binary = PathBuf::from(env!("CARGO_BIN_EXE_echo"));
    let target = main_binary
        .parent()
        .and_then(Path::parent)
        .expect("binaries live in <target>/<profile>/")
        .join("panic-abort");
    if !*built {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--quiet",
                "-p",
                "lamina-integration",
                "-p",
                "lamina-layer-fixtures",
                "-p",
                "lamina-bootstrap",
                "--bins",
                "--examples",
                "--config",
            ])
            .arg("profile.dev.panic=\"abort\"")
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the panic=abort fixtures failed");
        *built = true;
    }
    target
}

/// A Lambda-shaped file system for a function on the runtime layer, run with `bwrap`: the layer
/// at `/opt` (so its `bootstrap` is `/opt/bootstrap`), the function's package at `/var/task`
/// (with no `bootstrap` of its own), a writable `/tmp`, and everything else read-only.
pub struct LambdaSandbox {
    dir: PathBuf,
}

impl LambdaSandbox {
    /// An empty sandbox: fill `opt()` and `task()`.
    pub fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lamina-sandbox-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("opt")).unwrap();
        std::fs::create_dir_all(dir.join("task")).unwrap();
        LambdaSandbox { dir }
    }

    /// The layer's bootstrap at `/opt/bootstrap` and `libraries` (file names in the task root)
    /// at `/var/task`.
    pub fn with_layer(libraries: &[(&str, PathBuf)]) -> Self {
        let sandbox = Self::new();
        std::fs::copy(layer_bootstrap(), sandbox.opt().join("bootstrap")).unwrap();
        for (name, source) in libraries {
            std::fs::copy(source, sandbox.task().join(name))
                .unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
        }
        sandbox
    }

    /// What Lambda extracts the layers to (`/opt`).
    pub fn opt(&self) -> PathBuf {
        self.dir.join("opt")
    }

    /// What Lambda extracts the function's package to (`/var/task`).
    pub fn task(&self) -> PathBuf {
        self.dir.join("task")
    }

    /// Starts `/opt/bootstrap` as Lambda would, with `_HANDLER=handler`, Lambda's environment
    /// pointing at `emulator`, and `extra` (an empty value removes a variable).
    pub fn start(&self, emulator: &Emulator, handler: &str, extra: &[(&str, &str)]) -> Function {
        self.run(&["/opt/bootstrap"], emulator, handler, extra)
    }

    /// Starts the function's own `/var/task/bootstrap` (bin mode), as Lambda prefers it.
    pub fn start_own(&self, emulator: &Emulator, extra: &[(&str, &str)]) -> Function {
        self.run(&["/var/task/bootstrap"], emulator, "bootstrap", extra)
    }

    /// [`start`](Self::start) for an arm64 layer: `/opt/bootstrap` (and the library it loads)
    /// run under qemu-user, which the sandbox reaches through its read-only `/usr`.
    pub fn start_arm64(
        &self,
        emulator: &Emulator,
        handler: &str,
        extra: &[(&str, &str)],
    ) -> Function {
        expect_aarch64(&self.opt().join("bootstrap"));
        let qemu = qemu_aarch64();
        let program = [
            qemu.to_str().unwrap(),
            "-L",
            AARCH64_SYSROOT,
            "/opt/bootstrap",
        ];
        self.run(&program, emulator, handler, extra)
    }

    /// [`start_own`](Self::start_own) for an arm64 `bootstrap`, under qemu-user.
    pub fn start_own_arm64(&self, emulator: &Emulator, extra: &[(&str, &str)]) -> Function {
        expect_aarch64(&self.task().join("bootstrap"));
        let qemu = qemu_aarch64();
        let program = [
            qemu.to_str().unwrap(),
            "-L",
            AARCH64_SYSROOT,
            "/var/task/bootstrap",
        ];
        self.run(&program, emulator, "bootstrap", extra)
    }

    /// Starts `program` (its path inside the sandbox first: an extension at
    /// `/opt/extensions/NAME`, say) with Lambda's environment and `extra`.
    pub fn start_program(
        &self,
        program: &[&str],
        emulator: &Emulator,
        extra: &[(&str, &str)],
    ) -> Function {
        self.run(program, emulator, "bootstrap", extra)
    }

    fn run(
        &self,
        program: &[&str],
        emulator: &Emulator,
        handler: &str,
        extra: &[(&str, &str)],
    ) -> Function {
        let mut env = emulator.lambda_env();
        env.push(("LAMBDA_TASK_ROOT".into(), "/var/task".into()));
        env.push(("LAMBDA_RUNTIME_DIR".into(), "/var/runtime".into()));
        env.push(("_HANDLER".into(), handler.into()));
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            if !v.is_empty() {
                env.push((k.to_string(), v.to_string()));
            }
        }
        let opt = self.opt();
        let task = self.task();
        let mut args: Vec<&str> = vec![
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "--symlink",
            "usr/bin",
            "/bin",
            "--ro-bind",
            "/etc",
            "/etc",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--dir",
            "/var/runtime",
        ];
        let binds = [
            "--ro-bind".to_owned(),
            opt.display().to_string(),
            "/opt".to_owned(),
            "--ro-bind".to_owned(),
            task.display().to_string(),
            "/var/task".to_owned(),
        ];
        args.extend(binds.iter().map(String::as_str));
        args.extend(["--remount-ro", "/", "--chdir", "/var/task"]);
        args.extend(program);
        Function::spawn(&bwrap(), &env, &args, None)
    }
}

impl Drop for LambdaSandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The workspace's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The target directory for `cargo lambda` builds: not the one `cargo test` holds locked.
pub fn cargo_lambda_target() -> PathBuf {
    let main_binary = PathBuf::from(env!("CARGO_BIN_EXE_echo"));
    main_binary
        .parent()
        .and_then(Path::parent)
        .expect("binaries live in <target>/<profile>/")
        .join("cargo-lambda")
}

/// One cargo-lambda build at a time within a test binary: they share a target directory.
pub static BUILDS: Mutex<()> = Mutex::new(());

/// `cargo ARGS` in the workspace, building into [`cargo_lambda_target`].
pub fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(repo_root())
        .args(args)
        .env("CARGO_TARGET_DIR", cargo_lambda_target());
    command
}

/// Runs `command`; fails with its output unless it succeeds.
pub fn run_ok(command: &mut Command) -> std::process::Output {
    let output = command.output().expect("start the command");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Fails with how to install cargo-lambda when it is missing.
pub fn require_cargo_lambda() {
    let found = Command::new("cargo")
        .args(["lambda", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "this test drives cargo-lambda: `pip install cargo-lambda ziglang` (or run tests/run)"
    );
}

const UNZIP: &str = r#"
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive:
    for info in archive.infolist():
        path = archive.extract(info, sys.argv[2])
        mode = (info.external_attr >> 16) & 0o7777
        if mode:
            os.chmod(path, mode)
"#;

/// Extracts `zip` into `dir` as Lambda does, keeping each file's mode bits.
pub fn unzip(zip: &Path, dir: &Path) {
    let status = Command::new("python3")
        .args(["-c", UNZIP])
        .arg(zip)
        .arg(dir)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "could not extract {}", zip.display());
}

/// Where Debian's `libc6-arm64-cross` puts the aarch64 dynamic loader and C library, which
/// qemu-user takes as the root for an arm64 binary's own loader and libraries.
pub const AARCH64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// qemu-user's aarch64 emulator with the arm64 C library beside it, or a failure that says how
/// to get them.
pub fn qemu_aarch64() -> PathBuf {
    let qemu = Path::new("/usr/bin/qemu-aarch64");
    assert!(
        qemu.is_file()
            && Path::new(AARCH64_SYSROOT)
                .join("lib/ld-linux-aarch64.so.1")
                .is_file(),
        "the arm64 tests run binaries under qemu-user: `apt-get install -y qemu-user libc6-arm64-cross` (or run tests/run)"
    );
    qemu.to_path_buf()
}

/// Fails unless `path` is an aarch64 ELF file, so an arm64 test never passes by running an
/// x86_64 binary natively.
pub fn expect_aarch64(path: &Path) {
    const EM_AARCH64: u16 = 0xB7;
    let header = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        header.len() > 20 && &header[..4] == b"\x7fELF",
        "{} is not an ELF file",
        path.display()
    );
    assert_eq!(
        u16::from_le_bytes([header[18], header[19]]),
        EM_AARCH64,
        "{} is not built for aarch64",
        path.display()
    );
}

/// Starts an arm64 `binary` (bin mode) under qemu-user with Lambda's environment pointing at
/// `emulator`, plus `extra` (an empty value removes a variable).
pub fn start_arm64(binary: &Path, emulator: &Emulator, extra: &[(&str, &str)]) -> Function {
    expect_aarch64(binary);
    let mut env = emulator.lambda_env();
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        if !v.is_empty() {
            env.push((k.to_string(), v.to_string()));
        }
    }
    let binary = binary.to_str().expect("a UTF-8 path");
    Function::spawn(
        &qemu_aarch64(),
        &env,
        &["-L", AARCH64_SYSROOT, binary],
        None,
    )
}

/// `bwrap`, or a failure that says how to get it.
fn bwrap() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("bwrap"))
            .find(|candidate| candidate.is_file())
    });
    found.expect("the layer tests need bubblewrap: `apt-get install -y bubblewrap`")
}

/// The response body as JSON.
pub fn json(outcome: &Outcome) -> serde_json::Value {
    serde_json::from_slice(outcome.response()).expect("the response is JSON")
}

/// A response over the payload limit ends its invocation with Lambda's readable error, once,
/// and the function serves the next one: the same for every way lamina runs a handler.
/// `binary` answers `{"bytes":N}` with a JSON string of N `x`s.
pub fn oversized_response_is_a_readable_error(binary: &str) {
    let api = Emulator::start();
    api.set_response_limit(1000);
    let _function = Function::start(binary, &api, &[]);
    let id = api.enqueue(Event::json(r#"{"bytes":5000}"#));
    let outcome = api.wait_outcome(&id, WAIT).unwrap();
    assert_eq!(
        outcome.error().document,
        serde_json::json!({
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": "the response of 5002 bytes is over Lambda's payload limit (6 MB for a synchronous call); return less, or store the data (in S3, say) and return where it is"
        })
    );
    assert_eq!(api.outcomes(&id).len(), 1, "one outcome recorded");
    assert_eq!(
        api.invoke(Event::json(r#"{"bytes":3}"#)).response(),
        br#""xxx""#
    );
}

/// Under `panic = "abort"`: `{"panic":"boom"}` to the running `function` is reported as
/// `Runtime.HandlerPanic` before the process dies of SIGABRT, whichever way lamina runs the
/// handler.
pub fn panic_is_reported_before_the_abort(api: &Emulator, function: &mut Function) {
    use std::os::unix::process::ExitStatusExt;
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
    let status = function.expect_exit();
    assert_eq!(
        status.signal(),
        Some(6),
        "SIGABRT; output:\n{}",
        function.output()
    );
}
