//! A handler's `http::Response` out, in the shape of the source that sent the request.

use std::future::poll_fn;
use std::pin::pin;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Buf;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use super::source::Source;
use crate::error::{BoxError, Error, ResponseError, ResponseTooLarge, short_type_name};
use crate::runtime::MAX_RESPONSE_BYTES;

/// What an HTTP handler may return: an [`http::Response`] with any [`http_body::Body`], such as
/// lamina's [`Response`](super::Response) or axum's.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an HTTP handler's response",
    label = "not an `http::Response`",
    note = "an HTTP handler (one taking `lamina::http::Request`) returns `lamina::http::Response`, or any `http::Response<B>` whose body `B` implements `http_body::Body`, as axum's does"
)]
pub trait IntoResponse {
    /// The response's body.
    type Body: http_body::Body<Error: Into<BoxError>>;
    /// Whether the response streams (see [`Streaming`](super::Streaming)).
    #[doc(hidden)]
    const STREAMS: bool = false;
    /// The response.
    fn into_response(self) -> http::Response<Self::Body>;
}

impl<B> IntoResponse for http::Response<B>
where
    B: http_body::Body<Error: Into<BoxError>>,
{
    type Body = B;
    fn into_response(self) -> Self {
        self
    }
}

/// How a response body is written into the source's JSON, when the headers' guess is wrong:
/// insert it as a response extension.
///
/// Without it, a body goes out as text when its `Content-Type` is textual (`text/*`, JSON, XML,
/// JavaScript, YAML, a `+json`, `+xml` or `+yaml` type, or no content type at all) and it has
/// no `Content-Encoding`; otherwise base64-encoded with `isBase64Encoded: true`, which the
/// source decodes before the client sees it. A body that is not UTF-8 always goes as base64.
///
/// ```
/// use lamina::http::{BodyEncoding, Response};
///
/// let mut response = Response::new("<binary protocol that happens to be text>".into());
/// response.extensions_mut().insert(BodyEncoding::Binary);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyEncoding {
    /// As text, byte for byte (base64 only if it is not UTF-8).
    Text,
    /// Base64-encoded, with `isBase64Encoded: true`.
    Binary,
}

/// Reads a response body to its end, or until it is larger than Lambda takes: a body that never
/// ends (or only after gigabytes) is `Function.ResponseSizeTooLarge`, not an out-of-memory kill.
pub(super) async fn collect<B>(body: B) -> Result<Vec<u8>, Error>
where
    B: http_body::Body<Error: Into<BoxError>>,
{
    let mut body = pin!(body);
    let mut out = Vec::new();
    while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let frame = frame.map_err(|e| Error::with_type("Handler.ResponseBody", e.into()))?;
        if let Ok(mut data) = frame.into_data() {
            if out.len() + data.remaining() > MAX_RESPONSE_BYTES {
                let read = out.len() + data.remaining();
                return Err(Error::ResponseTooLarge(ResponseTooLarge::cut_off(read)));
            }
            out.reserve(data.remaining());
            while data.has_remaining() {
                let chunk = data.chunk();
                out.extend_from_slice(chunk);
                let read = chunk.len();
                data.advance(read);
            }
        }
    }
    Ok(out)
}

/// Whether a content type is text, so its body can go into JSON as a string.
fn is_text_type(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let essence = String::from_utf8_lossy(essence).to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/ecmascript"
                | "application/xml"
                | "application/yaml"
                | "application/x-yaml"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
        )
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || essence.ends_with("+yaml")
}

/// Whether the response's headers (or its [`BodyEncoding`]) say its body goes out as text; a
/// body that is not UTF-8 goes as base64 whatever they say.
fn sent_as_text(parts: &http::response::Parts) -> bool {
    match parts.extensions.get::<BodyEncoding>() {
        Some(BodyEncoding::Binary) => false,
        Some(BodyEncoding::Text) => true,
        None => {
            let encoded = parts
                .headers
                .get(CONTENT_ENCODING)
                .is_some_and(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity"));
            let text = parts
                .headers
                .get(CONTENT_TYPE)
                .is_none_or(|t| is_text_type(t.as_bytes()));
            text && !encoded
        }
    }
}

fn value_text(value: &HeaderValue) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
}

/// Where `Set-Cookie` goes in a response whose headers have one value per name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CookieRule {
    /// In `cookies` (payload 2.0): left out of `headers`.
    Apart,
    /// Nowhere else: the first one only, since cookies cannot be joined into one value.
    FirstOnly,
}

/// `{"name": "v1, v2"}`: repeated fields combined as RFC 9110 §5.3 allows, but for cookies.
struct JoinedHeaders<'a> {
    headers: &'a HeaderMap,
    cookies: CookieRule,
}

impl Serialize for JoinedHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for name in self.headers.keys() {
            let mut values = self.headers.get_all(name).iter();
            let mut joined = values
                .next()
                .map(value_text)
                .unwrap_or_default()
                .into_owned();
            if name == SET_COOKIE {
                if self.cookies == CookieRule::Apart {
                    continue;
                }
                let dropped = values.count();
                if dropped > 0 {
                    tracing::warn!(
                        dropped,
                        "the response sets several cookies but its source takes one value per \
                         header, so only the first is sent; for ALB, enable \
                         `lambda.multi_value_headers.enabled` on the target group"
                    );
                }
            } else {
                for value in values {
                    joined.push_str(", ");
                    joined.push_str(&value_text(value));
                }
            }
            map.serialize_entry(name.as_str(), &joined)?;
        }
        map.end()
    }
}

/// `{"name": ["v1", "v2"]}`.
struct MultiHeaders<'a>(&'a HeaderMap);

impl Serialize for MultiHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.keys_len()))?;
        for name in self.0.keys() {
            map.serialize_entry(name.as_str(), &Values(self.0, name))?;
        }
        map.end()
    }
}

struct Values<'a>(&'a HeaderMap, &'a http::HeaderName);

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for value in self.0.get_all(self.1) {
            seq.serialize_element(&value_text(value))?;
        }
        seq.end()
    }
}

/// The `Set-Cookie` values, for payload 2.0's `cookies`.
struct Cookies<'a>(&'a HeaderMap);

impl Serialize for Cookies<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Values(self.0, &SET_COOKIE).serialize(serializer)
    }
}

/// The response document, every source's fields in one; absent ones are not written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Outgoing<'a> {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<JoinedHeaders<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value_headers: Option<MultiHeaders<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<Cookies<'a>>,
    body: &'a str,
    is_base64_encoded: bool,
}

fn status_description(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// Writes the response document `source` expects.
pub(super) fn write(
    source: Source,
    parts: &http::response::Parts,
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let text = if sent_as_text(parts) {
        std::str::from_utf8(body).ok()
    } else {
        None
    };
    let binary = text.is_none();
    let encoded;
    let body = match text {
        Some(text) => text,
        None => {
            encoded = BASE64.encode(body);
            encoded.as_str()
        }
    };
    let headers = &parts.headers;
    let mut document = Outgoing {
        status_code: parts.status.as_u16(),
        status_description: None,
        headers: None,
        multi_value_headers: None,
        cookies: None,
        body,
        is_base64_encoded: binary,
    };
    match source {
        Source::ApiGatewayRest | Source::Alb { multi_value: true } => {
            document.multi_value_headers = Some(MultiHeaders(headers));
        }
        Source::ApiGatewayHttp | Source::FunctionUrl => {
            document.headers = Some(JoinedHeaders {
                headers,
                cookies: CookieRule::Apart,
            });
            // Always, even empty: `cargo lambda watch` (1.9) refuses a 2.0 response without
            // the field (its Function URL endpoint answers 500), and API Gateway accepts both.
            document.cookies = Some(Cookies(headers));
        }
        Source::Alb { multi_value: false } | Source::VpcLattice => {
            document.headers = Some(JoinedHeaders {
                headers,
                cookies: CookieRule::FirstOnly,
            });
        }
    }
    if matches!(source, Source::Alb { .. }) {
        document.status_description = Some(status_description(parts.status));
    }
    crate::base::json::to_writer(out, &document).map_err(|e| {
        Error::InvalidResponse(ResponseError::new(
            short_type_name::<http::Response<()>>(),
            e,
        ))
    })
}

/// The `500` a handler error becomes under `LAMINA_HTTP_ERRORS=500`: an RFC 9457 problem
/// document that names the request id to look up in the logs, and nothing of the error itself
/// (its message is for the function's owner, not its clients).
pub(super) fn write_problem(
    source: Source,
    request_id: &str,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let (parts, body) = problem(request_id).into_parts();
    write(source, &parts, body.as_bytes(), out)
}

/// The problem document of [`write_problem`], as a response.
pub(super) fn problem(request_id: &str) -> http::Response<String> {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "the function failed to handle this request; its logs have the error under this request id",
        "requestId": request_id,
    })
    .to_string();
    let mut response = http::Response::new(body);
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// The JSON prelude of a streamed HTTP response: status and headers, in the fields `source`
/// reads (Function URLs: `headers` and `cookies`, always present, as `cargo lambda watch`
/// requires; API Gateway REST APIs: `multiValueHeaders`, every cookie kept).
pub(super) fn write_prelude(
    source: Source,
    parts: &http::response::Parts,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Prelude<'a> {
        status_code: u16,
        #[serde(skip_serializing_if = "Option::is_none")]
        headers: Option<JoinedHeaders<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        multi_value_headers: Option<MultiHeaders<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cookies: Option<Cookies<'a>>,
    }
    let headers = &parts.headers;
    let mut prelude = Prelude {
        status_code: parts.status.as_u16(),
        headers: None,
        multi_value_headers: None,
        cookies: None,
    };
    if source == Source::ApiGatewayRest {
        prelude.multi_value_headers = Some(MultiHeaders(headers));
    } else {
        prelude.headers = Some(JoinedHeaders {
            headers,
            cookies: CookieRule::Apart,
        });
        prelude.cookies = Some(Cookies(headers));
    }
    crate::base::json::to_writer(out, &prelude).map_err(|e| {
        Error::InvalidResponse(ResponseError::new(
            short_type_name::<http::Response<()>>(),
            e,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that never ends: 64 KiB frames for ever, counted.
    struct Endless(usize);

    impl http_body::Body for Endless {
        type Data = bytes::Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
            self.0 += 1;
            let frame = http_body::Frame::data(bytes::Bytes::from(vec![b'x'; 64 * 1024]));
            std::task::Poll::Ready(Some(Ok(frame)))
        }
    }

    #[test]
    fn a_body_that_never_ends_is_too_large_not_an_out_of_memory_kill() {
        let mut body = Endless(0);
        let err = crate::testing::run(collect(&mut body)).unwrap_err();
        assert_eq!(err.error_type(), "Function.ResponseSizeTooLarge");
        assert!(
            err.message()
                .starts_with("the response body reached 6356992 bytes without ending"),
            "{}",
            err.message()
        );
        assert_eq!(
            body.0,
            MAX_RESPONSE_BYTES / (64 * 1024) + 1,
            "read up to the limit"
        );
        let mut exact = vec![b'x'; MAX_RESPONSE_BYTES];
        let whole = crate::testing::run(collect(super::super::Body::from(std::mem::take(
            &mut exact,
        ))));
        assert_eq!(
            whole.unwrap().len(),
            MAX_RESPONSE_BYTES,
            "the limit itself fits"
        );
    }

    fn written(source: Source, response: http::Response<&str>) -> String {
        let (parts, body) = response.into_parts();
        let mut out = Vec::new();
        write(source, &parts, body.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn with_cookies() -> http::Response<&'static str> {
        http::Response::builder()
            .status(201)
            .header("content-type", "application/json")
            .header("set-cookie", "a=1; Path=/")
            .header("set-cookie", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT")
            .header("vary", "accept")
            .header("vary", "origin")
            .body(r#"{"ok":true}"#)
            .unwrap()
    }

    #[test]
    fn each_source_gets_its_own_shape() {
        assert_eq!(
            written(Source::ApiGatewayHttp, with_cookies()),
            r#"{"statusCode":201,"headers":{"content-type":"application/json","vary":"accept, origin"},"cookies":["a=1; Path=/","b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"],"body":"{\"ok\":true}","isBase64Encoded":false}"#
        );
        assert_eq!(
            written(Source::ApiGatewayRest, with_cookies()),
            r#"{"statusCode":201,"multiValueHeaders":{"content-type":["application/json"],"set-cookie":["a=1; Path=/","b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT"],"vary":["accept","origin"]},"body":"{\"ok\":true}","isBase64Encoded":false}"#
        );
        assert_eq!(
            written(
                Source::Alb { multi_value: false },
                http::Response::new("hi")
            ),
            r#"{"statusCode":200,"statusDescription":"200 OK","headers":{},"body":"hi","isBase64Encoded":false}"#
        );
        assert_eq!(
            written(Source::VpcLattice, http::Response::new("hi")),
            r#"{"statusCode":200,"headers":{},"body":"hi","isBase64Encoded":false}"#
        );
    }

    #[test]
    fn text_types_stay_text_and_the_rest_is_base64() {
        for text in [
            "text/html; charset=utf-8",
            "application/json",
            "Application/JSON",
            "application/problem+json",
            "image/svg+xml",
            "application/x-yaml",
        ] {
            assert!(is_text_type(text.as_bytes()), "{text}");
        }
        for binary in ["image/png", "application/octet-stream", "application/pdf"] {
            assert!(!is_text_type(binary.as_bytes()), "{binary}");
        }
        let png = http::Response::builder()
            .header("content-type", "image/png")
            .body("PNG")
            .unwrap();
        assert!(
            written(Source::FunctionUrl, png).ends_with(r#""body":"UE5H","isBase64Encoded":true}"#)
        );
        let gzip = http::Response::builder()
            .header("content-type", "text/plain")
            .header("content-encoding", "gzip")
            .body("zz")
            .unwrap();
        assert!(written(Source::FunctionUrl, gzip).contains(r#""isBase64Encoded":true"#));
    }

    #[test]
    fn the_extension_overrides_the_guess_but_not_utf8() {
        let mut forced = http::Response::builder()
            .header("content-type", "image/png")
            .body("text after all")
            .unwrap();
        forced.extensions_mut().insert(BodyEncoding::Text);
        assert!(written(Source::FunctionUrl, forced).contains(r#""body":"text after all""#));
        let (parts, ()) = http::Response::new(()).into_parts();
        let mut parts = parts;
        parts.extensions.insert(BodyEncoding::Text);
        let mut out = Vec::new();
        write(Source::FunctionUrl, &parts, &[0xff, 0x00], &mut out).unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains(r#""body":"/wA=","isBase64Encoded":true"#)
        );
    }

    #[test]
    fn problem_documents_name_the_request_not_the_error() {
        let mut out = Vec::new();
        write_problem(Source::ApiGatewayHttp, "req-1", &mut out).unwrap();
        let document: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(document["statusCode"], 500);
        assert_eq!(
            document["headers"]["content-type"],
            "application/problem+json"
        );
        let body: serde_json::Value =
            serde_json::from_str(document["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["status"], 500);
        assert_eq!(body["requestId"], "req-1");
    }
}
