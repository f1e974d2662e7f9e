//! The HTTP listener the Telemetry API (or the Logs API) pushes batches to.
//!
//! Under Lambda the destination is `sandbox.localdomain`: the listener binds the address
//! `/etc/hosts` gives that name, or every address of the sandbox when it has no entry (nothing
//! outside the sandbox reaches it). Anywhere else (the in-repo emulator, `cargo lambda watch`)
//! it binds 127.0.0.1 and names that address. Each connection is served on a thread of its own;
//! each batch is read, handed to the extension's telemetry handler, and answered once the
//! handler returns: `200`, or `500` with the handler's error, or `400` for a body that is not a
//! JSON array.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::extension::record::{Telemetry, parse_batch};

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
        let open = Arc::new(AtomicUsize::new(0));
        std::thread::Builder::new()
            .name("lamina-telemetry".into())
            .spawn(move || {
                for stream in self.socket.incoming() {
                    let Ok(stream) = stream else { continue };
                    if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                        open.fetch_sub(1, Ordering::SeqCst);
                        continue;
                    }
                    let (open, deliveries) = (Arc::clone(&open), deliveries.clone());
                    let spawned = std::thread::Builder::new()
                        .name("lamina-telemetry-conn".into())
                        .spawn(move || {
                            if let Err(err) = serve_connection(stream, &deliveries) {
                                tracing::debug!(%err, "a telemetry connection ended");
                            }
                            open.fetch_sub(1, Ordering::SeqCst);
                        });
                    if spawned.is_err() {
                        tracing::warn!("no thread for a telemetry connection; it is closed");
                    }
                }
            })?;
        Ok(())
    }
}

fn serve_connection(mut stream: TcpStream, deliveries: &mpsc::Sender<Delivery>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        let Some((head_len, length)) = read_head(&mut stream, &mut buf)? else {
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
        while buf.len() < head_len + length {
            if !fill(&mut stream, &mut buf)? {
                return Ok(());
            }
        }
        let outcome = deliver(&buf[head_len..head_len + length], deliveries);
        buf.drain(..head_len + length);
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
    buf: &mut Vec<u8>,
) -> io::Result<Option<(usize, Option<usize>)>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let length = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok());
                return Ok(Some((head_len, length)));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {
                if !fill(stream, buf)? {
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

fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let read = stream.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..read]);
    Ok(read > 0)
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
