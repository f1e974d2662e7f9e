//! The Runtime API's side of a streamed response: a chunked `POST …/response` in
//! `Lambda-Runtime-Function-Response-Mode: streaming`, read as it arrives.
//!
//! What it checks, and records as [`Streamed::problem`] when broken: the chunked framing (hex
//! sizes, CRLF after each chunk, a zero chunk, trailers ending in an empty line); that every
//! trailer was declared in the `Trailer` header, as AWS's custom-runtime documentation requires;
//! that an error body trailer is base64; and, for `application/vnd.awslambda.http-integration-
//! response`, that a JSON prelude is followed by eight NUL bytes within the first 16 KB (API
//! Gateway's rule). The body is counted and hashed whole but kept only up to a limit, so a
//! 200 MB stream costs the test little memory.

use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The content type of a streamed HTTP integration response.
pub const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";
/// Where the eight NUL bytes must appear by.
const PRELUDE_LIMIT: usize = 16 * 1024;

/// A streamed response as the emulator read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    /// The request's `Content-Type`.
    pub content_type: Option<String>,
    /// The names the `Trailer` header declared.
    pub declared_trailers: Vec<String>,
    /// The body's first bytes (all of it up to [`crate::Emulator::set_stream_keep`]).
    pub body: Vec<u8>,
    /// How many body bytes arrived.
    pub length: u64,
    /// FNV-1a of every body byte (see [`Fnv`]), unless turned off with
    /// [`crate::Emulator::set_stream_hash`].
    pub checksum: u64,
    /// How many chunks carried them.
    pub chunks: usize,
    /// The trailers, as sent.
    pub trailers: Vec<(String, String)>,
    /// Whether the body ended with its zero chunk (else the connection dropped or was cut).
    pub complete: bool,
    /// What broke the protocol, if anything did.
    pub problem: Option<String>,
    /// When the request head arrived.
    pub opened: Instant,
    /// When the first body byte arrived.
    pub first_byte: Option<Instant>,
    /// When the body ended.
    pub ended: Instant,
    /// Which connection it came on.
    pub connection: usize,
}

/// The error a stream's trailers carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// `Lambda-Runtime-Function-Error-Type`.
    pub error_type: String,
    /// `Lambda-Runtime-Function-Error-Body`, decoded from base64 and parsed as JSON.
    pub document: serde_json::Value,
}

impl Streamed {
    /// The error in the trailers, if the stream ended with one.
    pub fn error(&self) -> Option<StreamError> {
        let trailer = |name: &str| {
            self.trailers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let error_type = trailer("lambda-runtime-function-error-type")?;
        let body = trailer("lambda-runtime-function-error-body").unwrap_or_default();
        let document = base64_decode(&body)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(serde_json::Value::Null);
        Some(StreamError {
            error_type,
            document,
        })
    }

    /// The JSON prelude of an HTTP integration response.
    pub fn prelude(&self) -> Option<serde_json::Value> {
        let end = prelude_end(&self.body)?;
        serde_json::from_slice(&self.body[..end]).ok()
    }

    /// The HTTP body: what follows the prelude's eight NUL bytes (all of [`Streamed::body`]
    /// for a response that is not an HTTP integration one).
    pub fn http_body(&self) -> &[u8] {
        match prelude_end(&self.body) {
            Some(end) if self.is_http() => &self.body[end + 8..],
            _ => &self.body,
        }
    }

    fn is_http(&self) -> bool {
        self.content_type.as_deref() == Some(HTTP_INTEGRATION)
    }
}

fn prelude_end(body: &[u8]) -> Option<usize> {
    body.windows(8).position(|w| w == [0; 8])
}

/// FNV-1a, 64-bit: what [`Streamed::checksum`] is, for a test to compute over what it expects.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// How the emulator reads one stream.
pub(crate) struct Reading {
    pub(crate) keep: usize,
    pub(crate) limit: u64,
    /// Bytes per second, or unlimited.
    pub(crate) rate: Option<u64>,
    /// Close the connection after this many body bytes.
    pub(crate) drop_after: Option<u64>,
    /// Whether to compute [`Streamed::checksum`].
    pub(crate) hash: bool,
}

/// How reading ended.
pub(crate) enum Ending {
    /// The zero chunk and trailers arrived.
    Complete,
    /// The body broke the framing rules.
    Malformed,
    /// Past the size limit: answer `413`.
    TooLarge,
    /// The peer closed, the emulator stopped, or a drop was injected.
    Cut,
}

/// Reads a chunked body from `stream`, whose first bytes may already be in `buf`.
pub(crate) fn read(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    head: StreamHead,
    how: &Reading,
    mut more: impl FnMut(&mut TcpStream, &mut Vec<u8>) -> io::Result<bool>,
) -> io::Result<(Streamed, Ending)> {
    let mut streamed = Streamed {
        content_type: head.content_type,
        declared_trailers: head.declared_trailers,
        body: Vec::new(),
        length: 0,
        checksum: Fnv::default().0,
        chunks: 0,
        trailers: Vec::new(),
        complete: false,
        problem: None,
        opened: Instant::now(),
        first_byte: None,
        ended: Instant::now(),
        connection: head.connection,
    };
    let mut fnv = Fnv::default();
    let started = Instant::now();
    let ending = loop {
        let Some(line) = read_line(stream, buf, &mut more)? else {
            break Ending::Cut;
        };
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let Ok(size) = u64::from_str_radix(size_text, 16) else {
            streamed.problem = Some(format!("malformed chunk size line {line:?}"));
            break Ending::Malformed;
        };
        if size == 0 {
            let mut ended = Ending::Complete;
            while let Some(line) = read_line(stream, buf, &mut more)? {
                if line.is_empty() {
                    streamed.complete = true;
                    break;
                }
                let Some((name, value)) = line.split_once(':') else {
                    streamed.problem = Some(format!("malformed trailer {line:?}"));
                    ended = Ending::Malformed;
                    break;
                };
                let name = name.trim().to_owned();
                if !streamed
                    .declared_trailers
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(&name))
                {
                    streamed.problem = Some(format!(
                        "trailer {name} was not declared in the Trailer header"
                    ));
                }
                streamed.trailers.push((name, value.trim().to_owned()));
            }
            if !streamed.complete && matches!(ended, Ending::Complete) {
                ended = Ending::Cut;
            }
            break ended;
        }
        streamed.chunks += 1;
        let mut left = size;
        while left > 0 {
            if buf.is_empty() && !more(stream, buf)? {
                break;
            }
            let take = (buf.len() as u64).min(left) as usize;
            let data = &buf[..take];
            if streamed.first_byte.is_none() {
                streamed.first_byte = Some(Instant::now());
            }
            if how.hash {
                fnv.update(data);
            }
            let room = how.keep.saturating_sub(streamed.body.len());
            streamed.body.extend_from_slice(&data[..take.min(room)]);
            streamed.length += take as u64;
            buf.drain(..take);
            left -= take as u64;
            if let Some(rate) = how.rate {
                let due = Duration::from_secs_f64(streamed.length as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            if how.drop_after.is_some_and(|after| streamed.length >= after) {
                streamed.checksum = fnv.0;
                streamed.ended = Instant::now();
                return Ok((streamed, Ending::Cut));
            }
        }
        if left > 0 {
            break Ending::Cut;
        }
        if streamed.length > how.limit {
            break Ending::TooLarge;
        }
        match read_line(stream, buf, &mut more)? {
            Some(line) if line.is_empty() => {}
            Some(line) => {
                streamed.problem = Some(format!("a chunk is followed by {line:?}, not CRLF"));
                break Ending::Malformed;
            }
            None => break Ending::Cut,
        }
    };
    streamed.checksum = fnv.0;
    streamed.ended = Instant::now();
    if streamed.problem.is_none() && matches!(ending, Ending::Complete) {
        streamed.problem = check_content(&streamed);
    }
    Ok((streamed, ending))
}

/// What the request head said about the stream.
pub(crate) struct StreamHead {
    pub(crate) content_type: Option<String>,
    pub(crate) declared_trailers: Vec<String>,
    pub(crate) connection: usize,
}

/// The checks on what the body says: a prelude where one is due, error trailers that decode.
fn check_content(streamed: &Streamed) -> Option<String> {
    if streamed.is_http() {
        let Some(end) = prelude_end(&streamed.body).filter(|&end| end + 8 <= PRELUDE_LIMIT) else {
            return Some("no eight NUL bytes end a prelude within the first 16 KB".to_owned());
        };
        let prelude = &streamed.body[..end];
        match serde_json::from_slice::<serde_json::Value>(prelude) {
            Ok(serde_json::Value::Object(fields)) => {
                if !fields
                    .get("statusCode")
                    .is_some_and(serde_json::Value::is_u64)
                {
                    return Some("the prelude has no numeric statusCode".to_owned());
                }
            }
            _ => return Some("the prelude is not a JSON object".to_owned()),
        }
    }
    let body = streamed
        .trailers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("lambda-runtime-function-error-body"));
    if body.is_some_and(|(_, body)| base64_decode(body).is_none()) {
        return Some("the error body trailer is not base64".to_owned());
    }
    None
}

/// One CRLF-terminated line, without the CRLF; `None` when the connection ends first.
fn read_line(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    more: &mut impl FnMut(&mut TcpStream, &mut Vec<u8>) -> io::Result<bool>,
) -> io::Result<Option<String>> {
    loop {
        if let Some(at) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..at]).into_owned();
            buf.drain(..at + 2);
            return Ok(Some(line));
        }
        if buf.len() > 64 * 1024 {
            return Ok(Some(String::from_utf8_lossy(&buf[..64]).into_owned()));
        }
        if !more(stream, buf)? {
            return Ok(None);
        }
    }
}

/// Standard base64 with padding; `None` for anything else.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for group in bytes.chunks(4) {
        let pad = group.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &group[..4 - pad] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * pad as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

/// Sets the socket's receive buffer to `bytes`, which also stops the kernel from growing it.
pub(crate) fn shrink_receive_buffer(stream: &TcpStream, bytes: i32) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket and a pointer to an `int` of the size given.
    let set = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            std::ptr::from_ref(&bytes).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    assert_eq!(
        set,
        0,
        "setsockopt(SO_RCVBUF): {}",
        io::Error::last_os_error()
    );
}
