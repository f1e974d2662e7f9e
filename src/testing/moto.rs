//! `moto_server` (moto's AWS API emulator, from PyPI `moto[server]`) on 127.0.0.1, for the tests
//! of lamina's AWS SDK clients: started by a test, killed when dropped.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto's own server app, with one request at a time: moto's DynamoDB checks a write's
/// condition and then writes, without a lock, so two conditional writes on different threads can
/// both pass, where DynamoDB's are atomic. Serialized, moto keeps DynamoDB's guarantee.
const SERIALIZED: &str = r#"
import sys, threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serialized(environ, start_response):
    with lock:
        return list(app(environ, start_response))
run_simple("127.0.0.1", int(sys.argv[1]), serialized, threaded=True)
"#;

/// A `moto_server` process; killed by its PID when dropped.
pub(crate) struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    /// `moto_server` as installed.
    pub(crate) fn start() -> Moto {
        Moto::spawn(|port| {
            let mut command = Command::new("moto_server");
            command.args(["-H", "127.0.0.1", "-p", port]);
            command
        })
    }

    /// moto serving one request at a time ([`SERIALIZED`]), for tests that race conditional
    /// writes.
    pub(crate) fn start_serialized() -> Moto {
        Moto::spawn(|port| {
            let mut command = Command::new("python3");
            command.args(["-c", SERIALIZED, port]);
            command
        })
    }

    fn spawn(command: impl FnOnce(&str) -> Command) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let install = "install moto with `pip install 'moto[server]'` (it provides `moto_server`)";
        let mut child = command(&port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `moto_server`: {e}; {install}"));
        let until = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("`moto_server` exited at start ({status}); {install}");
            }
            assert!(
                Instant::now() < until,
                "`moto_server` did not listen within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The environment of a client of this server: a region, test credentials, and the
    /// server's URL under `endpoint_var`.
    pub(crate) fn env<'a>(&'a self, endpoint_var: &'a str) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| {
            Some(match key {
                "AWS_REGION" => "us-east-1".to_owned(),
                "AWS_ACCESS_KEY_ID" => "testing".to_owned(),
                "AWS_SECRET_ACCESS_KEY" => "testing".to_owned(),
                _ if key == endpoint_var => self.url.clone(),
                _ => return None,
            })
        }
    }

    /// The server's URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
