//! A minimal HTTP/1.1 client for one local peer over one keep-alive connection.
//!
//! The Runtime API is a single endpoint on the same host, spoken to by one request at a time. So
//! this client has no pool, no TLS, no redirects and no async machinery: it writes a request,
//! reads the answer into buffers it reuses for the life of the process, and reconnects when the
//! peer has dropped the connection. Responses are parsed with `httparse`; bodies may be sized by
//! `Content-Length`, chunked, or delimited by the peer closing.

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use crate::base::endpoint::Endpoint;

const USER_AGENT: &str = concat!("lamina/", env!("CARGO_PKG_VERSION"));
/// The largest response head accepted; the Runtime API's are a few hundred bytes.
const MAX_HEAD: usize = 64 * 1024;
/// The largest response body accepted. Lambda's payload limit is 6 MB; anything far beyond it
/// means the peer is not the Runtime API, and reading it would only risk the memory limit.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// The read buffer's starting size: enough for any `/next` head and a small event. Larger
/// bodies are read straight into the body buffer, past this one.
const READ_CHUNK: usize = 4 * 1024;
/// Bodies up to this size are copied behind the head and sent in one `write`; larger ones go
/// out with a vectored write instead of being copied.
const COPY_BODY_LIMIT: usize = 32 * 1024;
/// Pauses before each retry of a request whose connection failed. The first retry is immediate:
/// the common case is a keep-alive connection the peer closed while the function was idle.
const RETRY_DELAYS: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_millis(5),
    Duration::from_millis(25),
    Duration::from_millis(125),
];

/// Byte ranges of one header's name and value inside the response head.
type Span = (usize, usize, usize, usize);

/// What the client speaks HTTP over: a TCP connection to the Runtime API, or a scripted stream
/// in the tests.
pub(crate) trait Transport: Read + Write + Sized {
    /// Opens a connection to `endpoint` whose reads and writes give up after `timeout`.
    fn open(endpoint: &Endpoint, timeout: Option<Duration>) -> io::Result<Self>;

    /// The socket, for a wait until it is readable; `None` when there is none to wait on.
    fn socket(&self) -> Option<RawFd> {
        None
    }
}

impl Transport for TcpStream {
    fn open(endpoint: &Endpoint, timeout: Option<Duration>) -> io::Result<Self> {
        let stream = TcpStream::connect(&endpoint.addrs[..])?;
        // A request is written whole and then waited on: Nagle's algorithm would only hold the
        // tail back for the peer's delayed ACK.
        stream.set_nodelay(true)?;
        stream.set_read_timeout(timeout)?;
        stream.set_write_timeout(timeout)?;
        Ok(stream)
    }

    fn socket(&self) -> Option<RawFd> {
        Some(self.as_raw_fd())
    }
}

/// One connection's worth of HTTP/1.1 state, reused across requests.
pub(crate) struct HttpClient<T = TcpStream> {
    endpoint: Endpoint,
    timeout: Option<Duration>,
    stream: Option<T>,
    /// Bytes read from the socket and not yet consumed: `read_buf[read_pos..read_len]`.
    read_buf: Vec<u8>,
    read_pos: usize,
    read_len: usize,
    write_buf: Vec<u8>,
    head: Vec<u8>,
    spans: Vec<Span>,
    status: u16,
    body: Vec<u8>,
}

/// A response, borrowed from the client until its next request.
pub(crate) struct Response<'a> {
    pub(crate) status: u16,
    head: &'a [u8],
    spans: &'a [Span],
    pub(crate) body: &'a [u8],
}

/// Bytes as text. Header names and Lambda's header values are ASCII, which a word-at-a-time
/// check settles for a fraction of full UTF-8 validation (a few hundred instructions an
/// invocation over the `/next` headers).
#[allow(unsafe_code)]
pub(crate) fn text(bytes: &[u8]) -> Option<&str> {
    if is_ascii(bytes) {
        // SAFETY: ASCII is UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

/// `<[u8]>::is_ascii`, eight bytes a step: the high bits of every word ORed together, then one
/// test. A third of the standard loop's instructions on a ~120-byte trace header.
fn is_ascii(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut high = 0u64;
    for word in &mut words {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        high |= u64::from_ne_bytes(eight);
    }
    high & 0x8080_8080_8080_8080 == 0 && words.remainder().is_ascii()
}

impl<'a> Response<'a> {
    /// Every header as (name, raw value), in the order received.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + use<'a> {
        let head = self.head;
        self.spans
            .iter()
            .map(move |&(ns, ne, vs, ve)| (text(&head[ns..ne]).unwrap_or(""), &head[vs..ve]))
    }
}

impl<T: Transport> HttpClient<T> {
    /// A client that connects on its first request. `timeout` bounds each read and write; `None`
    /// waits forever, as a `/next` long-poll must.
    pub(crate) fn new(endpoint: Endpoint, timeout: Option<Duration>) -> Self {
        HttpClient {
            endpoint,
            timeout,
            stream: None,
            read_buf: vec![0; READ_CHUNK],
            read_pos: 0,
            read_len: 0,
            write_buf: Vec::with_capacity(512),
            head: Vec::with_capacity(1024),
            spans: Vec::with_capacity(16),
            status: 0,
            body: Vec::new(),
        }
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends one request and reads its response, retrying on a fresh connection when the
    /// connection fails. `path` is appended to the endpoint's prefix.
    ///
    /// # Errors
    /// The last I/O error once the retries are spent; `InvalidData` for a response that is not
    /// HTTP/1.1 this client can read (not retried: the peer would answer the same way again).
    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response<'_>> {
        self.request_waiting(method, path, headers, body, &mut |_| {})
    }

    /// [`HttpClient::request`], calling `wait` with the socket once the request is sent, when
    /// the answer is not already buffered; the answer is read when `wait` returns.
    pub(crate) fn request_waiting(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        wait: &mut dyn FnMut(RawFd),
    ) -> io::Result<Response<'_>> {
        let mut retries = RETRY_DELAYS.iter();
        loop {
            match self.exchange(method, path, headers, body, wait) {
                Ok(()) => break,
                Err((err, retryable)) => {
                    self.stream = None;
                    match retries.next() {
                        Some(delay) if retryable && is_connection_failure(&err) => {
                            tracing::debug!(%err, path, "Runtime API connection failed; reconnecting");
                            std::thread::sleep(*delay);
                        }
                        _ => return Err(err),
                    }
                }
            }
        }
        Ok(Response {
            status: self.status,
            head: &self.head,
            spans: &self.spans,
            body: &self.body,
        })
    }

    /// Starts a request whose body follows in chunks ([`HttpClient::write_chunk`], then
    /// [`HttpClient::finish_chunked`]). A keep-alive connection the peer has closed while idle
    /// is replaced first: a chunked body cannot be sent again on a fresh connection once it has
    /// started, so the retry a buffered request gets has to happen here, before the head.
    ///
    /// # Errors
    /// The connection could not be made or the head not written.
    pub(crate) fn start_chunked(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<()> {
        if self.stream.is_some() && self.read_pos == self.read_len && !self.idle_connection_usable()
        {
            self.stream = None;
        }
        let mut retries = RETRY_DELAYS.iter();
        loop {
            if self.stream.is_none() {
                match self.connect() {
                    Ok(stream) => {
                        self.stream = Some(stream);
                        self.read_pos = 0;
                        self.read_len = 0;
                    }
                    Err(err) => match retries.next() {
                        Some(delay) if is_connection_failure(&err) => std::thread::sleep(*delay),
                        _ => return Err(err),
                    },
                }
                continue;
            }
            self.write_head(method, path, headers, None);
            let stream = self.stream.as_mut().expect("connected above");
            return stream
                .write_all(&self.write_buf)
                .inspect_err(|_| self.stream = None);
        }
    }

    /// Sends each of `pieces` as one chunk of the body [`HttpClient::start_chunked`] began, all
    /// in as few `writev` calls as the socket takes them in. Empty pieces send nothing (an empty
    /// chunk would end the body); at most [`MAX_PIECES`] at a time.
    ///
    /// A write the peer takes nothing of waits until `until` at the latest, and then fails with
    /// `TimedOut` (on a real socket; a scripted transport blocks as it likes).
    ///
    /// # Errors
    /// The write failed or timed out: the peer has gone or stopped reading, and the connection
    /// is dropped.
    pub(crate) fn write_chunks(&mut self, pieces: &[&[u8]], until: Instant) -> io::Result<()> {
        assert!(
            pieces.len() <= MAX_PIECES,
            "at most {MAX_PIECES} pieces a write"
        );
        let mut sizes = [[0u8; 18]; MAX_PIECES];
        let mut slices: [&[u8]; 3 * MAX_PIECES] = [&[]; 3 * MAX_PIECES];
        let mut count = 0;
        for (piece, size) in pieces.iter().zip(&mut sizes) {
            if piece.is_empty() {
                continue;
            }
            let len = chunk_size_line(piece.len(), size);
            slices[count] = &size[..len];
            slices[count + 1] = piece;
            slices[count + 2] = b"\r\n";
            count += 3;
        }
        if count == 0 {
            return Ok(());
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let written = match stream.socket() {
            Some(socket) => write_all_slices(&mut slices[..count], |vectors| {
                send_before(socket, vectors, until)
            }),
            None => write_all_slices(&mut slices[..count], |vectors| {
                stream.write_vectored(vectors)
            }),
        };
        written.inspect_err(|_| self.stream = None)
    }

    /// Ends the chunked body with `trailers` and reads the response.
    ///
    /// # Errors
    /// The write or the read failed; not retried (the body cannot be sent again).
    pub(crate) fn finish_chunked(&mut self, trailers: &[(&str, &str)]) -> io::Result<Response<'_>> {
        self.write_buf.clear();
        self.write_buf.extend_from_slice(b"0\r\n");
        push_fields(&mut self.write_buf, trailers);
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let finished = stream
            .write_all(&self.write_buf)
            .and_then(|()| self.read_response(false));
        match finished {
            Ok(keep_alive) => {
                if !keep_alive {
                    self.stream = None;
                }
                Ok(Response {
                    status: self.status,
                    head: &self.head,
                    spans: &self.spans,
                    body: &self.body,
                })
            }
            Err(err) => {
                self.stream = None;
                Err(err)
            }
        }
    }

    /// Takes the last response's body out of the client, which reads its next body into a new
    /// buffer unless [`HttpClient::give_back`] returns this one first.
    pub(crate) fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// Returns a buffer [`HttpClient::take_body`] took, for the next response to reuse.
    pub(crate) fn give_back(&mut self, body: Vec<u8>) {
        if body.capacity() > self.body.capacity() {
            self.body = body;
        }
    }

    /// Closes the connection; the next request opens another.
    pub(crate) fn disconnect(&mut self) {
        self.stream = None;
    }

    /// The socket of the connection a chunked request is being written on.
    pub(crate) fn socket(&self) -> Option<RawFd> {
        self.stream.as_ref().and_then(Transport::socket)
    }

    /// Whether the idle keep-alive connection can carry a request: nothing (not even the end
    /// of the stream) is waiting to be read on it.
    fn idle_connection_usable(&self) -> bool {
        let Some(socket) = self.stream.as_ref().and_then(Transport::socket) else {
            return true;
        };
        let mut poll = libc::pollfd {
            fd: socket,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid `pollfd`, no wait.
        #[allow(unsafe_code)]
        let ready = unsafe { libc::poll(&mut poll, 1, 0) };
        ready == 0
    }

    /// One attempt at a request. A failure is `Err((err, retryable))`: whether sending the same
    /// request again on a new connection can help.
    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        wait: &mut dyn FnMut(RawFd),
    ) -> Result<(), (io::Error, bool)> {
        let fresh = self.stream.is_none();
        if fresh {
            self.stream = Some(self.connect().map_err(|err| (err, true))?);
            self.read_pos = 0;
            self.read_len = 0;
        }
        // A connection opened for this request that fails while its body goes out was cut off
        // by the peer on purpose (Lambda's agent closes after refusing an oversized body): the
        // same body on another connection would be cut off the same way. A reused connection
        // may just have been closed while idle, and is worth one more.
        let sent = self
            .write_request(method, path, headers, body)
            .map_err(|err| (err, !fresh || body.is_empty()))?;
        if sent == Sent::Whole && self.read_pos == self.read_len {
            if let Some(socket) = self.stream.as_ref().and_then(Transport::socket) {
                wait(socket);
            }
        }
        let keep_alive = self
            .read_response(method == "HEAD")
            .map_err(|err| (err, sent == Sent::Whole || !fresh))?;
        // After an early answer the rest of the body was never sent: the connection is unusable.
        if !keep_alive || sent == Sent::AnsweredEarly {
            self.stream = None;
        }
        Ok(())
    }

    fn connect(&self) -> io::Result<T> {
        loop {
            match T::open(&self.endpoint, self.timeout) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                opened => return opened,
            }
        }
    }

    fn write_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Sent> {
        self.write_head(method, path, headers, Some(body.len()));
        let buf = &mut self.write_buf;
        let stream = self.stream.as_mut().expect("connected above");
        if body.len() <= COPY_BODY_LIMIT {
            buf.extend_from_slice(body);
            stream.write_all(buf).map(|()| Sent::Whole)
        } else if let Some(socket) = stream.socket() {
            write_watching_for_an_answer(socket, buf, body, self.timeout)
        } else {
            write_all_vectored(stream, buf, body).map(|()| Sent::Whole)
        }
    }

    /// Writes a request head into `write_buf`: `Content-Length` for a sized body, else
    /// `Transfer-Encoding: chunked` for a `POST`.
    fn write_head(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body_len: Option<usize>,
    ) {
        let buf = &mut self.write_buf;
        buf.clear();
        for part in [
            method,
            " ",
            &self.endpoint.prefix,
            path,
            " HTTP/1.1\r\nHost: ",
            &self.endpoint.authority,
            "\r\nUser-Agent: ",
            USER_AGENT,
            "\r\n",
        ] {
            buf.extend_from_slice(part.as_bytes());
        }
        match body_len {
            Some(_) if method == "GET" => {}
            Some(len) => {
                buf.extend_from_slice(b"Content-Length: ");
                buf.extend_from_slice(itoa(len, &mut [0; 20]));
                buf.extend_from_slice(b"\r\n");
            }
            None => buf.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        }
        push_fields(buf, headers);
    }

    /// Reads one response; returns whether the connection may be used again.
    fn read_response(&mut self, head_only: bool) -> io::Result<bool> {
        let head_len = loop {
            let available = &self.read_buf[self.read_pos..self.read_len];
            if !available.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut parsed = httparse::Response::new(&mut headers);
                match parsed.parse(available) {
                    Ok(httparse::Status::Complete(len)) => {
                        if parsed.version != Some(1) && parsed.version != Some(0) {
                            return Err(invalid("the response is not HTTP/1.x"));
                        }
                        self.status = parsed.code.unwrap_or(0);
                        let base = available.as_ptr() as usize;
                        self.spans.clear();
                        for h in parsed.headers.iter() {
                            let ns = h.name.as_ptr() as usize - base;
                            let vs = h.value.as_ptr() as usize - base;
                            self.spans
                                .push((ns, ns + h.name.len(), vs, vs + h.value.len()));
                        }
                        self.head.clear();
                        self.head.extend_from_slice(&available[..len]);
                        break len;
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(httparse::Error::TooManyHeaders) => {
                        return Err(invalid("the response has more than 32 headers"));
                    }
                    Err(err) => return Err(invalid(&format!("malformed response head: {err}"))),
                }
                if available.len() >= MAX_HEAD {
                    return Err(invalid("the response head is larger than 64 KiB"));
                }
            }
            self.fill()?;
        };
        self.read_pos += head_len;

        let mut content_length = None;
        let mut chunked = false;
        let mut close = false;
        for &(ns, ne, vs, ve) in &self.spans {
            let name = &self.head[ns..ne];
            let value = &self.head[vs..ve];
            if name.eq_ignore_ascii_case(b"content-length") {
                let parsed = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or_else(|| invalid("Content-Length is not a number"))?;
                if content_length.is_some_and(|n| n != parsed) {
                    return Err(invalid("conflicting Content-Length headers"));
                }
                content_length = Some(parsed);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                chunked = value
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case(b"connection") {
                close = value
                    .split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
            }
        }

        self.body.clear();
        let no_body = head_only || self.status == 204 || self.status == 304 || self.status < 200;
        if no_body {
            return Ok(!close);
        }
        if chunked {
            self.read_chunked()?;
        } else if let Some(len) = content_length {
            if len > MAX_BODY {
                return Err(invalid(&format!(
                    "the response body of {len} bytes exceeds the {MAX_BODY}-byte limit"
                )));
            }
            self.read_exact_body(len)?;
        } else {
            self.read_to_close()?;
            return Ok(false);
        }
        Ok(!close)
    }

    /// Reads more bytes into `read_buf`, compacting or growing it as needed.
    fn fill(&mut self) -> io::Result<()> {
        if self.read_pos == self.read_len {
            self.read_pos = 0;
            self.read_len = 0;
        } else if self.read_len == self.read_buf.len() {
            if self.read_pos > 0 {
                self.read_buf.copy_within(self.read_pos..self.read_len, 0);
                self.read_len -= self.read_pos;
                self.read_pos = 0;
            } else {
                let grown = self.read_buf.len() * 2;
                self.read_buf.resize(grown, 0);
            }
        }
        let stream = self.stream.as_mut().expect("connected before reading");
        let n = read_some(stream, &mut self.read_buf[self.read_len..])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the Runtime API closed the connection before answering in full",
            ));
        }
        self.read_len += n;
        Ok(())
    }

    fn read_exact_body(&mut self, len: usize) -> io::Result<()> {
        self.body.reserve(len);
        let buffered = (self.read_len - self.read_pos).min(len);
        self.body
            .extend_from_slice(&self.read_buf[self.read_pos..self.read_pos + buffered]);
        self.read_pos += buffered;
        let rest = (len - buffered) as u64;
        if rest > 0 {
            let stream = self.stream.as_mut().expect("connected before reading");
            let read = stream.take(rest).read_to_end(&mut self.body)?;
            if read as u64 != rest {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the Runtime API closed the connection in the middle of a body",
                ));
            }
        }
        Ok(())
    }

    fn read_chunked(&mut self) -> io::Result<()> {
        loop {
            let line = self.read_line()?;
            let size_text = line.split(|&b| b == b';').next().unwrap_or(&[]);
            let size = std::str::from_utf8(size_text)
                .ok()
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .ok_or_else(|| invalid("malformed chunk size"))?;
            if size == 0 {
                // Trailers, if any, end with an empty line.
                while !self.read_line()?.is_empty() {}
                return Ok(());
            }
            // The size comes from the peer: up to `usize::MAX`, so no addition before the check.
            // `body` never holds more than `MAX_BODY`.
            if size > MAX_BODY - self.body.len() {
                return Err(invalid(&format!(
                    "a chunk of {size} bytes takes the chunked response body past the \
                     {MAX_BODY}-byte limit"
                )));
            }
            let start = self.body.len();
            self.read_exact_body(size)?;
            debug_assert_eq!(self.body.len(), start + size);
            if !self.read_line()?.is_empty() {
                return Err(invalid("a chunk is not followed by CRLF"));
            }
        }
    }

    /// Reads one CRLF-terminated line from the buffer and returns it without the terminator.
    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            let available = &self.read_buf[self.read_pos..self.read_len];
            if let Some(i) = available.windows(2).position(|w| w == b"\r\n") {
                let line = available[..i].to_vec();
                self.read_pos += i + 2;
                return Ok(line);
            }
            if available.len() > MAX_HEAD {
                return Err(invalid("a chunk header line is too long"));
            }
            self.fill()?;
        }
    }

    fn read_to_close(&mut self) -> io::Result<()> {
        self.body
            .extend_from_slice(&self.read_buf[self.read_pos..self.read_len]);
        self.read_pos = self.read_len;
        let stream = self.stream.as_mut().expect("connected before reading");
        stream
            .take((MAX_BODY + 1 - self.body.len()) as u64)
            .read_to_end(&mut self.body)?;
        if self.body.len() > MAX_BODY {
            return Err(invalid("the response body exceeds the size limit"));
        }
        Ok(())
    }
}

/// One `read`, repeated when a signal interrupts it (`EINTR`): a signal handler installed
/// without `SA_RESTART`, or any signal while the socket has a timeout, interrupts the long
/// `/next` wait, and that is no reason to end the process.
fn read_some(stream: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            read => return read,
        }
    }
}

/// How much of a request went out before its answer was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    /// All of it.
    Whole,
    /// The peer answered (or closed) before the body was all written: what it said is read
    /// instead of writing on. Lambda's agent answers an oversized `/response` with `413` once it
    /// has read its limit, closes its side, and resets the connection half a second later,
    /// which destroys the answer if it is still unread; a blocking write would sit there until
    /// the reset and then lose it.
    AnsweredEarly,
}

/// Writes `head` and then `body` on `socket` without blocking past a readiness wait, stopping
/// as soon as the peer has something to say. The socket stays in blocking mode for everything
/// else: each write is `MSG_DONTWAIT`.
#[allow(unsafe_code)]
fn write_watching_for_an_answer(
    socket: RawFd,
    head: &[u8],
    body: &[u8],
    timeout: Option<Duration>,
) -> io::Result<Sent> {
    let timeout_ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
    let (mut head, mut body) = (head, body);
    while !head.is_empty() || !body.is_empty() {
        let mut poll = libc::pollfd {
            fd: socket,
            events: libc::POLLIN | libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid `pollfd`.
        let ready = unsafe { libc::poll(&mut poll, 1, timeout_ms) };
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if ready == 0 {
            return Err(io::ErrorKind::TimedOut.into());
        }
        if poll.revents & (libc::POLLIN | libc::POLLHUP) != 0 {
            return Ok(Sent::AnsweredEarly);
        }
        if poll.revents & libc::POLLERR != 0 {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        let iov = [
            libc::iovec {
                iov_base: head.as_ptr() as *mut libc::c_void,
                iov_len: head.len(),
            },
            libc::iovec {
                iov_base: body.as_ptr() as *mut libc::c_void,
                iov_len: body.len(),
            },
        ];
        // SAFETY: a zeroed `msghdr` is valid; it points at `iov`, which outlives the call.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        message.msg_iov = iov.as_ptr() as *mut libc::iovec;
        message.msg_iovlen = iov.len() as _;
        // SAFETY: `socket` is the open connection; `message` describes live buffers.
        let n = unsafe { libc::sendmsg(socket, &message, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) {
                continue;
            }
            return Err(err);
        }
        let n = n as usize;
        let from_head = n.min(head.len());
        head = &head[from_head..];
        body = &body[n - from_head..];
    }
    Ok(Sent::Whole)
}

fn write_all_vectored(stream: &mut impl Write, head: &[u8], body: &[u8]) -> io::Result<()> {
    let (mut head, mut body) = (head, body);
    while !head.is_empty() {
        let n = match stream.write_vectored(&[IoSlice::new(head), IoSlice::new(body)]) {
            // `write_all` below retries an interrupted write by itself; this loop must too.
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            written => written?,
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_head = n.min(head.len());
        head = &head[from_head..];
        body = &body[n - from_head..];
    }
    stream.write_all(body)
}

/// Whether `text` may stand as an HTTP field value as written: visible ASCII, spaces and tabs
/// (RFC 9110's `field-value` without the obsolete non-ASCII octets), not starting or ending
/// with whitespace.
pub(crate) fn is_header_value(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
        && !bytes.first().is_some_and(|b| b.is_ascii_whitespace())
        && !bytes.last().is_some_and(|b| b.is_ascii_whitespace())
}

/// Writes header (or trailer) fields, then the empty line that ends them.
fn push_fields(buf: &mut Vec<u8>, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b": ");
        buf.extend_from_slice(value.as_bytes());
        buf.extend_from_slice(b"\r\n");
    }
    buf.extend_from_slice(b"\r\n");
}

/// How many chunks one [`HttpClient::write_chunks`] call takes.
pub(crate) const MAX_PIECES: usize = 16;

/// Writes `len` in hex and a CRLF into `line`; returns how many bytes that took.
fn chunk_size_line(len: usize, line: &mut [u8; 18]) -> usize {
    let digits = (usize::BITS - len.leading_zeros()).div_ceil(4).max(1) as usize;
    for i in 0..digits {
        line[digits - 1 - i] = b"0123456789abcdef"[(len >> (4 * i)) & 15];
    }
    line[digits..digits + 2].copy_from_slice(b"\r\n");
    digits + 2
}

/// Writes every byte of `slices`, in order, with as few `writev` calls as the socket allows.
fn write_all_slices(
    slices: &mut [&[u8]],
    mut write: impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
) -> io::Result<()> {
    const AT_ONCE: usize = 3 * MAX_PIECES;
    let mut first = 0;
    while first < slices.len() {
        if slices[first].is_empty() {
            first += 1;
            continue;
        }
        let vectors: [IoSlice<'_>; AT_ONCE] = std::array::from_fn(|i| {
            IoSlice::new(slices.get(first + i).copied().unwrap_or_default())
        });
        let mut n = match write(&vectors[..(slices.len() - first).min(AT_ONCE)]) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            written => written?,
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while n > 0 {
            let taken = n.min(slices[first].len());
            slices[first] = &slices[first][taken..];
            n -= taken;
            if slices[first].is_empty() {
                first += 1;
            }
        }
    }
    Ok(())
}

/// One `sendmsg` of `vectors` that does not block: when the socket's buffer is full it waits for
/// room until `until`, then fails with `TimedOut`. The socket stays in blocking mode for every
/// other use.
#[allow(unsafe_code)]
fn send_before(socket: RawFd, vectors: &[IoSlice<'_>], until: Instant) -> io::Result<usize> {
    loop {
        // SAFETY: a zeroed `msghdr` is valid; `IoSlice` is ABI-compatible with `iovec` on Unix,
        // and the slices outlive the call.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        message.msg_iov = vectors.as_ptr() as *mut libc::iovec;
        message.msg_iovlen = vectors.len() as _;
        // SAFETY: `socket` is the open connection; `message` describes live buffers.
        let n = unsafe { libc::sendmsg(socket, &message, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::WouldBlock {
            return Err(err);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the Runtime API took no more of the stream until shortly before the deadline: \
                 the caller stopped reading",
            ));
        }
        let mut poll = libc::pollfd {
            fd: socket,
            events: libc::POLLOUT,
            revents: 0,
        };
        let wait_ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid `pollfd`. Its outcome is the next `sendmsg`'s to find out.
        unsafe { libc::poll(&mut poll, 1, wait_ms) };
    }
}

fn is_connection_failure(err: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        err.kind(),
        ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | BrokenPipe
            | UnexpectedEof
            | NotConnected
    )
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// Formats `n` in decimal without going through `fmt`.
fn itoa(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_values_hold_no_line_breaks_or_controls() {
        for good in ["text/plain", "text/html; charset=utf-8", "a\tb", "x"] {
            assert!(is_header_value(good), "{good:?}");
        }
        for bad in [
            "text/plain\r\nX-Forged: 1",
            "text/plain\n",
            "a\rb",
            "nul\0",
            " padded",
            "padded ",
            "naïve",
            "del\u{7f}",
        ] {
            assert!(!is_header_value(bad), "{bad:?}");
        }
    }

    #[test]
    fn text_reads_ascii_fast_and_the_rest_as_utf8() {
        for len in 0..40 {
            let ascii = "a".repeat(len);
            assert_eq!(super::text(ascii.as_bytes()), Some(ascii.as_str()));
            let mut high = ascii.clone().into_bytes();
            high.push(0xff);
            high.extend_from_slice(b"tail");
            assert_eq!(super::text(&high), None, "len {len}");
            let utf8 = format!("{ascii}é{ascii}");
            assert_eq!(super::text(utf8.as_bytes()), Some(utf8.as_str()));
        }
    }

    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// A time no write in these tests reaches.
    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[test]
    fn a_stream_the_peer_stops_reading_gives_up_at_its_time_without_a_socket_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = Endpoint::parse(&listener.local_addr().unwrap().to_string()).unwrap();
        // Accepts, then reads nothing until the test is done (or 10 s have passed).
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let server = thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let _ = finished.recv_timeout(Duration::from_secs(10));
            drop(conn);
        });
        let mut client = HttpClient::<TcpStream>::new(endpoint, None);
        client.start_chunked("POST", "/s", &[]).unwrap();
        let chunk = vec![b'x'; 256 * 1024];
        let started = Instant::now();
        let until = started + Duration::from_millis(300);
        let err = (0..1000)
            .find_map(|_| client.write_chunks(&[&chunk], until).err())
            .expect("the socket's buffers fill long before 256 MB");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(
            err.to_string().contains("the caller stopped reading"),
            "{err}"
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(2),
            "{took:?}"
        );
        assert!(
            client.write_chunks(&[b"more"], far()).is_err(),
            "the connection is dropped"
        );
        drop(done);
        server.join().unwrap();
    }

    /// Serves each scripted reply on one accepted connection, after reading one request head.
    fn serve(replies: Vec<Vec<u8>>) -> (Endpoint, thread::JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = Endpoint::parse(&listener.local_addr().unwrap().to_string()).unwrap();
        let handle = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut requests = Vec::new();
            for reply in replies {
                let mut req = Vec::new();
                let mut byte = [0u8; 1];
                while !req.ends_with(b"\r\n\r\n") {
                    conn.read_exact(&mut byte).unwrap();
                    req.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&req).to_ascii_lowercase();
                if let Some(len) = head.split("content-length: ").nth(1) {
                    let len: usize = len.split("\r\n").next().unwrap().parse().unwrap();
                    let mut body = vec![0; len];
                    conn.read_exact(&mut body).unwrap();
                    req.extend_from_slice(&body);
                }
                requests.push(req);
                // Dribble the reply out in small pieces to exercise partial reads.
                for piece in reply.chunks(7) {
                    conn.write_all(piece).unwrap();
                    conn.flush().unwrap();
                }
            }
            requests
        });
        (endpoint, handle)
    }

    #[test]
    fn reads_content_length_and_chunked_bodies_on_one_connection() {
        let (endpoint, server) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello".to_vec(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n".to_vec(),
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ]);
        let mut client = HttpClient::<TcpStream>::new(endpoint, Some(Duration::from_secs(5)));
        let r = client.request("GET", "/a", &[], b"").unwrap();
        assert_eq!((r.status, r.body), (200, &b"hello"[..]));
        assert_eq!(r.headers().nth(1), Some(("X-A", &b"1"[..])));
        let r = client.request("GET", "/b", &[], b"").unwrap();
        assert_eq!((r.status, r.body), (200, &b"abcde"[..]));
        let r = client
            .request("POST", "/c", &[("X-Y", "z")], b"{}")
            .unwrap();
        assert_eq!((r.status, r.body), (202, &b""[..]));
        let requests = server.join().unwrap();
        let third = String::from_utf8(requests[2].clone()).unwrap();
        assert!(
            third.starts_with("POST /c HTTP/1.1\r\nHost: 127.0.0.1:"),
            "{third}"
        );
        assert!(
            third.ends_with("\r\nContent-Length: 2\r\nX-Y: z\r\n\r\n{}"),
            "{third}"
        );
    }

    #[test]
    fn garbage_is_invalid_data_and_not_retried() {
        let (endpoint, server) = serve(vec![b"SMTP ready\r\n\r\n".to_vec()]);
        let mut client = HttpClient::<TcpStream>::new(endpoint, Some(Duration::from_secs(5)));
        let err = client.request("GET", "/a", &[], b"").err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        server.join().unwrap();
    }

    #[test]
    fn an_absurd_content_length_is_refused_before_reading() {
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        let (endpoint, server) = serve(vec![reply.into_bytes()]);
        let mut client = HttpClient::<TcpStream>::new(endpoint, Some(Duration::from_secs(5)));
        let err = client.request("GET", "/a", &[], b"").err().unwrap();
        assert!(err.to_string().contains("exceeds"), "{err}");
        server.join().unwrap();
    }

    #[test]
    fn a_huge_chunk_size_is_a_protocol_error_not_an_overflow() {
        // 2^64 - 1: `body.len() + size` overflowed, and in a release build the wrapped sum
        // passed the limit check and the reservation that followed aborted the process.
        let (endpoint, server) = serve(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\nffffffffffffffff\r\n"
                .to_vec(),
        ]);
        let mut client = HttpClient::<TcpStream>::new(endpoint, Some(Duration::from_secs(5)));
        let err = client.request("GET", "/a", &[], b"").err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            err.to_string(),
            format!(
                "a chunk of {} bytes takes the chunked response body past the {MAX_BODY}-byte limit",
                usize::MAX
            )
        );
        server.join().unwrap();
    }

    #[test]
    fn a_chunk_past_the_body_limit_is_refused_before_it_is_read() {
        let reply = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n{:x}\r\n",
            MAX_BODY - 1
        );
        let (endpoint, server) = serve(vec![reply.into_bytes()]);
        let mut client = HttpClient::<TcpStream>::new(endpoint, Some(Duration::from_secs(5)));
        let err = client.request("GET", "/a", &[], b"").err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("past the"), "{err}");
        assert!(
            client.body.capacity() < MAX_BODY,
            "nothing was reserved for the refused chunk"
        );
        server.join().unwrap();
    }

    /// A connection on which a signal interrupts (`EINTR`) every other `read` and `write`:
    /// replies come out a few bytes at a time, with an interruption before each piece.
    struct Interrupted {
        reply: Vec<u8>,
        read: usize,
        interrupt_read: bool,
        interrupt_write: bool,
    }

    thread_local! {
        /// What the next `Interrupted::open` connects to, and how many times a signal
        /// interrupts the connect first.
        static SCRIPT: std::cell::RefCell<(Vec<u8>, u32)> = const {
            std::cell::RefCell::new((Vec::new(), 0))
        };
        /// What the last connection was sent.
        static SENT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    impl Transport for Interrupted {
        fn open(_: &Endpoint, _: Option<Duration>) -> io::Result<Self> {
            SCRIPT.with(|script| {
                let mut script = script.borrow_mut();
                if script.1 > 0 {
                    script.1 -= 1;
                    return Err(io::ErrorKind::Interrupted.into());
                }
                Ok(Interrupted {
                    reply: std::mem::take(&mut script.0),
                    read: 0,
                    interrupt_read: true,
                    interrupt_write: true,
                })
            })
        }
    }

    impl Read for Interrupted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt_read = !self.interrupt_read;
            if !self.interrupt_read {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(5).min(self.reply.len() - self.read);
            buf[..n].copy_from_slice(&self.reply[self.read..self.read + n]);
            self.read += n;
            Ok(n)
        }
    }

    impl Write for Interrupted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.interrupt_write = !self.interrupt_write;
            if !self.interrupt_write {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(1000);
            SENT.with(|sent| sent.borrow_mut().extend_from_slice(&buf[..n]));
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_signal_interrupting_connect_read_or_write_is_retried_not_fatal() {
        let big_body = vec![b'x'; COPY_BODY_LIMIT + 1];
        let mut reply =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_vec();
        reply.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 6000\r\n\r\n");
        reply.extend_from_slice(&[b'y'; 6000]);
        SCRIPT.with(|script| *script.borrow_mut() = (reply, 2));
        let endpoint = Endpoint::parse("127.0.0.1:9001").unwrap();
        let mut client = HttpClient::<Interrupted>::new(endpoint, None);

        let r = client.request("GET", "/next", &[], b"").unwrap();
        assert_eq!((r.status, r.body), (200, &b"abc"[..]));
        // A body past `COPY_BODY_LIMIT` goes out with a vectored write.
        let r = client.request("POST", "/big", &[], &big_body).unwrap();
        assert_eq!((r.status, r.body.len()), (200, 6000));

        let sent = SENT.with(|sent| sent.borrow().clone());
        let second = sent
            .windows(10)
            .position(|w| w == b"POST /big ")
            .expect("the second request was sent");
        assert!(sent[..second].starts_with(b"GET /next HTTP/1.1\r\n"));
        assert!(sent.ends_with(&big_body), "the body went out whole");
        assert_eq!(
            sent.len() - second,
            format!(
                "POST /big HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: {USER_AGENT}\r\nContent-Length: {}\r\n\r\n",
                big_body.len()
            )
            .len()
                + big_body.len()
        );
    }

    /// Reads one chunked request on `conn` up to the empty line after its trailers.
    fn read_chunked_request(conn: &mut TcpStream) -> Vec<u8> {
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !(request.ends_with(b"\r\n\r\n") && request.windows(5).any(|w| w == b"\r\n0\r\n")) {
            conn.read_exact(&mut byte).unwrap();
            request.push(byte[0]);
        }
        request
    }

    #[test]
    fn a_chunked_request_is_framed_chunk_by_chunk_and_ends_with_its_trailers() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = Endpoint::parse(&listener.local_addr().unwrap().to_string()).unwrap();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let request = read_chunked_request(&mut conn);
            conn.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            request
        });
        let mut client = HttpClient::<TcpStream>::new(endpoint, Some(Duration::from_secs(5)));
        client
            .start_chunked("POST", "/s", &[("X-Mode", "streaming")])
            .unwrap();
        client.write_chunks(&[b"abc"], far()).unwrap();
        client.write_chunks(&[b""], far()).unwrap();
        client
            .write_chunks(&[&[b'z'; 300], b"", b"0123456789abcdef"], far())
            .unwrap();
        let r = client.finish_chunked(&[("X-Error", "none")]).unwrap();
        assert_eq!((r.status, r.body), (202, &b"ok"[..]));
        let request = String::from_utf8(server.join().unwrap()).unwrap();
        let (head, body) = request.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains("\r\nTransfer-Encoding: chunked\r\n"),
            "{head}"
        );
        assert!(!head.contains("Content-Length"), "{head}");
        assert!(head.ends_with("\r\nX-Mode: streaming"), "{head}");
        assert_eq!(
            body,
            format!(
                "3\r\nabc\r\n12c\r\n{}\r\n10\r\n0123456789abcdef\r\n0\r\nX-Error: none\r\n\r\n",
                "z".repeat(300)
            )
        );
    }

    #[test]
    fn a_stream_starts_on_a_new_connection_when_the_idle_one_was_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = Endpoint::parse(&listener.local_addr().unwrap().to_string()).unwrap();
        let server = thread::spawn(move || {
            let (mut first, _) = listener.accept().unwrap();
            let mut head = [0u8; 1024];
            let _ = first.read(&mut head).unwrap();
            // Answered, then closed while the client is idle: a keep-alive timeout.
            first
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            drop(first);
            let (mut second, _) = listener.accept().unwrap();
            let request = read_chunked_request(&mut second);
            second
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            request
        });
        let mut client = HttpClient::<TcpStream>::new(endpoint, Some(Duration::from_secs(5)));
        assert_eq!(
            client.request("GET", "/next", &[], b"").unwrap().status,
            200
        );
        thread::sleep(Duration::from_millis(50));
        client.start_chunked("POST", "/s", &[]).unwrap();
        client.write_chunks(&[b"data"], far()).unwrap();
        assert_eq!(client.finish_chunked(&[]).unwrap().status, 202);
        let request = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(request.ends_with("4\r\ndata\r\n0\r\n\r\n"), "{request}");
    }

    #[test]
    fn chunk_size_lines_are_lowercase_hex() {
        for n in [
            1usize,
            9,
            10,
            15,
            16,
            255,
            256,
            65536,
            0xdead_beef,
            usize::MAX,
        ] {
            let mut line = [0u8; 18];
            let len = chunk_size_line(n, &mut line);
            assert_eq!(&line[..len], format!("{n:x}\r\n").as_bytes());
        }
    }

    #[test]
    fn itoa_matches_display() {
        for n in [0usize, 7, 10, 12345, usize::MAX] {
            assert_eq!(itoa(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }
}
