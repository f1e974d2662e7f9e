//! A function under test: its binary, started against an emulator as Lambda would start it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One of the functions compared.
#[derive(Clone)]
pub struct Subject {
    pub name: &'static str,
    pub binary: PathBuf,
    /// The handler library the binary loads (layer mode).
    pub library: Option<PathBuf>,
    /// The same echo logging three INFO lines per invocation, where the subject can log.
    pub logging: Option<PathBuf>,
    /// Variables set on top of Lambda's.
    pub env: Vec<(String, String)>,
}

impl Subject {
    pub fn new(name: &'static str, dir: &Path, binary: &str) -> Self {
        Subject {
            name,
            binary: dir.join(binary),
            library: None,
            logging: None,
            env: Vec::new(),
        }
    }

    /// The layer's `bootstrap` in `dir`, loading `dir/examples/lib<library>.so`.
    pub fn layer(name: &'static str, dir: &Path, library: &str) -> Self {
        Subject {
            name,
            binary: dir.join("bootstrap"),
            library: Some(dir.join("examples").join(format!("lib{library}.so"))),
            logging: None,
            env: Vec::new(),
        }
    }

    /// Bytes shipped: the binary, plus the library in layer mode.
    pub fn size(&self) -> u64 {
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        size(&self.binary) + self.library.as_deref().map_or(0, size)
    }

    /// Adds the subject's logging echo.
    pub fn with_logging(mut self, dir: &Path, binary: &str) -> Self {
        self.logging = Some(dir.join(binary));
        self
    }

    /// The logging echo as a subject of its own.
    pub fn logging(&self) -> Option<Subject> {
        self.logging.as_ref().map(|binary| Subject {
            name: self.name,
            binary: binary.clone(),
            library: None,
            logging: None,
            env: self.env.clone(),
        })
    }

    /// Starts the function against the Runtime API at `api`, optionally under `wrapper`
    /// (valgrind).
    pub fn start(&self, api: &str, wrapper: &[&str]) -> Running {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/23/[$LATEST]bench")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(library) = &self.library {
            command
                .env("_HANDLER", library.file_name().expect("a file name"))
                .env("LAMBDA_TASK_ROOT", library.parent().expect("a directory"));
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.binary.display()));
        Running { child }
    }
}

/// A started function; killed when dropped.
pub struct Running {
    pub child: Child,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of `/proc/<pid>/status` in kB (or a count), e.g. `VmHWM`, `VmRSS`, `Threads`.
    pub fn status_field(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait().ok().flatten() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
