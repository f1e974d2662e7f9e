//! The HTTP listener the Telemetry API (or the Logs API) pushes batches to.
//!
//! Under Lambda the destination is `sandbox.localdomain`: the listener binds the address
//! `/etc/hosts` gives that name, or every address of the sandbox when it has no entry (nothing
//! outside the sandbox reaches it). Anywhere else (the in-repo emulator, `cargo lambda watch`)
//! it binds 127.0.0.1 and names that address. Each connection is served on a thread of its own
//! (kept for the next connection once it closes); each batch is read, handed to the extension's
//! telemetry handler, and answered once the handler returns: `200`, or `500` with the handler's
//! error, or `400` for a body that is not a JSON array.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};

use tokio::sync::mpsc;

use crate::extension::batch::parse_batch;
use crate::extension::record::Telemetry;

/// The host name Lambda's documentation gives for a subscriber's destination.
const SANDBOX_HOST: &str = "sandbox.localdomain";
/// The most bytes a push may hold: Lambda's largest buffer (1 MiB of records) with room for
/// the JSON around them.
const MAX_BODY: usize = 8 * 1024 * 1024;
const MAX_HEAD: usize = 16 * 1024;
/// Connections served at once; Lambda's agent uses one or two.
const MAX_CONNECTIONS: usize = 16;

/// A batch on its way to the handler, and where its outcome goes back to the connection.
pub(crate) struct Delivery {
    pub(crate) batch: Vec<Telemetry>,
    pub(crate) done: std::sync::mpsc::SyncSender<Result<(), String>>,
}

/// A bound listener and the URI to subscribe it with.
pub(crate) struct Listener {
    socket: TcpListener,
    pub(crate) uri: String,
}

/// Binds the listener on `port` (`0`: one the system picks).
pub(crate) fn bind(port: u16) -> io::Result<Listener> {
    let under_lambda = std::env::var_os("LAMBDA_TASK_ROOT").is_some();
    if !under_lambda {
        let socket = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let port = socket.local_addr()?.port();
        return Ok(Listener {
            socket,
            uri: format!("http://127.0.0.1:{port}"),
        });
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let address = host_address(&hosts, SANDBOX_HOST).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let socket = TcpListener::bind(SocketAddr::new(address, port))?;
    let port = socket.local_addr()?.port();
    Ok(Listener {
        socket,
        uri: format!("http://{SANDBOX_HOST}:{port}"),
    })
}

/// The address `hosts` (the text of `/etc/hosts`) gives `name`.
fn host_address(hosts: &str, name: &str) -> Option<IpAddr> {
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let address = words.next()?.parse().ok()?;
        words
            .any(|word| word.eq_ignore_ascii_case(name))
            .then_some(address)
    })
}

impl Listener {
    /// Serves pushes on threads of lamina's, handing each batch to `deliveries`.
    pub(crate) fn serve(self, deliveries: mpsc::Sender<Delivery>) -> io::Result<()> {
        std::thread::Builder::new()
            .name("lamina-telemetry".into())
            .spawn(move || accept(self.socket, deliveries))?;
        Ok(())
    }
}

/// The connection threads: each serves one connection, then waits for another, so a push on a
/// new connection (as Lambda may make each time) does not start a thread.
struct Workers {
    /// Threads serving a connection or waiting for one.
    open: AtomicUsize,
    /// Threads waiting for a connection.
    idle: AtomicUsize,
    queue: Mutex<std_mpsc::Receiver<TcpStream>>,
}

fn accept(socket: TcpListener, deliveries: mpsc::Sender<Delivery>) {
    let (queue, queued) = std_mpsc::channel::<TcpStream>();
    let workers = Arc::new(Workers {
        open: AtomicUsize::new(0),
        idle: AtomicUsize::new(0),
        queue: Mutex::new(queued),
    });
    for stream in socket.incoming() {
        let Ok(stream) = stream else { continue };
        let claimed = workers
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |idle| {
                idle.checked_sub(1)
            })
            .is_ok();
        if claimed {
            if queue.send(stream).is_err() {
                return;
            }
            continue;
        }
        if workers.open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            workers.open.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let (workers, deliveries) = (Arc::clone(&workers), deliveries.clone());
        let spawned = std::thread::Builder::new()
            .name("lamina-telemetry-conn".into())
            .spawn(move || work(stream, &workers, &deliveries));
        if spawned.is_err() {
            tracing::warn!("no thread for a telemetry connection; it is closed");
        }
    }
}

fn work(mut stream: TcpStream, workers: &Workers, deliveries: &mpsc::Sender<Delivery>) {
    let mut buf = Buffer::new();
    loop {
        if let Err(err) = serve_connection(stream, &mut buf, deliveries) {
            tracing::debug!(%err, "a telemetry connection ended");
        }
        buf.reset();
        workers.idle.fetch_add(1, Ordering::SeqCst);
        let next = match workers.queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => break,
        };
        match next {
            Ok(next) => stream = next,
            Err(_) => break,
        }
    }
    workers.open.fetch_sub(1, Ordering::SeqCst);
}

/// A connection's bytes: `bytes[..filled]` read and not yet used, the rest room for reads
/// (zeroed once, when it grows, never for each read).
struct Buffer {
    bytes: Vec<u8>,
    filled: usize,
}

impl Buffer {
    const START: usize = 16 * 1024;
    /// A buffer grown past this for a large push is given back after it.
    const KEPT: usize = 256 * 1024;

    fn new() -> Self {
        Buffer {
            bytes: vec![0; Self::START],
            filled: 0,
        }
    }

    fn data(&self) -> &[u8] {
        &self.bytes[..self.filled]
    }

    /// Reads once; `false` at the end of the connection.
    fn fill(&mut self, stream: &mut TcpStream) -> io::Result<bool> {
        if self.filled == self.bytes.len() {
            self.grow(self.bytes.len() * 2);
        }
        let read = stream.read(&mut self.bytes[self.filled..])?;
        self.filled += read;
        Ok(read > 0)
    }

    fn grow(&mut self, len: usize) {
        if len > self.bytes.len() {
            self.bytes.resize(len, 0);
        }
    }

    /// Drops the first `used` bytes.
    fn consume(&mut self, used: usize) {
        self.bytes.copy_within(used..self.filled, 0);
        self.filled -= used;
    }

    fn reset(&mut self) {
        self.filled = 0;
        if self.bytes.len() > Self::KEPT {
            self.bytes = vec![0; Self::START];
        }
    }
}

fn serve_connection(
    mut stream: TcpStream,
    buf: &mut Buffer,
    deliveries: &mpsc::Sender<Delivery>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    loop {
        let Some((head_len, length)) = read_head(&mut stream, buf)? else {
            return Ok(());
        };
        let Some(length) = length else {
            answer(&mut stream, 411, "a push needs Content-Length")?;
            return Ok(());
        };
        if length > MAX_BODY {
            answer(&mut stream, 413, "a push may hold 8 MiB at most")?;
            return Ok(());
        }
        buf.grow(head_len + length);
        while buf.filled < head_len + length {
            if !buf.fill(&mut stream)? {
                return Ok(());
            }
        }
        let outcome = deliver(&buf.data()[head_len..head_len + length], deliveries);
        buf.consume(head_len + length);
        match outcome {
            Ok(()) => answer(&mut stream, 200, "")?,
            Err((status, message)) => answer(&mut stream, status, &message)?,
        }
    }
}

/// Reads one request head; its length and the body's `Content-Length`. `None` at the end of
/// the connection.
fn read_head(
    stream: &mut TcpStream,
    buf: &mut Buffer,
) -> io::Result<Option<(usize, Option<usize>)>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(buf.data()) {
            Ok(httparse::Status::Complete(head_len)) => {
                let length = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok());
                return Ok(Some((head_len, length)));
            }
            Ok(httparse::Status::Partial) if buf.filled < MAX_HEAD => {
                if !buf.fill(stream)? {
                    return Ok(None);
                }
            }
            Ok(httparse::Status::Partial) | Err(_) => {
                answer(stream, 400, "not an HTTP/1.1 request")?;
                return Ok(None);
            }
        }
    }
}

/// Hands one push's batch to the handler and waits for its outcome.
fn deliver(body: &[u8], deliveries: &mpsc::Sender<Delivery>) -> Result<(), (u16, String)> {
    let batch = parse_batch(body).map_err(|err| {
        tracing::warn!(%err, "a telemetry push is not a JSON array of records; it is refused");
        (400, format!("not a JSON array of records: {err}"))
    })?;
    let (done, outcome) = std::sync::mpsc::sync_channel(1);
    deliveries
        .blocking_send(Delivery { batch, done })
        .map_err(|_| (503, "the extension has stopped".to_owned()))?;
    match outcome.recv() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err((500, message)),
        Err(_) => Err((503, "the extension has stopped".to_owned())),
    }
}

fn answer(stream: &mut TcpStream, status: u16, message: &str) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        411 => "Length Required",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        message.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(message.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_address_comes_from_its_hosts_line() {
        let hosts = "127.0.0.1 localhost\n# 10.0.0.1 sandbox.localdomain\n169.254.100.1  sandbox sandbox.localdomain # lambda\n";
        assert_eq!(
            host_address(hosts, SANDBOX_HOST),
            Some("169.254.100.1".parse().unwrap())
        );
        assert_eq!(host_address("127.0.0.1 localhost\n", SANDBOX_HOST), None);
    }
}
