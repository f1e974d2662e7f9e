//! Application Load Balancer requests and responses, in whichever header mode the target group
//! uses.
//!
//! An ALB target group sends a Lambda function its requests in one of two shapes: with
//! `headers` and `queryStringParameters` (one value per name, the default), or, when the target
//! group's `lambda.multi_value_headers.enabled` attribute is on, with `multiValueHeaders` and
//! `multiValueQueryStringParameters`. The response must use the same mode: ALB reads only the
//! headers of its own mode and answers the client `502` when the response does not fit. A
//! function should not need to know how its target group is configured, so lamina reads the
//! mode from the request ([`HeaderMode::of`]) and [`AlbRequestExt::respond`] starts a
//! [`Response`] that is written in that mode. A response built without a request (mode
//! unknown) carries both header maps, which either mode accepts.
//!
//! ```no_run
//! use lamina::events::alb::{AlbRequestExt, AlbTargetGroupRequest, Response};
//! use lamina::events::alb::http::StatusCode;
//! use lamina::{Context, Error};
//!
//! #[lamina::handler]
//! async fn hello(request: AlbTargetGroupRequest, _ctx: Context) -> Result<Response, Error> {
//!     let name = request.query("name").unwrap_or_else(|| "world".into());
//!     Ok(request.respond(StatusCode::OK).text(format!("Hello, {name}!")))
//! }
//! ```
//!
//! What else ALB leaves to the function, and lamina does:
//!
//! - **Query strings arrive as the client sent them**: ALB does not decode them.
//!   [`AlbRequestExt::query`] decodes `%XX` escapes and `+` as a space, as HTML forms and
//!   `URLSearchParams` encode them (a literal `+` arrives as `%2B`). A `%` not followed by two
//!   hex digits stays as it is, and bytes that are not UTF-8 become U+FFFD, as in a browser;
//!   the raw values are still in the request's own fields.
//! - **Headers are case-insensitive**: they are an [`http::HeaderMap`], and ALB sends names in
//!   lower case.
//! - **Bodies**: a request body ALB base64-encoded (`isBase64Encoded`, for binary content) is
//!   decoded by [`AlbRequestExt::body_bytes`]. A response body that is not UTF-8 is sent
//!   base64-encoded with `isBase64Encoded: true`; any other body is sent as text, byte for byte.
//! - **`statusDescription`**, which ALB requires, is filled from the status: `"200 OK"`.
//! - **The `http` crate**: [`AlbRequestExt::to_http`] gives an [`http::Request`] to hand to
//!   ordinary Rust HTTP code, and an [`http::Response`] converts into a [`Response`].

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::ser::{Error as _, SerializeMap};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use aws_lambda_events::event::alb::{
    AlbTargetGroupRequest, AlbTargetGroupRequestContext, AlbTargetGroupResponse, ElbContext,
};
/// The `http` crate (1.x), whose types this module's API uses; lamina stays on its major
/// version as `aws_lambda_events` 1.x does.
pub use http;

use super::{PayloadError, decode_json};
use crate::base::percent;
use crate::error::Error;

/// How a target group sends headers and query parameters, and so how the response must send
/// its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderMode {
    /// `headers` and `queryStringParameters`: one value per name (ALB keeps the last one the
    /// client sent). The default for a target group.
    Single,
    /// `multiValueHeaders` and `multiValueQueryStringParameters`: every value, in order. The
    /// target group has `lambda.multi_value_headers.enabled` set.
    Multi,
}

impl HeaderMode {
    /// The mode `request` was sent in.
    ///
    /// ALB fills the maps of one mode only, and always sends some headers (`host`,
    /// `x-forwarded-for`, `x-amzn-trace-id`…), so a request with no multi-value maps is in
    /// single-value mode.
    pub fn of(request: &AlbTargetGroupRequest) -> Self {
        if request.multi_value_headers.is_empty()
            && request.multi_value_query_string_parameters.is_empty()
        {
            HeaderMode::Single
        } else {
            HeaderMode::Multi
        }
    }
}

/// What went wrong reading an ALB request.
///
/// New variants may be added in minor releases.
#[derive(Debug)]
#[non_exhaustive]
pub enum RequestError {
    /// `isBase64Encoded` is set but the body is not valid base64.
    Base64(base64::DecodeError),
    /// The body was asked for as text but is not UTF-8; the first invalid byte is at this offset.
    NotUtf8(usize),
    /// The body was asked for as JSON and does not decode into the type asked for.
    Json(PayloadError),
    /// The path and query do not form a URI, even with the characters a URI cannot hold escaped.
    Uri(http::Error),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Base64(e) => write!(
                f,
                "the request body is marked `isBase64Encoded` but is not valid base64 ({e}); ALB \
                 encodes bodies itself, so check what produced this event"
            ),
            RequestError::NotUtf8(at) => write!(
                f,
                "the request body is not UTF-8 (byte {at}); read it with `body_bytes()` instead"
            ),
            RequestError::Json(e) => fmt::Display::fmt(e, f),
            RequestError::Uri(e) => write!(
                f,
                "the request's path and query do not form a URI ({e}); ALB sends them as the \
                 client did, so check what produced this event"
            ),
        }
    }
}

impl std::error::Error for RequestError {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::AlbTargetGroupRequest {}
}

/// What lamina adds to an [`AlbTargetGroupRequest`]. Every method works the same in both
/// header modes.
///
/// Sealed: implemented for [`AlbTargetGroupRequest`] only.
pub trait AlbRequestExt: sealed::Sealed {
    /// The mode the request was sent in; [`AlbRequestExt::respond`] answers in it.
    fn header_mode(&self) -> HeaderMode;

    /// The request's headers, from whichever map the mode fills.
    fn header_map(&self) -> &HeaderMap;

    /// The value of header `name` (any case). When it was sent more than once, the last
    /// value, which is the one ALB keeps in single-value mode. `None` when it is absent or not
    /// text.
    fn header(&self, name: &str) -> Option<&str>;

    /// The decoded value of query parameter `name`; when it was sent more than once, the last
    /// value, which is the one ALB keeps in single-value mode. Names are compared decoded.
    fn query(&self, name: &str) -> Option<String>;

    /// Every decoded value of query parameter `name`, in the order sent. In single-value mode
    /// ALB passes on only the last one.
    fn query_all(&self, name: &str) -> Vec<String>;

    /// Every query parameter, decoded, sorted by name (ALB does not keep the order of names).
    fn query_pairs(&self) -> Vec<(String, String)>;

    /// The body, base64-decoded when ALB encoded it; empty when there is none.
    ///
    /// # Errors
    /// [`RequestError::Base64`] when it is marked base64 but is not.
    fn body_bytes(&self) -> Result<Cow<'_, [u8]>, RequestError>;

    /// The body as text.
    ///
    /// # Errors
    /// [`RequestError::Base64`], or [`RequestError::NotUtf8`] when the body is not UTF-8.
    fn body_text(&self) -> Result<Cow<'_, str>, RequestError>;

    /// The body decoded from JSON into `T`.
    ///
    /// # Errors
    /// [`RequestError::Base64`], or [`RequestError::Json`] saying where the body stopped
    /// matching `T` (without quoting it).
    fn body_json<T: DeserializeOwned>(&self) -> Result<T, RequestError>;

    /// Starts a response in this request's header mode.
    fn respond(&self, status: StatusCode) -> Response;

    /// The request as an [`http::Request`]: method, path and query as ALB sent them (query
    /// names sorted), the headers, and the decoded body. Its extensions hold the
    /// [`HeaderMode`] and the [`AlbTargetGroupRequestContext`].
    ///
    /// # Errors
    /// [`RequestError::Base64`] for a body marked base64 that is not, [`RequestError::Uri`]
    /// when the path cannot be made a URI.
    fn to_http(&self) -> Result<http::Request<Vec<u8>>, RequestError>;
}

impl AlbRequestExt for AlbTargetGroupRequest {
    fn header_mode(&self) -> HeaderMode {
        HeaderMode::of(self)
    }

    fn header_map(&self) -> &HeaderMap {
        match self.header_mode() {
            HeaderMode::Multi => &self.multi_value_headers,
            HeaderMode::Single => &self.headers,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.header_map()
            .get_all(name)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
    }

    fn query(&self, name: &str) -> Option<String> {
        self.query_all(name).pop()
    }

    fn query_all(&self, name: &str) -> Vec<String> {
        query_entries(self)
            .into_iter()
            .filter(|(key, _)| percent::decode_lossy(key) == name)
            .flat_map(|(_, values)| values)
            .map(|v| percent::decode_lossy(&v).into_owned())
            .collect()
    }

    fn query_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = query_entries(self)
            .into_iter()
            .flat_map(|(key, values)| {
                let key = percent::decode_lossy(&key).into_owned();
                values
                    .into_iter()
                    .map(move |v| (key.clone(), percent::decode_lossy(&v).into_owned()))
            })
            .collect();
        // Stable: values of one name keep their order.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs
    }

    fn body_bytes(&self) -> Result<Cow<'_, [u8]>, RequestError> {
        let body = self.body.as_deref().unwrap_or("");
        if self.is_base64_encoded {
            BASE64
                .decode(body)
                .map(Cow::Owned)
                .map_err(RequestError::Base64)
        } else {
            Ok(Cow::Borrowed(body.as_bytes()))
        }
    }

    fn body_text(&self) -> Result<Cow<'_, str>, RequestError> {
        match self.body_bytes()? {
            Cow::Borrowed(_) => Ok(Cow::Borrowed(self.body.as_deref().unwrap_or(""))),
            Cow::Owned(bytes) => String::from_utf8(bytes)
                .map(Cow::Owned)
                .map_err(|e| RequestError::NotUtf8(e.utf8_error().valid_up_to())),
        }
    }

    fn body_json<T: DeserializeOwned>(&self) -> Result<T, RequestError> {
        decode_json("request body", &self.body_bytes()?).map_err(RequestError::Json)
    }

    fn respond(&self, status: StatusCode) -> Response {
        Response::new(status).with_mode(self.header_mode())
    }

    fn to_http(&self) -> Result<http::Request<Vec<u8>>, RequestError> {
        let body = self.body_bytes()?.into_owned();
        let mut target = String::new();
        match self.path.as_deref() {
            Some(path) if path.starts_with('/') => target.push_str(path),
            Some(path) => {
                target.push('/');
                target.push_str(path);
            }
            None => target.push('/'),
        }
        let mut separator = '?';
        for (key, values) in query_entries(self) {
            for value in values {
                target.push(separator);
                target.push_str(&key);
                target.push('=');
                target.push_str(&value);
                separator = '&';
            }
        }
        // ALB passes the path and query on as the client sent them; a client may have sent
        // bytes a URI cannot hold unescaped (`http` refuses `"`, `{`, non-ASCII…).
        let uri = http::Uri::try_from(target.as_str())
            .or_else(|_| http::Uri::try_from(escape_uri(&target)))
            .map_err(|e| RequestError::Uri(e.into()))?;
        let mut request = http::Request::new(body);
        *request.method_mut() = self.http_method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = self.header_map().clone();
        request.extensions_mut().insert(self.header_mode());
        request
            .extensions_mut()
            .insert(self.request_context.clone());
        Ok(request)
    }
}

/// The query parameters in the map of the request's mode, still encoded, sorted by name.
///
/// Read through `QueryMap`'s `Serialize` impl because its iterator indexes into each list of
/// values and so panics on a name sent with an empty list (`{"a": []}`).
fn query_entries(request: &AlbTargetGroupRequest) -> Vec<(String, Vec<String>)> {
    let map = match request.header_mode() {
        HeaderMode::Multi => &request.multi_value_query_string_parameters,
        HeaderMode::Single => &request.query_string_parameters,
    };
    if map.is_empty() {
        return Vec::new();
    }
    let Ok(serde_json::Value::Object(object)) = serde_json::to_value(map) else {
        return Vec::new();
    };
    object
        .into_iter()
        .map(|(key, values)| {
            let values = match values {
                serde_json::Value::Array(values) => values
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                serde_json::Value::String(value) => vec![value],
                _ => Vec::new(),
            };
            (key, values)
        })
        .collect()
}

/// Escapes the bytes of a request target that a URI cannot hold, leaving `%` escapes alone.
fn escape_uri(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    for &b in target.as_bytes() {
        if b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds the request ALB would send for `request` in `mode`: the inverse of
/// [`AlbRequestExt::to_http`], for tests and local runs.
///
/// The body is sent as text when it is UTF-8 and base64-encoded otherwise. The request
/// context comes from the request's extensions when it has one.
pub fn request_from_http<B: AsRef<[u8]>>(
    request: &http::Request<B>,
    mode: HeaderMode,
) -> AlbTargetGroupRequest {
    let mut out = AlbTargetGroupRequest::default();
    out.http_method = request.method().clone();
    out.path = Some(request.uri().path().to_owned());
    let mut query: std::collections::HashMap<String, Vec<String>> = Default::default();
    for pair in request.uri().query().unwrap_or("").split('&') {
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let values = query.entry(key.to_owned()).or_default();
        if mode == HeaderMode::Single {
            values.clear();
        }
        values.push(value.to_owned());
    }
    match mode {
        HeaderMode::Single => {
            out.query_string_parameters = query.into();
            for name in request.headers().keys() {
                if let Some(last) = request.headers().get_all(name).iter().next_back() {
                    out.headers.insert(name.clone(), last.clone());
                }
            }
        }
        HeaderMode::Multi => {
            out.multi_value_query_string_parameters = query.into();
            out.multi_value_headers = request.headers().clone();
        }
    }
    let body = request.body().as_ref();
    match std::str::from_utf8(body) {
        Ok(text) => out.body = Some(text.to_owned()),
        Err(_) => {
            out.body = Some(BASE64.encode(body));
            out.is_base64_encoded = true;
        }
    }
    if let Some(context) = request.extensions().get::<AlbTargetGroupRequestContext>() {
        out.request_context = context.clone();
    }
    out
}

/// A response to ALB, written in the header mode of the request it answers.
///
/// Start one with [`AlbRequestExt::respond`] (mode taken from the request), or with
/// [`Response::new`] and set the mode with [`Response::for_request`] or
/// [`Response::with_mode`]. Without a mode both `headers` and `multiValueHeaders` are written,
/// which either mode accepts.
///
/// ```
/// use lamina::events::alb::{HeaderMode, Response};
/// use lamina::events::alb::http::StatusCode;
///
/// let response = Response::new(StatusCode::NOT_FOUND)
///     .with_mode(HeaderMode::Multi)
///     .header("set-cookie", "a=1")
///     .header("set-cookie", "b=2")
///     .text("no such page");
/// assert_eq!(
///     serde_json::to_string(&response)?,
///     r#"{"statusCode":404,"statusDescription":"404 Not Found","multiValueHeaders":{"set-cookie":["a=1","b=2"],"content-type":["text/plain; charset=utf-8"]},"body":"no such page","isBase64Encoded":false}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    mode: Option<HeaderMode>,
    invalid_header: Option<String>,
}

impl Response {
    /// An empty response with this status, in no particular mode.
    pub fn new(status: StatusCode) -> Self {
        Response {
            status,
            headers: HeaderMap::new(),
            body: Vec::new(),
            mode: None,
            invalid_header: None,
        }
    }

    /// Writes the response in `mode`, whatever the request was.
    pub fn with_mode(mut self, mode: HeaderMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Writes the response in the header mode of `request`.
    pub fn for_request(self, request: &AlbTargetGroupRequest) -> Self {
        self.with_mode(HeaderMode::of(request))
    }

    /// Adds a header; a name sent twice keeps both values.
    ///
    /// A name or value that is not a valid header does not panic here: encoding the response
    /// then fails with `Runtime.InvalidResponse`, naming it. Use [`Response::headers_mut`] with
    /// typed [`HeaderName`]s and [`HeaderValue`]s to check them yourself.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            (Err(e), _) => {
                self.invalid_header
                    .get_or_insert_with(|| format!("a header name is invalid ({e})"));
            }
            (Ok(name), Err(e)) => {
                self.invalid_header.get_or_insert_with(|| {
                    format!("the value of header `{name}` is invalid ({e})")
                });
            }
        }
        self
    }

    /// Sets the body; a body that is not UTF-8 is sent base64-encoded.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a text body, and `content-type: text/plain; charset=utf-8` unless a content type
    /// is set already.
    pub fn text(self, text: impl Into<String>) -> Self {
        self.with_default_type("text/plain; charset=utf-8")
            .with_body(text.into())
    }

    /// Sets `value` as a JSON body, and `content-type: application/json` unless a content type
    /// is set already.
    ///
    /// # Errors
    /// `Runtime.InvalidResponse` when `value` cannot be encoded as JSON (a map with non-string
    /// keys).
    pub fn json<T: Serialize>(self, value: &T) -> Result<Self, Error> {
        let mut body = Vec::new();
        crate::handler::encode(value, &mut body)?;
        Ok(self.with_default_type("application/json").with_body(body))
    }

    fn with_default_type(mut self, content_type: &'static str) -> Self {
        self.headers
            .entry(http::header::CONTENT_TYPE)
            .or_insert(HeaderValue::from_static(content_type));
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The headers, to change.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The mode the response is written in; `None` writes both header maps.
    pub fn mode(&self) -> Option<HeaderMode> {
        self.mode
    }

    /// The `statusDescription` ALB requires: the code and its reason phrase, as `"200 OK"`.
    pub fn status_description(&self) -> String {
        match self.status.canonical_reason() {
            Some(reason) => format!("{} {reason}", self.status.as_u16()),
            None => self.status.as_u16().to_string(),
        }
    }

    /// Converts from an [`http::Response`]; its mode is the [`HeaderMode`] in its extensions,
    /// when there is one.
    pub fn from_http<B: Into<Vec<u8>>>(response: http::Response<B>) -> Self {
        let (parts, body) = response.into_parts();
        Response {
            status: parts.status,
            headers: parts.headers,
            body: body.into(),
            mode: parts.extensions.get::<HeaderMode>().copied(),
            invalid_header: None,
        }
    }

    /// Converts into an [`http::Response`], with the mode (if set) in its extensions.
    pub fn into_http(self) -> http::Response<Vec<u8>> {
        let mut response = http::Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        if let Some(mode) = self.mode {
            response.extensions_mut().insert(mode);
        }
        response
    }
}

impl<B: Into<Vec<u8>>> From<http::Response<B>> for Response {
    fn from(response: http::Response<B>) -> Self {
        Response::from_http(response)
    }
}

fn header_text<E: serde::ser::Error>(name: &HeaderName, value: &HeaderValue) -> Result<String, E> {
    std::str::from_utf8(value.as_bytes())
        .map(str::to_owned)
        .map_err(|_| {
            E::custom(format!(
                "the value of response header `{name}` is not UTF-8; ALB responses are JSON, so \
                 header values must be text"
            ))
        })
}

struct SingleHeaders<'a>(&'a HeaderMap);

impl Serialize for SingleHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.keys_len()))?;
        for name in self.0.keys() {
            let mut values = self.0.get_all(name).iter();
            let mut joined = match values.next() {
                Some(first) => header_text::<S::Error>(name, first)?,
                None => continue,
            };
            let rest = values.count();
            if rest > 0 && name == http::header::SET_COOKIE {
                // Cookies cannot be joined into one value: a single-value response can carry
                // only one of them.
                tracing::warn!(
                    dropped = rest,
                    "the response sets several cookies but the target group is in single-value \
                     header mode, so only the first is sent; enable \
                     `lambda.multi_value_headers.enabled` on the target group to send them all"
                );
            } else {
                // RFC 9110 §5.3: repeated fields may be combined into one, comma-separated.
                for value in self.0.get_all(name).iter().skip(1) {
                    joined.push_str(", ");
                    joined.push_str(&header_text::<S::Error>(name, value)?);
                }
            }
            map.serialize_entry(name.as_str(), &joined)?;
        }
        map.end()
    }
}

struct MultiHeaders<'a>(&'a HeaderMap);

impl Serialize for MultiHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.keys_len()))?;
        for name in self.0.keys() {
            let values = self
                .0
                .get_all(name)
                .iter()
                .map(|v| header_text::<S::Error>(name, v))
                .collect::<Result<Vec<_>, _>>()?;
            map.serialize_entry(name.as_str(), &values)?;
        }
        map.end()
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(problem) = &self.invalid_header {
            return Err(S::Error::custom(format!(
                "{problem}; pass header names and values that `http` accepts"
            )));
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("statusCode", &self.status.as_u16())?;
        map.serialize_entry("statusDescription", &self.status_description())?;
        if self.mode != Some(HeaderMode::Multi) {
            map.serialize_entry("headers", &SingleHeaders(&self.headers))?;
        }
        if self.mode != Some(HeaderMode::Single) {
            map.serialize_entry("multiValueHeaders", &MultiHeaders(&self.headers))?;
        }
        // ALB turns a missing body into an error for the client, so an empty one is "".
        match std::str::from_utf8(&self.body) {
            Ok(text) => {
                map.serialize_entry("body", text)?;
                map.serialize_entry("isBase64Encoded", &false)?;
            }
            Err(_) => {
                map.serialize_entry("body", &BASE64.encode(&self.body))?;
                map.serialize_entry("isBase64Encoded", &true)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Response {
    /// Reads a response document, for tests: the mode is that of the header map it has
    /// (`None` for both or neither).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let wire = AlbTargetGroupResponse::deserialize(deserializer)?;
        let status = u16::try_from(wire.status_code)
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or_else(|| D::Error::custom(format!("`{}` is not a status", wire.status_code)))?;
        let mode = match (wire.headers.is_empty(), wire.multi_value_headers.is_empty()) {
            (false, true) => Some(HeaderMode::Single),
            (true, false) => Some(HeaderMode::Multi),
            _ => None,
        };
        let headers = match mode {
            Some(HeaderMode::Single) => wire.headers,
            _ => wire.multi_value_headers,
        };
        let body = match wire.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) if wire.is_base64_encoded => {
                BASE64.decode(text).map_err(D::Error::custom)?
            }
            Some(aws_lambda_events::encodings::Body::Text(text)) => text.into_bytes(),
            Some(aws_lambda_events::encodings::Body::Binary(bytes)) => bytes,
            _ => Vec::new(),
        };
        Ok(Response {
            status,
            headers,
            body,
            mode,
            invalid_header: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Issue 12, item 1: `Response::json` wrote serde_json's private wrapper for a `RawValue`.
    #[test]
    fn json_body_of_a_raw_value_is_the_raw_json() {
        let raw = serde_json::value::RawValue::from_string(r#"{"a":1}"#.to_owned()).unwrap();
        let response = Response::new(StatusCode::OK).json(&raw).unwrap();
        assert_eq!(response.body(), br#"{"a":1}"#);
    }

    const SINGLE: &str = include_str!("../../tests/integration/fixtures/events/alb-single.json");
    const MULTI: &str = include_str!("../../tests/integration/fixtures/events/alb-multi.json");
    const BINARY: &str = include_str!("../../tests/integration/fixtures/events/alb-binary.json");
    const EMPTY: &str = include_str!("../../tests/integration/fixtures/events/alb-empty.json");
    const RESPONSE: &str =
        include_str!("../../tests/integration/fixtures/events/alb-response-multi.json");

    fn request(json: &str) -> AlbTargetGroupRequest {
        let parsed: AlbTargetGroupRequest = serde_json::from_str(json).unwrap();
        let again: AlbTargetGroupRequest =
            serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(parsed, again, "round trip");
        assert_eq!(HeaderMode::of(&parsed), HeaderMode::of(&again));
        parsed
    }

    #[test]
    fn single_value_fixture() {
        let req = request(SINGLE);
        assert_eq!(req.header_mode(), HeaderMode::Single);
        assert_eq!(req.header("User-Agent"), Some("curl/8.5.0"));
        assert_eq!(req.query("name"), Some("Ada Lovelace".into()));
        assert_eq!(req.query("tag"), Some("c++".into()));
        assert_eq!(req.query("q"), Some("100% sure".into()));
        assert_eq!(req.query("missing"), None);
        assert_eq!(
            req.query_pairs(),
            [
                ("name".to_owned(), "Ada Lovelace".to_owned()),
                ("q".into(), "100% sure".into()),
                ("tag".into(), "c++".into())
            ]
        );
        assert_eq!(req.body_text().unwrap(), r#"{"greeting":"hi"}"#);
        let http = req.to_http().unwrap();
        assert_eq!(http.method(), http::Method::POST);
        assert_eq!(
            http.uri().to_string(),
            "/greet?name=Ada+Lovelace&q=100%25+sure&tag=c%2B%2B"
        );
        assert_eq!(http.headers()["content-type"], "application/json");
        assert_eq!(http.extensions().get(), Some(&HeaderMode::Single));
        let back = request_from_http(&http, HeaderMode::Single);
        assert_eq!(back.header_map(), req.header_map());
        assert_eq!(back.query_pairs(), req.query_pairs());
        assert_eq!(back.body, req.body);
        assert_eq!(back.request_context, req.request_context);
    }

    #[test]
    fn multi_value_fixture() {
        let req = request(MULTI);
        assert_eq!(req.header_mode(), HeaderMode::Multi);
        assert_eq!(req.query_all("color"), ["red", "dark blue"]);
        assert_eq!(req.query("color"), Some("dark blue".into()));
        assert_eq!(req.query("é"), Some("ü".into()), "names compare decoded");
        let cookies: Vec<_> = req.header_map().get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(req.header("cookie"), Some("b=2"));
        assert_eq!(req.body_bytes().unwrap().as_ref(), b"");
        let response = req.respond(StatusCode::OK).text("ok");
        let json: serde_json::Value = serde_json::to_value(&response).unwrap();
        assert!(json.get("headers").is_none());
        assert_eq!(
            json["multiValueHeaders"]["content-type"][0],
            "text/plain; charset=utf-8"
        );
    }

    #[test]
    fn binary_fixture_decodes_the_body() {
        let req = request(BINARY);
        assert_eq!(
            req.body_bytes().unwrap().as_ref(),
            b"\x89PNG\r\n\x1a\n\0\xff"
        );
        assert!(matches!(req.body_text(), Err(RequestError::NotUtf8(0))));
        let http = req.to_http().unwrap();
        assert_eq!(http.body(), b"\x89PNG\r\n\x1a\n\0\xff");
        let back = request_from_http(&http, HeaderMode::Single);
        assert!(back.is_base64_encoded);
        assert_eq!(back.body, req.body);
    }

    #[test]
    fn empty_fixture_has_an_empty_body_and_no_query() {
        let req = request(EMPTY);
        assert_eq!(req.body_bytes().unwrap().as_ref(), b"");
        assert!(req.query_pairs().is_empty());
        assert_eq!(req.to_http().unwrap().uri(), "/health");
    }

    #[test]
    fn a_bad_base64_body_is_an_error_not_a_panic() {
        let mut req = request(BINARY);
        req.body = Some("***".into());
        let err = req.body_bytes().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the request body is marked `isBase64Encoded` but is not valid base64 (Invalid \
             symbol 42, offset 0.); ALB encodes bodies itself, so check what produced this event"
        );
    }

    #[test]
    fn an_empty_query_value_list_does_not_panic() {
        let req: AlbTargetGroupRequest = serde_json::from_str(
            r#"{"httpMethod":"GET","path":"/","multiValueQueryStringParameters":{"a":[]},
                "multiValueHeaders":{"host":["x"]},"requestContext":{"elb":{}},"body":""}"#,
        )
        .unwrap();
        assert_eq!(req.query_all("a"), Vec::<String>::new());
        assert_eq!(req.to_http().unwrap().uri(), "/");
    }

    #[test]
    fn unusual_paths_are_escaped_into_a_uri() {
        let mut req = request(EMPTY);
        req.path = Some("/a b/ü\"".into());
        assert_eq!(req.to_http().unwrap().uri(), "/a%20b/%C3%BC%22");
    }

    #[test]
    fn response_fixture_round_trips() {
        let response: Response = serde_json::from_str(RESPONSE).unwrap();
        assert_eq!(response.mode(), Some(HeaderMode::Multi));
        assert_eq!(response.body(), b"\x00\x01binary\xff");
        let json = serde_json::to_string(&response).unwrap();
        let again: Response = serde_json::from_str(&json).unwrap();
        assert_eq!(response, again);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            serde_json::from_str::<serde_json::Value>(RESPONSE).unwrap()
        );
    }

    #[test]
    fn single_mode_joins_repeated_headers_but_not_cookies() {
        let response = Response::new(StatusCode::CREATED)
            .with_mode(HeaderMode::Single)
            .header("vary", "accept")
            .header("vary", "origin")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2");
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"statusCode":201,"statusDescription":"201 Created","headers":{"vary":"accept, origin","set-cookie":"a=1"},"body":"","isBase64Encoded":false}"#
        );
    }

    #[test]
    fn without_a_mode_both_maps_are_written_and_binary_is_base64() {
        let response = Response::new(StatusCode::OK)
            .header("content-type", "image/png")
            .with_body(vec![0x89, b'P', b'N', b'G']);
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"statusCode":200,"statusDescription":"200 OK","headers":{"content-type":"image/png"},"multiValueHeaders":{"content-type":["image/png"]},"body":"iVBORw==","isBase64Encoded":true}"#
        );
    }

    #[test]
    fn invalid_headers_fail_encoding_with_their_name() {
        let response = Response::new(StatusCode::OK).header("x-ok", "line\nbreak");
        let err = serde_json::to_string(&response).unwrap_err().to_string();
        assert_eq!(
            err,
            "the value of header `x-ok` is invalid (failed to parse header value); pass header \
             names and values that `http` accepts"
        );
        let mut out = Vec::new();
        let err = crate::handler::encode(&response, &mut out).unwrap_err();
        assert_eq!(err.error_type(), "Runtime.InvalidResponse");
    }

    #[test]
    fn http_response_converts_with_its_status_description() {
        let http = http::Response::builder()
            .status(418)
            .header("x-tea", "earl grey")
            .body("short and stout")
            .unwrap();
        let response = Response::from(http).with_mode(HeaderMode::Single);
        assert_eq!(response.status_description(), "418 I'm a teapot");
        assert_eq!(
            Response::new(StatusCode::from_u16(599).unwrap()).status_description(),
            "599"
        );
        let back = response.clone().into_http();
        assert_eq!(back.extensions().get(), Some(&HeaderMode::Single));
        assert_eq!(Response::from_http(back), response);
    }

    fn header_name() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9-]{0,12}"
    }

    fn header_value() -> impl Strategy<Value = String> {
        "[ -~&&[^,]]{0,16}".prop_map(|v| v.trim().to_owned())
    }

    proptest! {
        /// A multi-value response keeps every value of every header through JSON and back.
        #[test]
        fn multi_value_responses_round_trip(
            headers in proptest::collection::vec((header_name(), header_value()), 0..8),
            body in proptest::collection::vec(any::<u8>(), 0..32),
        ) {
            let mut response = Response::new(StatusCode::OK).with_mode(HeaderMode::Multi).with_body(body);
            for (name, value) in &headers {
                response = response.header(name.as_str(), value.as_str());
            }
            let json = serde_json::to_string(&response).unwrap();
            let again: Response = serde_json::from_str(&json).unwrap();
            if headers.is_empty() {
                prop_assert_eq!(again.mode(), None);
                prop_assert_eq!(again.with_mode(HeaderMode::Multi), response);
            } else {
                prop_assert_eq!(again, response);
            }
        }

        /// A single-value response carries each header once, and reading it back gives the
        /// values joined with ", ".
        #[test]
        fn single_value_responses_round_trip(
            headers in proptest::collection::btree_map(header_name(), header_value(), 1..8),
        ) {
            prop_assume!(!headers.contains_key("set-cookie"));
            let mut response = Response::new(StatusCode::OK).with_mode(HeaderMode::Single);
            for (name, value) in &headers {
                response = response.header(name.as_str(), value.as_str());
            }
            let json = serde_json::to_string(&response).unwrap();
            let again: Response = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(again, response);
        }

        /// A request in either mode survives JSON, `to_http` and `request_from_http`: same
        /// mode, headers, decoded query and body.
        #[test]
        fn requests_round_trip_through_json_and_http(
            multi in any::<bool>(),
            headers in proptest::collection::vec((header_name(), header_value()), 1..6),
            query in proptest::collection::vec(("[a-z%+2B]{1,6}", "[a-zA-Z0-9%+2B]{0,6}"), 0..6),
            body in proptest::collection::vec(any::<u8>(), 0..24),
        ) {
            let mode = if multi { HeaderMode::Multi } else { HeaderMode::Single };
            let mut builder = http::Request::builder().method("PUT");
            for (name, value) in &headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let target: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let uri = if target.is_empty() { "/p".to_owned() } else { format!("/p?{}", target.join("&")) };
            let original = builder.uri(uri).body(body.clone()).unwrap();
            let alb = request_from_http(&original, mode);
            let json = serde_json::to_string(&alb).unwrap();
            let decoded: AlbTargetGroupRequest = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(decoded.header_mode(), mode);
            prop_assert_eq!(decoded.query_pairs(), alb.query_pairs());
            prop_assert_eq!(decoded.body_bytes().unwrap().into_owned(), body.clone());
            let http = decoded.to_http().unwrap();
            prop_assert_eq!(http.body(), &body);
            let again = request_from_http(&http, mode);
            prop_assert_eq!(again.header_map(), alb.header_map());
            prop_assert_eq!(again.query_pairs(), alb.query_pairs());
            if multi {
                prop_assert_eq!(http.headers(), original.headers());
            }
        }
    }
}
