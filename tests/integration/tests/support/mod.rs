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

/// The variables Lambda sets for every function, pointing at `api`.
pub fn lambda_env(api: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api),
        ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/orders"),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/23/[$LATEST]0123456789abcdef",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

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
        let mut env = lambda_env(&emulator.address());
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
        let until = Instant::now() + WAIT;
        loop {
            let output = self.output();
            if output.contains(text) || Instant::now() >= until {
                return output;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
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
    static BUILD: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let main_binary = PathBuf::from(env!("CARGO_BIN_EXE_echo"));
    let target = main_binary
        .parent()
        .and_then(Path::parent)
        .expect("binaries live in <target>/<profile>/")
        .join("panic-abort");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "-p",
            "lamina-integration",
            "--bins",
            "--config",
        ])
        .arg("profile.dev.panic=\"abort\"")
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the panic=abort fixtures failed");
    target.join("debug").join(name)
}

/// The response body as JSON.
pub fn json(outcome: &Outcome) -> serde_json::Value {
    serde_json::from_slice(outcome.response()).expect("the response is JSON")
}
