//! A Lambda Runtime API (2018-06-01) emulator for tests and benches, with fault injection.
//!
//! It serves the four documented calls on 127.0.0.1 with the documented status codes and
//! headers, records every request it receives, and can be told to misbehave: answer a route
//! with a given status, drop the connection before or in the middle of an answer, close an idle
//! keep-alive connection, or answer slowly. It is strict where the API is: a `POST` without
//! `Content-Length`, a request without `Host`, a response over the payload limit (`413`; past
//! the limit and 256 KiB more it answers before reading the rest and then closes, as Lambda's Go
//! agent does), a
//! second outcome for one invocation (`400`) and an init error after the first `/next` (`403`)
//! are refused.
//!
//! Each delivery of an invocation carries a fresh `Lambda-Runtime-Invocation-Id`; an outcome that
//! echoes an id other than the latest delivery's (an invocation [`Emulator::expire`]d, or handed
//! out again) is refused with `410 Gone`, as Lambda refuses a timed-out invocation's late answer.
//! Connections are served concurrently, so several `/next` long-polls can wait at once (Managed
//! Instances). The Extensions, Telemetry and Logs APIs are served as Lambda runs them, with
//! invocations that wait for extensions (see [`Emulator::external`] and the methods after it).
//!
//! Every thread it starts stops by itself once the [`Emulator`] is dropped.
//!
//! ```no_run
//! use lamina_emulator::{Emulator, Event, Outcome};
//! use std::time::Duration;
//!
//! let emulator = Emulator::start();
//! // ... start a function with AWS_LAMBDA_RUNTIME_API=emulator.address() ...
//! let id = emulator.enqueue(Event::json(r#"{"name":"Ada"}"#));
//! let outcome = emulator.wait_outcome(&id, Duration::from_secs(10));
//! assert!(matches!(outcome, Some(Outcome::Response(_))));
//! ```

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod extensions;
mod streaming;

pub use extensions::{ExtensionError, Registered, Subscriber};
pub use streaming::{Fnv, HTTP_INTEGRATION, StreamError, Streamed};

/// Lambda's limit for a streamed response: 200 MB.
pub const DEFAULT_STREAM_LIMIT: u64 = 200 * 1024 * 1024;

/// Lambda's limit for a synchronous response: 6 MiB and 100 bytes (its `413` says "Exceeded
/// maximum allowed payload size (6291556 bytes)").
pub const DEFAULT_RESPONSE_LIMIT: usize = 6 * 1024 * 1024 + 100;
/// How much of an oversized body Lambda's agent reads before it answers `413` and closes: Go's
/// `net/http` server reads up to 256 KiB of a body its handler left unread, and closes the
/// connection when more remains.
const UNREAD_BODY_LIMIT: usize = 256 * 1024;
/// How long Go's server waits between closing its side and closing the connection, so that the
/// client can read the answer before the reset.
const RST_AVOIDANCE_DELAY: Duration = Duration::from_millis(500);
const POLL: Duration = Duration::from_millis(20);

/// Which Runtime API call a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /2018-06-01/runtime/invocation/next`
    Next,
    /// `POST /2018-06-01/runtime/invocation/{id}/response`
    Response,
    /// `POST /2018-06-01/runtime/invocation/{id}/error`
    Error,
    /// `POST /2018-06-01/runtime/init/error`
    InitError,
    /// `POST /2020-01-01/extension/register`
    ExtensionRegister,
    /// `GET /2020-01-01/extension/event/next`
    ExtensionNext,
    /// `POST /2020-01-01/extension/init/error`
    ExtensionInitError,
    /// `POST /2020-01-01/extension/exit/error`
    ExtensionExitError,
    /// `PUT /2022-07-01/telemetry`
    Telemetry,
    /// `PUT /2020-08-15/logs`
    Logs,
}

/// A way for the emulator to misbehave on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a JSON error body, without acting on the request.
    Status(u16),
    /// Read the request, then close the connection without answering or acting on it.
    DropBeforeAnswer,
    /// Write the first bytes of a `200` answer, then close the connection, not acting on it.
    DropMidAnswer,
    /// Act and answer normally, then close the connection (an idle keep-alive timeout).
    CloseAfterAnswer,
    /// Wait this long, then act and answer normally.
    Delay(Duration),
    /// For a streamed response: read this many body bytes, then close the connection (the
    /// caller went away), recording the stream as incomplete.
    DropMidStream(u64),
}

/// An invocation to hand out on `/next`.
#[derive(Debug, Clone)]
pub struct Event {
    request_id: Option<String>,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    omit: Vec<String>,
}

impl Event {
    /// An event with this JSON payload and the headers Lambda always sends.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Event {
            request_id: None,
            body: body.into(),
            headers: Vec::new(),
            omit: Vec::new(),
        }
    }

    /// Uses this request id instead of a generated one.
    pub fn request_id(mut self, id: &str) -> Self {
        self.request_id = Some(id.to_owned());
        self
    }

    /// Adds a header, or replaces one of the default headers.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Leaves out a default header (request id, deadline or function ARN).
    pub fn without(mut self, name: &str) -> Self {
        self.omit.push(name.to_ascii_lowercase());
        self
    }
}

/// How an invocation ended, as the function posted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST …/response` with this body.
    Response(Vec<u8>),
    /// `POST …/error`.
    Error(Posted),
    /// `POST …/response` in streaming mode: the stream as read, complete or not.
    Streamed(Streamed),
}

impl Outcome {
    /// The response body, or a panic that shows the error.
    pub fn response(&self) -> &[u8] {
        match self {
            Outcome::Response(body) => body,
            Outcome::Error(posted) => panic!("expected a response, got an error: {posted:?}"),
            Outcome::Streamed(streamed) => {
                panic!("expected a whole response, got a stream: {streamed:?}")
            }
        }
    }

    /// The streamed response, or a panic that shows the outcome.
    pub fn streamed(&self) -> &Streamed {
        match self {
            Outcome::Streamed(streamed) => streamed,
            other => panic!("expected a streamed response, got {other:?}"),
        }
    }

    /// The posted error, or a panic that shows the response.
    pub fn error(&self) -> &Posted {
        match self {
            Outcome::Error(posted) => posted,
            Outcome::Response(body) => {
                panic!(
                    "expected an error, got a response: {}",
                    String::from_utf8_lossy(body)
                )
            }
            Outcome::Streamed(streamed) => panic!("expected an error, got a stream: {streamed:?}"),
        }
    }
}

/// An error document posted to `…/error` or `/init/error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The `Lambda-Runtime-Function-Error-Type` header.
    pub error_type_header: Option<String>,
    /// The error type Lambda's runtime agent records from that header: the header when it
    /// matches `(Runtime|Function)\.[A-Z][a-zA-Z]+`, else `Function.Unknown` for a `Function.`
    /// prefix and `Runtime.Unknown` for anything else (`fatalerror.go` in AWS's Runtime
    /// Interface Emulator).
    pub platform_error_type: String,
    /// The body, parsed as JSON (`Null` when it was not JSON).
    pub document: serde_json::Value,
}

/// One request as the emulator received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET` or `POST`.
    pub method: String,
    /// The path, with any prefix.
    pub path: String,
    /// Headers in the order received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Which accepted connection it came on, counting from 0.
    pub connection: usize,
    /// When it had been read in full (for a chunked body: its head).
    pub received: Instant,
    /// Whether the body was chunked (a streamed response); `body` is then empty.
    pub chunked: bool,
}

impl Request {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Event)>,
    delivered: HashMap<String, usize>,
    /// The invocation id of each request id's latest delivery.
    invocation_ids: HashMap<String, String>,
    /// Outcomes refused with `410 Gone`, by request id.
    gone: HashMap<String, usize>,
    outcomes: HashMap<String, Vec<Outcome>>,
    init_error: Option<Posted>,
    init_done: bool,
    extensions: extensions::Extensions,
    requests: Vec<Request>,
    faults: HashMap<Route, VecDeque<Fault>>,
    connections: usize,
    next_id: u64,
    response_limit: usize,
    stream_limit: u64,
    stream_keep: usize,
    stream_rate: Option<u64>,
    stream_hash: bool,
    prefix: String,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    shutdown: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running emulator on 127.0.0.1; stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts an emulator on a free port of 127.0.0.1.
    pub fn start() -> Self {
        Self::start_with_prefix("")
    }

    /// Starts an emulator that serves the API under `prefix` (as `cargo lambda watch` does, with
    /// `/.rt/<function>`).
    pub fn start_with_prefix(prefix: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                response_limit: DEFAULT_RESPONSE_LIMIT,
                stream_limit: DEFAULT_STREAM_LIMIT,
                stream_keep: 16 * 1024 * 1024,
                stream_hash: true,
                prefix: prefix.trim_end_matches('/').to_owned(),
                ..State::default()
            }),
            changed: Condvar::new(),
            shutdown: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || accept_loop(listener, shared))
        };
        Emulator {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`: `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The variables Lambda sets for every function, with `AWS_LAMBDA_RUNTIME_API` pointing
    /// here: what a function process under test needs in its environment.
    ///
    /// ```no_run
    /// use lamina_emulator::{Emulator, Event};
    /// use std::process::{Command, Stdio};
    ///
    /// let emulator = Emulator::start();
    /// let mut function = Command::new("target/debug/my-function") // `env!("CARGO_BIN_EXE_…")`
    ///     .envs(emulator.lambda_env())
    ///     .stdout(Stdio::null())
    ///     .spawn()
    ///     .unwrap();
    /// let outcome = emulator.invoke(Event::json(r#"{"name":"Ada"}"#));
    /// assert_eq!(outcome.response(), br#"{"message":"Hello, Ada!"}"#);
    /// function.kill().unwrap();
    /// ```
    pub fn lambda_env(&self) -> Vec<(String, String)> {
        let address = self.address();
        [
            ("AWS_LAMBDA_RUNTIME_API", address.as_str()),
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

    /// Queues an invocation; returns its request id.
    pub fn enqueue(&self, event: Event) -> String {
        let mut state = self.shared.lock();
        state.next_id += 1;
        let id = event
            .request_id
            .clone()
            .unwrap_or_else(|| format!("req-{:04}-{:08x}", state.next_id, self.addr.port()));
        state.queue.push_back((id.clone(), event));
        self.shared.changed.notify_all();
        id
    }

    /// Queues an invocation and waits up to 20 s for its outcome.
    ///
    /// # Panics
    /// When no outcome arrives in time, with the requests seen so far.
    pub fn invoke(&self, event: Event) -> Outcome {
        let id = self.enqueue(event);
        self.wait_outcome(&id, Duration::from_secs(20))
            .unwrap_or_else(|| {
                panic!(
                    "no outcome for {id} within 20 s; requests: {:#?}",
                    self.request_lines()
                )
            })
    }

    /// Waits for the first outcome posted for `request_id`.
    pub fn wait_outcome(&self, request_id: &str, timeout: Duration) -> Option<Outcome> {
        self.wait(timeout, |s| {
            s.outcomes.get(request_id).and_then(|o| o.first().cloned())
        })
    }

    /// Waits for an init error.
    pub fn wait_init_error(&self, timeout: Duration) -> Option<Posted> {
        self.wait(timeout, |s| s.init_error.clone())
    }

    /// Every outcome accepted or refused for `request_id`, in order.
    pub fn outcomes(&self, request_id: &str) -> Vec<Outcome> {
        self.shared
            .lock()
            .outcomes
            .get(request_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The `Lambda-Runtime-Invocation-Id` of `request_id`'s latest delivery.
    pub fn invocation_id(&self, request_id: &str) -> Option<String> {
        self.shared.lock().invocation_ids.get(request_id).cloned()
    }

    /// Ends the invocation `request_id` as a timeout would: an outcome posted for it from now on
    /// with its (now stale) invocation id is refused with `410 Gone`.
    pub fn expire(&self, request_id: &str) {
        let mut state = self.shared.lock();
        if let Some(id) = state.invocation_ids.get_mut(request_id) {
            id.push_str("-expired");
        }
    }

    /// How many outcomes for `request_id` were refused with `410 Gone`.
    pub fn gone(&self, request_id: &str) -> usize {
        self.shared
            .lock()
            .gone
            .get(request_id)
            .copied()
            .unwrap_or(0)
    }

    /// How many times `/next` handed out `request_id`.
    pub fn deliveries(&self, request_id: &str) -> usize {
        self.shared
            .lock()
            .delivered
            .get(request_id)
            .copied()
            .unwrap_or(0)
    }

    /// Makes the next request on `route` misbehave; faults on one route apply in order.
    pub fn inject(&self, route: Route, fault: Fault) {
        self.shared
            .lock()
            .faults
            .entry(route)
            .or_default()
            .push_back(fault);
    }

    /// Sets the largest response body accepted before answering `413`.
    pub fn set_response_limit(&self, bytes: usize) {
        self.shared.lock().response_limit = bytes;
    }

    /// Sets the largest streamed response taken (200 MB unless set); past it the stream is cut
    /// with `413`.
    pub fn set_stream_limit(&self, bytes: u64) {
        self.shared.lock().stream_limit = bytes;
    }

    /// Sets how many bytes of each streamed body are kept for [`Streamed::body`] (16 MiB unless
    /// set); the rest is counted and hashed.
    pub fn set_stream_keep(&self, bytes: usize) {
        self.shared.lock().stream_keep = bytes;
    }

    /// Whether to hash streamed bodies ([`Streamed::checksum`]; on unless turned off): a
    /// benchmark turns it off, so the emulator reads as fast as the function writes.
    pub fn set_stream_hash(&self, on: bool) {
        self.shared.lock().stream_hash = on;
    }

    /// Reads streamed bodies at most this fast (bytes per second), as a slow caller would, or
    /// as fast as they come with `None`.
    pub fn set_stream_rate(&self, bytes_per_second: Option<u64>) {
        self.shared.lock().stream_rate = bytes_per_second;
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// How many TCP connections have been accepted.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// Waits until `/next` has been asked `count` times in all.
    pub fn wait_next_polls(&self, count: usize, timeout: Duration) -> bool {
        self.wait(timeout, |s| {
            let polls = s
                .requests
                .iter()
                .filter(|r| r.path.ends_with("/invocation/next"))
                .count();
            (polls >= count).then_some(())
        })
        .is_some()
    }

    /// Waits for the first request and returns when it arrived.
    pub fn wait_first_request(&self, timeout: Duration) -> Option<Instant> {
        self.wait(timeout, |s| s.requests.first().map(|r| r.received))
    }

    /// Forgets the requests recorded so far (a long run would otherwise keep them all).
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    fn request_lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("#{} {} {}", r.connection, r.method, r.path))
            .collect()
    }

    fn wait<T>(&self, timeout: Duration, mut probe: impl FnMut(&State) -> Option<T>) -> Option<T> {
        let until = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(found) = probe(&state) {
                return Some(found);
            }
            let now = Instant::now();
            if now >= until {
                return None;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, (until - now).min(POLL))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        // The acceptor blocks in `accept` (polling would add its interval to every cold start
        // measured); one connection of our own wakes it to see the shutdown.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.shutdown.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, _)) => {
                let index = {
                    let mut state = shared.lock();
                    state.connections += 1;
                    state.connections - 1
                };
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    let _ = serve_connection(stream, index, &shared);
                });
            }
            Err(_) => thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// What to do with the connection after a request.
enum After {
    KeepOpen,
    Close,
}

fn serve_connection(mut stream: TcpStream, index: usize, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(POLL * 5))?;
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let Some(request) = read_request(&mut stream, &mut buf, index, shared)? else {
            return Ok(());
        };
        match handle(&mut stream, &mut buf, request, shared)? {
            After::KeepOpen => {}
            After::Close => return Ok(()),
        }
    }
}

/// Reads one request; `None` when the peer closed or the emulator shut down.
fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    index: usize,
    shared: &Shared,
) -> io::Result<Option<Request>> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(head_len) = parsed
            .parse(buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
        {
            let method = parsed.method.unwrap_or("").to_owned();
            let path = parsed.path.unwrap_or("").to_owned();
            let headers: Vec<(String, String)> = parsed
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let length = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok());
            let chunked = headers.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case("transfer-encoding")
                    && v.to_ascii_lowercase().trim_end().ends_with("chunked")
            });
            if chunked && length.is_none() {
                buf.drain(..head_len);
                return Ok(Some(Request {
                    method,
                    path,
                    headers,
                    body: Vec::new(),
                    connection: index,
                    received: Instant::now(),
                    chunked: true,
                }));
            }
            let length = match (method.as_str(), length) {
                ("POST", None) => {
                    write_answer(
                        stream,
                        411,
                        "{\"errorMessage\":\"Content-Length required\"}",
                        &[],
                    )?;
                    return Ok(None);
                }
                (_, l) => l.unwrap_or(0),
            };
            let limit = shared.lock().response_limit;
            if method == "POST" && path.ends_with("/response") && length > limit + UNREAD_BODY_LIMIT
            {
                // As Lambda's agent: read what Go's server reads, answer, close our side, and
                // reset the connection half a second later with the rest of the body unread.
                let take = limit + UNREAD_BODY_LIMIT;
                while buf.len() < head_len + take {
                    if !fill(stream, buf, &mut chunk, shared)? {
                        return Ok(None);
                    }
                }
                let body = buf[head_len..head_len + take].to_vec();
                buf.clear();
                shared.lock().requests.push(Request {
                    method,
                    path,
                    headers,
                    body,
                    connection: index,
                    received: Instant::now(),
                    chunked: false,
                });
                shared.changed.notify_all();
                write_answer(
                    stream,
                    413,
                    &payload_too_large(limit),
                    &[("Connection", "close")],
                )?;
                let _ = stream.shutdown(std::net::Shutdown::Write);
                thread::sleep(RST_AVOIDANCE_DELAY);
                return Ok(None);
            }
            while buf.len() < head_len + length {
                if !fill(stream, buf, &mut chunk, shared)? {
                    return Ok(None);
                }
            }
            let body = buf[head_len..head_len + length].to_vec();
            buf.drain(..head_len + length);
            return Ok(Some(Request {
                method,
                path,
                headers,
                body,
                connection: index,
                received: Instant::now(),
                chunked: false,
            }));
        }
        if !fill(stream, buf, &mut chunk, shared)? {
            return Ok(None);
        }
    }
}

/// Reads more bytes; `false` on EOF or shutdown.
fn fill(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
    shared: &Shared,
) -> io::Result<bool> {
    loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            return Ok(false);
        }
        match stream.read(chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(true);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

fn route_of(path: &str) -> Option<(Route, Option<&str>)> {
    match path {
        "/2020-01-01/extension/register" => return Some((Route::ExtensionRegister, None)),
        "/2020-01-01/extension/event/next" => return Some((Route::ExtensionNext, None)),
        "/2020-01-01/extension/init/error" => return Some((Route::ExtensionInitError, None)),
        "/2020-01-01/extension/exit/error" => return Some((Route::ExtensionExitError, None)),
        "/2022-07-01/telemetry" => return Some((Route::Telemetry, None)),
        "/2020-08-15/logs" => return Some((Route::Logs, None)),
        _ => {}
    }
    let rest = path.strip_prefix("/2018-06-01/runtime/")?;
    if rest == "invocation/next" {
        return Some((Route::Next, None));
    }
    if rest == "init/error" {
        return Some((Route::InitError, None));
    }
    let rest = rest.strip_prefix("invocation/")?;
    if let Some(id) = rest.strip_suffix("/response") {
        return Some((Route::Response, Some(id)));
    }
    rest.strip_suffix("/error")
        .map(|id| (Route::Error, Some(id)))
}

fn handle(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: Request,
    shared: &Shared,
) -> io::Result<After> {
    let (method, path) = (request.method.clone(), request.path.clone());
    let prefix = shared.lock().prefix.clone();
    shared.lock().requests.push(request.clone());
    shared.changed.notify_all();

    if request.header("host").is_none() {
        write_answer(
            stream,
            400,
            r#"{"errorMessage":"HTTP/1.1 requires a Host header"}"#,
            &[],
        )?;
        return Ok(After::KeepOpen);
    }
    let Some((route, id)) = path.strip_prefix(prefix.as_str()).and_then(route_of) else {
        write_answer(stream, 404, r#"{"errorMessage":"no such route"}"#, &[])?;
        return Ok(After::KeepOpen);
    };
    let expected = match route {
        Route::Next | Route::ExtensionNext => "GET",
        Route::Telemetry | Route::Logs => "PUT",
        _ => "POST",
    };
    if method != expected {
        write_answer(stream, 405, r#"{"errorMessage":"method not allowed"}"#, &[])?;
        return Ok(After::KeepOpen);
    }

    if request.chunked {
        if route != Route::Response {
            write_answer(
                stream,
                411,
                r#"{"errorMessage":"only a streamed response may be chunked"}"#,
                &[],
            )?;
            return Ok(After::Close);
        }
        return answer_stream(stream, buf, shared, id.unwrap_or_default(), &request);
    }
    let fault = shared
        .lock()
        .faults
        .get_mut(&route)
        .and_then(VecDeque::pop_front);
    let mut after = After::KeepOpen;
    match fault {
        Some(Fault::Status(status)) => {
            let body =
                format!(r#"{{"errorMessage":"injected fault","errorType":"Injected{status}"}}"#);
            write_answer(stream, status, &body, &[])?;
            return Ok(After::KeepOpen);
        }
        Some(Fault::DropBeforeAnswer) => return Ok(After::Close),
        Some(Fault::DropMidAnswer) => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Le")?;
            return Ok(After::Close);
        }
        Some(Fault::CloseAfterAnswer) => after = After::Close,
        Some(Fault::Delay(d)) => thread::sleep(d),
        Some(Fault::DropMidStream(_)) | None => {}
    }

    match route {
        Route::Next => answer_next(stream, shared)?,
        Route::ExtensionRegister => return extensions::register(stream, &request, shared),
        Route::ExtensionNext => return extensions::next(stream, &request, shared),
        Route::ExtensionInitError => return extensions::error(stream, &request, shared, "init"),
        Route::ExtensionExitError => return extensions::error(stream, &request, shared, "exit"),
        Route::Telemetry => return extensions::subscribe(stream, &request, shared, "telemetry"),
        Route::Logs => return extensions::subscribe(stream, &request, shared, "logs"),
        Route::Response | Route::Error => {
            let id = id.unwrap_or_default();
            answer_outcome(stream, shared, route, id, &request)?
        }
        Route::InitError => {
            let mut state = shared.lock();
            if state.init_done {
                drop(state);
                write_answer(
                    stream,
                    403,
                    r#"{"errorMessage":"init already finished","errorType":"InvalidStateTransition"}"#,
                    &[],
                )?;
            } else {
                state.init_error = Some(posted(&request));
                shared.changed.notify_all();
                drop(state);
                write_answer(stream, 202, r#"{"status":"OK"}"#, &[])?;
            }
        }
    }
    Ok(after)
}

fn posted(request: &Request) -> Posted {
    let header = request.header("lambda-runtime-function-error-type");
    Posted {
        error_type_header: header.map(str::to_owned),
        platform_error_type: platform_error_type(header.unwrap_or_default()),
        document: serde_json::from_slice(&request.body).unwrap_or(serde_json::Value::Null),
    }
}

/// What Lambda's runtime agent records for a `Lambda-Runtime-Function-Error-Type` value.
fn platform_error_type(header: &str) -> String {
    let (prefix, name) = match header.split_once('.') {
        Some(("Function", name)) => ("Function", name),
        Some(("Runtime", name)) => ("Runtime", name),
        _ => ("Runtime", ""),
    };
    let valid = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.bytes().all(|b| b.is_ascii_alphabetic());
    if valid {
        header.to_owned()
    } else {
        format!("{prefix}.Unknown")
    }
}

fn answer_next(stream: &mut TcpStream, shared: &Shared) -> io::Result<()> {
    let (id, event) = {
        let mut state = shared.lock();
        state.init_done = true;
        loop {
            if shared.shutdown.load(Ordering::SeqCst) {
                return Ok(());
            }
            // A long-poll whose process has died (a worker of a process that aborted) must not
            // take an invocation: Lambda hands invocations only to a live runtime.
            if !state.queue.is_empty() && peer_closed(stream) {
                return Ok(());
            }
            // Lambda hands out an invocation only while every extension waits in `event/next`.
            if !state.extensions.ready() {
                state = shared
                    .changed
                    .wait_timeout(state, POLL)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
                continue;
            }
            if let Some(next) = state.queue.pop_front() {
                let count = state.delivered.entry(next.0.clone()).or_default();
                *count += 1;
                let invocation_id = format!("inv-{}-{count}", next.0);
                state.invocation_ids.insert(next.0.clone(), invocation_id);
                break next;
            }
            state = shared
                .changed
                .wait_timeout(state, POLL)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    };
    shared.changed.notify_all();
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64 + 30_000);
    let mut headers: Vec<(String, String)> = vec![
        ("Lambda-Runtime-Aws-Request-Id".into(), id.clone()),
        ("Lambda-Runtime-Deadline-Ms".into(), deadline.to_string()),
        (
            "Lambda-Runtime-Invocation-Id".into(),
            shared.lock().invocation_ids[&id].clone(),
        ),
        (
            "Lambda-Runtime-Invoked-Function-Arn".into(),
            "arn:aws:lambda:us-east-1:123456789012:function:emulated".into(),
        ),
    ];
    headers.retain(|(n, _)| !event.omit.contains(&n.to_ascii_lowercase()));
    for (name, value) in &event.headers {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers.push((name.clone(), value.clone()));
    }
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    {
        let find = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        let deadline_ms = find("Lambda-Runtime-Deadline-Ms")
            .and_then(|d| d.parse().ok())
            .unwrap_or(deadline);
        let arn = find("Lambda-Runtime-Invoked-Function-Arn").unwrap_or("");
        let trace = find("Lambda-Runtime-Trace-Id");
        shared
            .lock()
            .extensions
            .invocation_started(&id, deadline_ms, arn, trace);
    }
    write_answer_bytes(stream, 200, &event.body, &pairs)
}

/// Whether the client has closed its end (its process ended).
fn peer_closed(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let closed = matches!(stream.peek(&mut [0u8; 1]), Ok(0));
    let _ = stream.set_nonblocking(false);
    closed
}

fn answer_outcome(
    stream: &mut TcpStream,
    shared: &Shared,
    route: Route,
    id: &str,
    request: &Request,
) -> io::Result<()> {
    let mut state = shared.lock();
    if !state.delivered.contains_key(id) {
        drop(state);
        return write_answer(
            stream,
            400,
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
            &[],
        );
    }
    let echoed = request.header("lambda-runtime-invocation-id");
    if echoed.is_some_and(|echoed| state.invocation_ids.get(id).map(String::as_str) != Some(echoed))
    {
        *state.gone.entry(id.to_owned()).or_default() += 1;
        shared.changed.notify_all();
        drop(state);
        return write_answer(
            stream,
            410,
            r#"{"errorMessage":"Invocation has already ended","errorType":"InvocationGone"}"#,
            &[],
        );
    }
    if route == Route::Response && request.body.len() > state.response_limit {
        let limit = state.response_limit;
        drop(state);
        return write_answer(stream, 413, &payload_too_large(limit), &[]);
    }
    let (outcome, status) = match route {
        Route::Response => (Outcome::Response(request.body.clone()), "success"),
        _ => (Outcome::Error(posted(request)), "error"),
    };
    let entry = state.outcomes.entry(id.to_owned()).or_default();
    let repeat = !entry.is_empty();
    entry.push(outcome);
    if !repeat {
        state.extensions.runtime_done(id, status);
    }
    shared.changed.notify_all();
    drop(state);
    if repeat {
        write_answer(
            stream,
            400,
            r#"{"errorMessage":"Invalid state transition","errorType":"InvalidStateTransition"}"#,
            &[],
        )
    } else {
        write_answer(stream, 202, r#"{"status":"OK"}"#, &[])
    }
}

/// A streamed response: checked and recorded as it is read, answered `202` once it has ended.
fn answer_stream(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shared: &Shared,
    id: &str,
    request: &Request,
) -> io::Result<After> {
    let mode = request.header("lambda-runtime-function-response-mode");
    if mode != Some("streaming") {
        // Lambda's agent fails the invocation (`Runtime.InvalidResponseModeHeader`).
        write_answer(
            stream,
            400,
            r#"{"errorMessage":"Invalid Lambda-Runtime-Function-Response-Mode","errorType":"Runtime.InvalidResponseModeHeader"}"#,
            &[],
        )?;
        return Ok(After::Close);
    }
    let (how, refused) = {
        let mut state = shared.lock();
        let echoed = request.header("lambda-runtime-invocation-id");
        let refused = if !state.delivered.contains_key(id) {
            Some((
                400,
                r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
            ))
        } else if echoed
            .is_some_and(|e| state.invocation_ids.get(id).map(String::as_str) != Some(e))
        {
            *state.gone.entry(id.to_owned()).or_default() += 1;
            Some((
                410,
                r#"{"errorMessage":"Invocation has already ended","errorType":"InvocationGone"}"#,
            ))
        } else {
            None
        };
        let queued = state.faults.get_mut(&Route::Response);
        let drop_after = match queued.as_ref().and_then(|q| q.front()) {
            Some(&Fault::DropMidStream(after)) => {
                queued.and_then(VecDeque::pop_front);
                Some(after)
            }
            _ => None,
        };
        let how = streaming::Reading {
            keep: state.stream_keep,
            limit: state.stream_limit,
            rate: state.stream_rate,
            drop_after,
            hash: state.stream_hash,
        };
        (how, refused)
    };
    if let Some((status, body)) = refused {
        shared.changed.notify_all();
        // The body is not read: the connection cannot carry another request.
        write_answer(stream, status, body, &[])?;
        return Ok(After::Close);
    }
    let head = streaming::StreamHead {
        content_type: request.header("content-type").map(str::to_owned),
        declared_trailers: request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("trailer"))
            .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_owned()))
            .filter(|t| !t.is_empty())
            .collect(),
        connection: request.connection,
    };
    if how.rate.is_some() {
        // A slow reader with a small window, so what waits is the function, not a receive
        // buffer the kernel grew to tens of megabytes.
        streaming::shrink_receive_buffer(stream, 64 * 1024);
    }
    let mut chunk = vec![0u8; 64 * 1024];
    let (streamed, ending) = streaming::read(stream, buf, head, &how, |stream, buf| {
        fill(stream, buf, &mut chunk, shared)
    })?;
    let mut state = shared.lock();
    let entry = state.outcomes.entry(id.to_owned()).or_default();
    let repeat = !entry.is_empty();
    entry.push(Outcome::Streamed(streamed));
    if !repeat {
        state.extensions.runtime_done(id, "success");
    }
    shared.changed.notify_all();
    drop(state);
    match ending {
        streaming::Ending::Complete if repeat => {
            write_answer(
                stream,
                400,
                r#"{"errorMessage":"Invalid state transition","errorType":"InvalidStateTransition"}"#,
                &[],
            )?;
            Ok(After::KeepOpen)
        }
        streaming::Ending::Complete => {
            write_answer(stream, 202, r#"{"status":"OK"}"#, &[])?;
            Ok(After::KeepOpen)
        }
        streaming::Ending::Malformed => {
            write_answer(
                stream,
                400,
                r#"{"errorMessage":"malformed chunked body","errorType":"InvalidRequest"}"#,
                &[],
            )?;
            Ok(After::Close)
        }
        streaming::Ending::TooLarge => {
            write_answer(
                stream,
                413,
                r#"{"errorMessage":"Exceeded maximum allowed payload size","errorType":"RequestEntityTooLarge"}"#,
                &[],
            )?;
            Ok(After::Close)
        }
        streaming::Ending::Cut => Ok(After::Close),
    }
}

/// The document Lambda's Runtime API answers an oversized response with.
fn payload_too_large(limit: usize) -> String {
    format!(
        r#"{{"errorMessage":"Exceeded maximum allowed payload size ({limit} bytes).","errorType":"RequestEntityTooLarge"}}"#
    )
}

fn write_answer(
    stream: &mut TcpStream,
    status: u16,
    body: &str,
    headers: &[(&str, &str)],
) -> io::Result<()> {
    write_answer_bytes(stream, status, body.as_bytes(), headers)
}

fn write_answer_bytes(
    stream: &mut TcpStream,
    status: u16,
    body: &[u8],
    headers: &[(&str, &str)],
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        411 => "Length Required",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes)
}

/// The README's example, compiled as a doctest so it keeps matching the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
