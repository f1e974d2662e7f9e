//! The four calls of the Lambda Runtime API (2018-06-01), and what each status code means.
//!
//! | call | success | lamina's reaction to other answers |
//! |---|---|---|
//! | `GET /runtime/invocation/next` | 200 | 204: ask again; anything else: stop (the API is unusable) |
//! | `POST /runtime/invocation/{id}/response` | 202 | 413: fail the invocation instead; 410: the invocation is over, log, go on; other 4xx: log, go on; 5xx: stop |
//! | `POST /runtime/invocation/{id}/error` | 202 | 410 and other 4xx: log, go on; 5xx: stop |
//! | `POST /runtime/init/error` | 202 | logged; the process exits either way |
//!
//! A 5xx is the documented "container error: non-recoverable state, the runtime should exit
//! promptly".
//!
//! When `/next` names the invocation with `Lambda-Runtime-Invocation-Id` (sent since July 2026),
//! its `/response` or `/error` echoes the value, so the platform can refuse (`410 Gone`) a late
//! answer from an invocation that timed out instead of taking it as the answer to a newer
//! invocation with the same request id.

use std::borrow::Cow;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::base::endpoint::Endpoint;
use crate::base::http1::HttpClient;
use crate::base::lambda_env::FunctionConfig;
use crate::context::{Context, HeaderFault};
use crate::error::{ApiError, ApiErrorKind, Error, write_diagnostic};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
const ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";
const INVOCATION_ID_HEADER: &str = "Lambda-Runtime-Invocation-Id";
const RESPONSE_MODE_HEADER: &str = "Lambda-Runtime-Function-Response-Mode";
const ERROR_BODY_HEADER: &str = "Lambda-Runtime-Function-Error-Body";
/// The trailers a streamed response declares, for an error after its first byte.
const STREAM_TRAILERS: &str =
    "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body";

/// A client of one Runtime API endpoint.
pub(crate) struct RuntimeApi {
    http: HttpClient,
    path: String,
    diagnostic: Vec<u8>,
}

/// What `/next` handed over.
pub(crate) enum Next {
    /// An invocation to run. The event is the client's own buffer, lent out so the handler can
    /// stream its response while it reads the event; [`RuntimeApi::give_back`] returns it.
    Invocation { context: Context, event: Vec<u8> },
    /// An invocation whose headers are unusable; fail it if it has a request id.
    Unusable(HeaderFault),
    /// Nothing to do yet (`204`, sent by `cargo lambda watch`); ask again.
    Nothing,
}

/// How the Runtime API took a response or an error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    Accepted,
    /// `413`: the response is over Lambda's payload limit.
    TooLarge,
    /// `410`: the invocation is over (it timed out); its outcome has nowhere to go.
    Gone,
    /// Another `4xx`: e.g. the invocation already ended or timed out.
    Rejected {
        status: u16,
        body: String,
    },
}

impl RuntimeApi {
    pub(crate) fn new(endpoint: Endpoint) -> Self {
        Self::with_timeout(endpoint, None)
    }

    /// A client whose reads and writes give up after `timeout` (`None`: never, as `/next` needs).
    pub(crate) fn with_timeout(endpoint: Endpoint, timeout: Option<Duration>) -> Self {
        RuntimeApi {
            http: HttpClient::new(endpoint, timeout),
            path: String::with_capacity(96),
            diagnostic: Vec::with_capacity(256),
        }
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        self.http.endpoint()
    }

    /// Waits for the next invocation; `idle` is called with the socket while the answer is
    /// awaited (see [`crate::handler::Handler::until_readable`]).
    pub(crate) fn next(
        &mut self,
        function: &Arc<FunctionConfig>,
        idle: &mut dyn FnMut(RawFd),
    ) -> Result<Next, ApiError> {
        let response = self
            .http
            .request_waiting("GET", NEXT, &[], b"", idle)
            .map_err(|e| io_error(NEXT, e))?;
        match response.status {
            200 => Ok(match Context::from_headers(response.headers(), function) {
                Ok(context) => Next::Invocation {
                    context,
                    event: self.http.take_body(),
                },
                Err(fault) => Next::Unusable(fault),
            }),
            204 => Ok(Next::Nothing),
            status => Err(ApiError::new(ApiErrorKind::Status {
                path: NEXT.to_owned(),
                status,
                body: excerpt(response.body),
            })),
        }
    }

    /// Returns an event buffer `next` lent out, so the next event reuses its memory.
    pub(crate) fn give_back(&mut self, event: Vec<u8>) {
        self.http.give_back(event);
    }

    /// Posts the handler's response for `request_id`, echoing the invocation id `/next` gave.
    pub(crate) fn respond(
        &mut self,
        request_id: &str,
        invocation_id: Option<&str>,
        body: &[u8],
    ) -> Result<Delivery, ApiError> {
        self.set_invocation_path(request_id, "/response");
        let echo;
        let headers: &[(&str, &str)] = match invocation_id {
            Some(id) => {
                echo = [(INVOCATION_ID_HEADER, id)];
                &echo
            }
            None => &[],
        };
        let response = self
            .http
            .request("POST", &self.path, headers, body)
            .map_err(|e| io_error(&self.path, e))?;
        delivery(&self.path, response.status, response.body)
    }

    /// Starts the streamed response for `request_id`: the head of a chunked `POST …/response`
    /// in Lambda's streaming mode, declaring the error trailers. Returns the socket the body is
    /// written on.
    ///
    /// # Errors
    /// The connection failed; nothing of the response reached the Runtime API.
    pub(crate) fn open_stream(
        &mut self,
        request_id: &str,
        invocation_id: Option<&str>,
        content_type: &str,
    ) -> Result<Option<RawFd>, ApiError> {
        self.set_invocation_path(request_id, "/response");
        let mut headers = [
            (RESPONSE_MODE_HEADER, "streaming"),
            ("Content-Type", content_type),
            ("Trailer", STREAM_TRAILERS),
            ("", ""),
        ];
        let count = match invocation_id {
            Some(id) => {
                headers[3] = (INVOCATION_ID_HEADER, id);
                4
            }
            None => 3,
        };
        self.http
            .start_chunked("POST", &self.path, &headers[..count])
            .map_err(|e| io_error(&self.path, e))?;
        Ok(self.http.socket())
    }

    /// Sends the next pieces of the streamed response, one chunk each, in one write where the
    /// socket takes them; a write the Runtime API takes nothing of gives up at `until`.
    ///
    /// # Errors
    /// The Runtime API closed the stream (the caller went away, or the invocation ended), or
    /// stopped reading it until `until`.
    pub(crate) fn stream_chunks(&mut self, pieces: &[&[u8]], until: Instant) -> io::Result<()> {
        pieces
            .chunks(crate::base::http1::MAX_PIECES)
            .try_for_each(|batch| self.http.write_chunks(batch, until))
    }

    /// Ends the streamed response: cleanly, or with `error` in the trailers the head declared.
    ///
    /// # Errors
    /// The write failed or the Runtime API's answer could not be read.
    pub(crate) fn close_stream(&mut self, error: Option<&Error>) -> Result<Delivery, ApiError> {
        let response = match error {
            None => self.http.finish_chunked(&[]),
            Some(error) => {
                let (error_type, body) = stream_error_trailers(error);
                self.http
                    .finish_chunked(&[(ERROR_TYPE_HEADER, &error_type), (ERROR_BODY_HEADER, &body)])
            }
        };
        let delivered = match response {
            Ok(response) => delivery(&self.path, response.status, response.body),
            Err(err) => Err(io_error(&self.path, err)),
        };
        // "The runtime must close the underlying connection after it has successfully written
        // the response" (AWS, custom runtimes: response streaming): the next request opens a
        // new one.
        self.http.disconnect();
        delivered
    }

    /// Posts an invocation error for `request_id`. A sampled invocation (per `trace_header`)
    /// also gets the X-Ray error cause, built from the error's type and message alone.
    pub(crate) fn fail(
        &mut self,
        request_id: &str,
        invocation_id: Option<&str>,
        error: &Error,
        trace_header: Option<&str>,
    ) -> Result<Delivery, ApiError> {
        self.set_invocation_path(request_id, "/error");
        let cause = crate::xray::error_cause(trace_header, error.error_type(), &error.message());
        self.post_diagnostic(error, cause.as_deref(), invocation_id)
    }

    /// Posts an init error; only valid before the first `/next`.
    pub(crate) fn fail_init(&mut self, error: &Error) -> Result<Delivery, ApiError> {
        self.path.clear();
        self.path.push_str(INIT_ERROR);
        self.post_diagnostic(error, None, None)
    }

    fn post_diagnostic(
        &mut self,
        error: &Error,
        xray_cause: Option<&str>,
        invocation_id: Option<&str>,
    ) -> Result<Delivery, ApiError> {
        // The document keeps lamina's `errorType` for the caller; the header is for the platform.
        let error_type = platform_error_type(error.error_type());
        self.diagnostic.clear();
        write_diagnostic(error.error_type(), &error.message(), &mut self.diagnostic);
        let mut headers = [(ERROR_TYPE_HEADER, &*error_type), ("", ""), ("", "")];
        let mut count = 1;
        if let Some(cause) = xray_cause {
            headers[count] = (crate::xray::ERROR_CAUSE_HEADER, cause);
            count += 1;
        }
        if let Some(id) = invocation_id {
            headers[count] = (INVOCATION_ID_HEADER, id);
            count += 1;
        }
        let response = self
            .http
            .request("POST", &self.path, &headers[..count], &self.diagnostic)
            .map_err(|e| io_error(&self.path, e))?;
        delivery(&self.path, response.status, response.body)
    }

    fn set_invocation_path(&mut self, request_id: &str, suffix: &str) {
        self.path.clear();
        self.path.push_str("/2018-06-01/runtime/invocation/");
        push_path_segment(&mut self.path, request_id);
        self.path.push_str(suffix);
    }
}

/// Ends a streamed response from the panic hook under `panic = "abort"`: its last chunk with
/// `error` in the trailers, written straight to `socket`, then the status of the Runtime API's
/// answer (read with a short timeout). The socket stays open: the process is about to end.
#[cfg(any(feature = "stream", feature = "http"))]
pub(crate) fn abort_stream(socket: RawFd, error: &Error) -> io::Result<u16> {
    use std::io::{Read, Write};
    let (error_type, body) = stream_error_trailers(error);
    let tail =
        format!("0\r\n{ERROR_TYPE_HEADER}: {error_type}\r\n{ERROR_BODY_HEADER}: {body}\r\n\r\n");
    // SAFETY: the socket belongs to the thread that panicked, which is inside this hook and
    // writes nothing else to it; `ManuallyDrop` leaves it open.
    #[allow(unsafe_code)]
    let mut connection = std::mem::ManuallyDrop::new(unsafe {
        <std::net::TcpStream as std::os::fd::FromRawFd>::from_raw_fd(socket)
    });
    connection.set_write_timeout(Some(Duration::from_secs(2)))?;
    connection.set_read_timeout(Some(Duration::from_secs(2)))?;
    connection.write_all(tail.as_bytes())?;
    let mut answer = [0u8; 512];
    let read = connection.read(&mut answer)?;
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut headers);
    match parsed.parse(&answer[..read]) {
        Ok(_) => parsed
            .code
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no status in the answer")),
        Err(err) => Err(io::Error::new(io::ErrorKind::InvalidData, err)),
    }
}

/// The two trailer values for a stream that failed: the error type the platform keeps, and the
/// error document (what `/error` would have had) in base64.
fn stream_error_trailers(error: &Error) -> (Cow<'_, str>, String) {
    let mut document = Vec::with_capacity(256);
    write_diagnostic(error.error_type(), &error.message(), &mut document);
    let mut body = Vec::with_capacity(document.len().div_ceil(3) * 4);
    base64_into(&document, &mut body);
    let body = String::from_utf8(body).expect("base64 is ASCII");
    (platform_error_type(error.error_type()), body)
}

/// Standard base64 with padding: the error document inside a trailer. Written here because the
/// `base64` crate is not in lamina's build without the `events` or `http` feature.
fn base64_into(bytes: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
}

fn delivery(path: &str, status: u16, body: &[u8]) -> Result<Delivery, ApiError> {
    match status {
        200..=299 => Ok(Delivery::Accepted),
        413 => Ok(Delivery::TooLarge),
        410 => Ok(Delivery::Gone),
        400..=499 => Ok(Delivery::Rejected {
            status,
            body: excerpt(body),
        }),
        _ => Err(ApiError::new(ApiErrorKind::Status {
            path: path.to_owned(),
            status,
            body: excerpt(body),
        })),
    }
}

pub(crate) fn io_error(path: &str, source: io::Error) -> ApiError {
    let path = path.to_owned();
    if source.kind() == io::ErrorKind::InvalidData {
        ApiError::new(ApiErrorKind::Protocol {
            path,
            problem: source.to_string(),
        })
    } else {
        ApiError::new(ApiErrorKind::Io { path, source })
    }
}

/// The start of a body, for log lines and error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
    text.trim().to_owned()
}

/// Appends `segment`, percent-encoding everything but unreserved characters, so a request id
/// can never change the path or smuggle a header.
fn push_path_segment(path: &mut String, segment: &str) {
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            path.push(b as char);
        } else {
            path.push('%');
            path.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            path.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}

/// The `Lambda-Runtime-Function-Error-Type` value for `error_type`: one Lambda's runtime agent
/// keeps.
///
/// The agent records the header only if it matches `(Runtime|Function)\.[A-Z][a-zA-Z]+`
/// (`fatalerror.go` in AWS's Runtime Interface Emulator, the same code) and anything else as
/// `Runtime.Unknown`, so `Handler.VarError` would reach the platform's records as nothing. A
/// type that fits is sent as it is; any other becomes `Function.` and its words run together
/// (`Handler.VarError` → `Function.VarError`, `Batch.MissingItemIdentifier` →
/// `Function.BatchMissingItemIdentifier`, `order_not_found` → `Function.OrderNotFound`). The
/// error document's `errorType`, which the caller sees, is not changed.
fn platform_error_type(error_type: &str) -> Cow<'_, str> {
    if fits_platform(error_type) {
        return Cow::Borrowed(error_type);
    }
    let name = ["Handler.", "Init."]
        .iter()
        .find_map(|prefix| error_type.strip_prefix(prefix))
        .unwrap_or(error_type);
    let mut header = String::from("Function.");
    for word in name.split(|c: char| !c.is_ascii_alphabetic()) {
        let mut letters = word.chars();
        if let Some(first) = letters.next() {
            header.push(first.to_ascii_uppercase());
            header.extend(letters);
        }
    }
    if fits_platform(&header) {
        Cow::Owned(header)
    } else {
        Cow::Borrowed("Function.Error")
    }
}

/// `(Runtime|Function)\.[A-Z][a-zA-Z]+`, whole.
fn fits_platform(error_type: &str) -> bool {
    let Some(name) = error_type
        .strip_prefix("Runtime.")
        .or_else(|| error_type.strip_prefix("Function."))
    else {
        return false;
    };
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.bytes().all(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_cannot_escape_the_path() {
        let mut path = String::new();
        push_path_segment(&mut path, "a1-b2_c.d~e");
        assert_eq!(path, "a1-b2_c.d~e");
        path.clear();
        push_path_segment(&mut path, "../x y\r\nHost: evil");
        assert_eq!(path, "..%2Fx%20y%0D%0AHost%3A%20evil");
    }

    /// Issue 12, item 9: `Handler.*` and `Init.*` header values were recorded by Lambda as
    /// `Runtime.Unknown`.
    #[test]
    fn error_type_headers_are_ones_the_platform_keeps() {
        let cases = [
            ("Runtime.InvalidEvent", "Runtime.InvalidEvent"),
            ("Runtime.HandlerPanic", "Runtime.HandlerPanic"),
            (
                "Function.ResponseSizeTooLarge",
                "Function.ResponseSizeTooLarge",
            ),
            ("Handler.VarError", "Function.VarError"),
            ("Init.VarError", "Function.VarError"),
            ("OrderNotFound", "Function.OrderNotFound"),
            (
                "Batch.MissingItemIdentifier",
                "Function.BatchMissingItemIdentifier",
            ),
            ("order_not_found", "Function.OrderNotFound"),
            ("Runtime.Bad_Name", "Function.RuntimeBadName"),
            ("Handler.Http2Error", "Function.HttpError"),
            ("Bad Type\r\nX: y", "Function.BadTypeXY"),
            ("naïve", "Function.NaVe"),
            ("Runtime.X", "Function.RuntimeX"),
            ("", "Function.Error"),
            ("42", "Function.Error"),
            ("x", "Function.Error"),
        ];
        for (error_type, header) in cases {
            let sent = platform_error_type(error_type);
            assert_eq!(sent, header, "{error_type:?}");
            assert!(fits_platform(&sent), "{sent}");
        }
    }

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        for (input, expected) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"\xff\xfe\x00{}", "//4Ae30="),
        ] {
            let mut out = Vec::new();
            base64_into(input, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn stream_errors_become_a_kept_type_and_a_base64_document() {
        let error = Error::new("Handler.Boom", "went \"bang\"");
        let (error_type, body) = stream_error_trailers(&error);
        assert_eq!(error_type, "Function.Boom");
        let mut expected = Vec::new();
        base64_into(
            br#"{"errorType":"Handler.Boom","errorMessage":"went \"bang\""}"#,
            &mut expected,
        );
        assert_eq!(body.as_bytes(), expected);
    }

    #[test]
    fn status_codes_map_to_deliveries() {
        assert_eq!(delivery("/p", 202, b"").unwrap(), Delivery::Accepted);
        assert_eq!(delivery("/p", 413, b"").unwrap(), Delivery::TooLarge);
        assert_eq!(delivery("/p", 410, b"gone").unwrap(), Delivery::Gone);
        assert_eq!(
            delivery("/p", 400, b" stale ").unwrap(),
            Delivery::Rejected {
                status: 400,
                body: "stale".into()
            }
        );
        let err = delivery("/p", 500, b"boom").unwrap_err();
        assert_eq!(err.status(), Some(500));
        assert!(err.to_string().contains("exits"), "{err}");
    }
}
