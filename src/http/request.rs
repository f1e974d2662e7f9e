//! An HTTP event in, an [`http::Request`] out: which source sent it, in one pass over the JSON.
//!
//! Every source's fields are read into one struct ([`Incoming`]) whose strings borrow from the
//! event where they can; the source is then told by the fields present, rather than by trying
//! each source's type in turn as an untagged enum would (one parse, and a failure that can say
//! what each source needs).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{COOKIE, HOST, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Method, Uri};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::settings::{PathStyle, Settings};
use super::source::{Authorizer, RequestContext, Source};
use super::uri::{self, Part};
use super::{Body, Request};
use crate::context::Context;
use crate::error::{Error, EventError};

/// A string from the event, borrowed when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor(PhantomData))
    }
}

/// A map's value: one string (most sources), a list of them (multi-value maps, VPC Lattice),
/// or `null` (none).
struct Values<'a>(Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Values<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValuesVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ValuesVisitor<'a> {
            type Value = Values<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Values<'a>, E> {
                Ok(Values(vec![Cow::Borrowed(v)]))
            }
            fn visit_str<E>(self, v: &str) -> Result<Values<'a>, E> {
                Ok(Values(vec![Cow::Owned(v.to_owned())]))
            }
            fn visit_string<E>(self, v: String) -> Result<Values<'a>, E> {
                Ok(Values(vec![Cow::Owned(v)]))
            }
            fn visit_unit<E>(self) -> Result<Values<'a>, E> {
                Ok(Values(Vec::new()))
            }
            fn visit_none<E>(self) -> Result<Values<'a>, E> {
                Ok(Values(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values<'a>, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(value) = seq.next_element::<Option<Text<'a>>>()? {
                    values.extend(value.map(|t| t.0));
                }
                Ok(Values(values))
            }
        }
        deserializer.deserialize_any(ValuesVisitor(PhantomData))
    }
}

/// A JSON object of strings or string lists, in the event's order.
#[derive(Default)]
struct Pairs<'a>(Vec<(Cow<'a, str>, Values<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for PairsVisitor<'a> {
            type Value = Pairs<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_unit<E>(self) -> Result<Pairs<'a>, E> {
                Ok(Pairs::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs<'a>, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((key, values)) = map.next_entry::<Text<'a>, Values<'a>>()? {
                    pairs.push((key.0, values));
                }
                Ok(Pairs(pairs))
            }
        }
        deserializer.deserialize_any(PairsVisitor(PhantomData))
    }
}

impl<'a> Pairs<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every (name, value), a name repeated for each of its values.
    fn each(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|(k, vs)| vs.0.iter().map(move |v| (k.as_ref(), v.as_ref())))
    }

    /// (name, first value), owned.
    fn firsts(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|(k, vs)| Some((k.to_string(), vs.0.first()?.to_string())))
            .collect()
    }

    /// The number of segments of the value of `name`, for a greedy `{name+}` route.
    fn segments_of(&self, name: &str) -> Option<usize> {
        let (_, values) = self.0.iter().find(|(k, _)| k == name)?;
        Some(values.0.first()?.split('/').count())
    }
}

/// Every field any source sends that lamina reads. Unknown fields are skipped.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Incoming<'a> {
    #[serde(borrow)]
    version: Option<Text<'a>>,
    #[serde(borrow)]
    resource: Option<Text<'a>>,
    #[serde(borrow)]
    path: Option<Text<'a>>,
    #[serde(borrow)]
    http_method: Option<Text<'a>>,
    /// VPC Lattice's name for it.
    #[serde(borrow)]
    method: Option<Text<'a>>,
    #[serde(borrow)]
    raw_path: Option<Text<'a>>,
    #[serde(borrow)]
    raw_query_string: Option<Text<'a>>,
    #[serde(borrow)]
    route_key: Option<Text<'a>>,
    #[serde(borrow)]
    cookies: Option<Values<'a>>,
    #[serde(borrow)]
    headers: Option<Pairs<'a>>,
    #[serde(borrow)]
    multi_value_headers: Option<Pairs<'a>>,
    #[serde(borrow)]
    query_string_parameters: Option<Pairs<'a>>,
    #[serde(borrow)]
    multi_value_query_string_parameters: Option<Pairs<'a>>,
    #[serde(borrow)]
    path_parameters: Option<Pairs<'a>>,
    #[serde(borrow)]
    stage_variables: Option<Pairs<'a>>,
    #[serde(borrow)]
    request_context: Option<RawContext<'a>>,
    #[serde(borrow)]
    body: Option<Text<'a>>,
    is_base64_encoded: Option<bool>,
}

/// `requestContext`, every source's fields in one.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RawContext<'a> {
    #[serde(borrow)]
    account_id: Option<Text<'a>>,
    #[serde(borrow)]
    api_id: Option<Text<'a>>,
    #[serde(borrow)]
    domain_name: Option<Text<'a>>,
    #[serde(borrow)]
    request_id: Option<Text<'a>>,
    #[serde(borrow)]
    stage: Option<Text<'a>>,
    /// REST: the path the client called, stage or base path included.
    #[serde(borrow)]
    path: Option<Text<'a>>,
    #[serde(borrow)]
    resource_path: Option<Text<'a>>,
    #[serde(borrow)]
    http: Option<RawHttp<'a>>,
    identity: Option<Value>,
    authorizer: Option<Value>,
    elb: Option<IgnoredAny>,
    service_network_arn: Option<IgnoredAny>,
    service_arn: Option<IgnoredAny>,
    target_group_arn: Option<IgnoredAny>,
}

/// Payload 2.0's `requestContext.http`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RawHttp<'a> {
    #[serde(borrow)]
    method: Option<Text<'a>>,
    #[serde(borrow)]
    source_ip: Option<Text<'a>>,
    #[serde(borrow)]
    user_agent: Option<Text<'a>>,
}

fn text<'s>(field: &'s Option<Text<'_>>) -> Option<&'s str> {
    field.as_ref().map(|t| t.0.as_ref())
}

fn owned(field: &Option<Text<'_>>) -> Option<String> {
    text(field).map(str::to_owned)
}

/// What the sources need, for the error when an event is none of them.
const TRIED: &str = "it is not an HTTP request from any source lamina serves: tried API Gateway \
    REST APIs (payload 1.0: `httpMethod` and `resource`), HTTP APIs and Function URLs (payload \
    2.0: `version` \"2.0\", `rawPath` and `requestContext.http.method`), ALB (`httpMethod` and \
    `requestContext.elb`) and VPC Lattice (`version` \"2.0\", `method` and `path`); a function \
    taking `lamina::http::Request` serves only these";

fn invalid(message: impl fmt::Display) -> Error {
    let source = <serde_json::Error as de::Error>::custom(message);
    Error::InvalidEvent(EventError::new(
        "lamina::http::Request",
        ".".to_owned(),
        source,
    ))
}

/// Tells which source sent `event`.
fn source_of(event: &Incoming<'_>) -> Result<Source, Error> {
    let context = event.request_context.as_ref();
    let version = text(&event.version);
    if context.is_some_and(|c| c.elb.is_some()) {
        let multi = |pairs: &Option<Pairs<'_>>| pairs.as_ref().is_some_and(|p| !p.is_empty());
        let multi_value =
            multi(&event.multi_value_headers) || multi(&event.multi_value_query_string_parameters);
        return Ok(Source::Alb { multi_value });
    }
    if version == Some("2.0") && event.raw_path.is_some() {
        let url = context
            .and_then(|c| text(&c.domain_name))
            .is_some_and(|domain| domain.contains(".lambda-url."));
        return Ok(if url {
            Source::FunctionUrl
        } else {
            Source::ApiGatewayHttp
        });
    }
    if version == Some("2.0") && event.method.is_some() && event.path.is_some() {
        return Ok(Source::VpcLattice);
    }
    if event.http_method.is_some() && (event.resource.is_some() || context.is_some()) {
        return Ok(Source::ApiGatewayRest);
    }
    Err(invalid(TRIED))
}

/// Decodes an HTTP event into the request the handler gets, and the source to answer.
pub(super) fn decode(
    bytes: &[u8],
    context: &Context,
    settings: &Settings,
) -> Result<(Request, Source), Error> {
    let event: Incoming<'_> = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            // serde_json's syntax messages quote nothing from the event.
            Error::InvalidEvent(EventError::new("lamina::http::Request", ".".to_owned(), e))
        } else {
            invalid(format_args!(
                "a field of the HTTP event has the wrong type ({}, line {}, column {})",
                crate::error::json_error_without_values(&e),
                e.line(),
                e.column()
            ))
        }
    })?;
    let source = source_of(&event)?;
    let request = build(event, source, context, settings)?;
    Ok((request, source))
}

fn build(
    mut event: Incoming<'_>,
    source: Source,
    lambda: &Context,
    settings: &Settings,
) -> Result<Request, Error> {
    let raw_context = event.request_context.take().unwrap_or_default();
    let raw_http = raw_context.http.as_ref();

    let method = match source {
        Source::ApiGatewayHttp | Source::FunctionUrl => raw_http.and_then(|h| text(&h.method)),
        Source::VpcLattice => text(&event.method),
        Source::ApiGatewayRest | Source::Alb { .. } => text(&event.http_method),
    }
    .ok_or_else(|| {
        invalid(format_args!(
            "the event is from {source} but has no method; it names the HTTP method in `{}`",
            match source {
                Source::ApiGatewayHttp | Source::FunctionUrl => "requestContext.http.method",
                Source::VpcLattice => "method",
                _ => "httpMethod",
            }
        ))
    })?;
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| {
        invalid(format_args!(
            "the event's method is not an HTTP method token"
        ))
    })?;

    let stage = text(&raw_context.stage);
    let (client_path, route) = match source {
        Source::ApiGatewayRest => (
            text(&raw_context.path).or(text(&event.path)),
            text(&event.resource).or(text(&raw_context.resource_path)),
        ),
        Source::ApiGatewayHttp | Source::FunctionUrl => (
            text(&event.raw_path),
            text(&event.route_key)
                .and_then(|key| key.split_once(' '))
                .map(|(_, route)| route),
        ),
        Source::Alb { .. } | Source::VpcLattice => (text(&event.path), None),
    };
    let client_path = client_path.unwrap_or("/");
    let path = match settings.path {
        PathStyle::Client => client_path,
        PathStyle::Api => {
            let params = event.path_parameters.as_ref();
            uri::api_path(
                client_path,
                route,
                |name| params.and_then(|p| p.segments_of(name)),
                stage,
            )
        }
    };
    // HTTP APIs hand the path decoded (`rawPath` too, despite its name; payload 1.0's `path`
    // likewise): a `%` in it is the client's own, and escaping it keeps the app from decoding
    // the client's `%252e` once more, into a `.` that API Gateway's routes never saw. The other
    // sources hand the path as the client sent it, so its escapes stand; so does `cargo lambda
    // watch`, whose stand-in for a Function URL looks like an HTTP API event but for the `apiId`
    // API Gateway always sets.
    let from_api_gateway = text(&raw_context.api_id).is_some();
    let path_is_decoded = from_api_gateway
        && (source == Source::ApiGatewayHttp
            || (source == Source::ApiGatewayRest && text(&event.version) == Some("1.0")));
    let path = if path_is_decoded {
        uri::escape_decoded_path(path)
    } else {
        uri::escape_raw(path, Part::Path)
    };

    let query = match source {
        Source::ApiGatewayHttp | Source::FunctionUrl => text(&event.raw_query_string)
            .map(|q| uri::escape_raw(q, Part::Query).into_owned())
            .unwrap_or_default(),
        Source::ApiGatewayRest => match (
            &event.multi_value_query_string_parameters,
            &event.query_string_parameters,
        ) {
            (Some(multi), _) if !multi.is_empty() => uri::query_from_decoded(multi.each()),
            (_, Some(single)) => uri::query_from_decoded(single.each()),
            _ => String::new(),
        },
        Source::Alb { multi_value } => {
            let pairs = if multi_value {
                &event.multi_value_query_string_parameters
            } else {
                &event.query_string_parameters
            };
            pairs
                .as_ref()
                .map(|p| uri::query_from_raw(p.each()))
                .unwrap_or_default()
        }
        Source::VpcLattice => event
            .query_string_parameters
            .as_ref()
            .map(|p| uri::query_from_raw(p.each()))
            .unwrap_or_default(),
    };

    let headers = headers(&event, source, lambda);
    let uri = request_uri(&headers, text(&raw_context.domain_name), &path, &query);

    let body = match event.body.take() {
        None => Bytes::new(),
        Some(Text(body)) if event.is_base64_encoded == Some(true) => {
            Bytes::from(BASE64.decode(body.as_bytes()).map_err(|e| {
                invalid(format_args!(
                    "the request body is marked `isBase64Encoded` but is not valid base64 ({e}); \
                     {source} encodes bodies itself, so check what produced this event"
                ))
            })?)
        }
        Some(Text(Cow::Owned(body))) => Bytes::from(body),
        Some(Text(Cow::Borrowed(body))) => Bytes::copy_from_slice(body.as_bytes()),
    };

    let identity = raw_context.identity;
    let from_identity = |key: &str| {
        identity
            .as_ref()
            .and_then(|i| i.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let request_context = RequestContext {
        source,
        request_id: owned(&raw_context.request_id),
        source_ip: raw_http
            .and_then(|h| owned(&h.source_ip))
            .or_else(|| from_identity("sourceIp")),
        user_agent: raw_http
            .and_then(|h| owned(&h.user_agent))
            .or_else(|| from_identity("userAgent")),
        domain_name: owned(&raw_context.domain_name),
        account_id: owned(&raw_context.account_id),
        api_id: owned(&raw_context.api_id),
        stage: stage.map(str::to_owned),
        route: route.filter(|r| *r != "$default").map(str::to_owned),
        client_path: client_path.to_owned(),
        path_parameters: event
            .path_parameters
            .as_ref()
            .map(Pairs::firsts)
            .unwrap_or_default(),
        stage_variables: event
            .stage_variables
            .as_ref()
            .map(Pairs::firsts)
            .unwrap_or_default(),
        authorizer: raw_context
            .authorizer
            .filter(|a| !a.is_null())
            .map(Authorizer::from_value),
        identity: identity.filter(|i| !i.is_null()),
    };

    let mut request = http::Request::new(Body::from(body));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request.extensions_mut().insert(request_context);
    request.extensions_mut().insert(lambda.clone());
    Ok(request)
}

/// The request's headers: the multi-value map where the source sent one, 2.0's `cookies` as a
/// `Cookie` header, and `X-Amzn-Trace-Id` from the invocation's trace.
fn headers(event: &Incoming<'_>, source: Source, lambda: &Context) -> HeaderMap {
    let pairs = match (&event.multi_value_headers, &event.headers) {
        (Some(multi), _) if !multi.is_empty() && source != Source::Alb { multi_value: false } => {
            Some(multi)
        }
        (_, single) => single.as_ref(),
    };
    let mut headers = HeaderMap::with_capacity(pairs.map_or(0, |p| p.0.len()) + 2);
    for (name, value) in pairs.into_iter().flat_map(Pairs::each) {
        // A name or value no HTTP request could carry is dropped rather than failing the
        // request: the source has already accepted it from the client.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    let cookies = event.cookies.as_ref().filter(|c| !c.0.is_empty());
    if let Some(Ok(value)) = cookies.map(|c| HeaderValue::from_str(&c.0.join("; "))) {
        headers.insert(COOKIE, value);
    }
    if let Some(Ok(value)) = lambda.xray_trace_header().map(HeaderValue::from_str) {
        headers.insert(HeaderName::from_static("x-amzn-trace-id"), value);
    }
    headers
}

/// `https://host/path?query` when the request names a valid host, else `/path?query`; a URI
/// that still does not parse (which escaping should prevent) becomes `/`, so the request
/// reaches the handler anyway with its path in [`RequestContext::client_path`].
/// The request's URI: the path and query lamina built, under the client's host when it names
/// one. The `Host` header is the client's own text, and API Gateway and ALB authorize and route
/// on the path, so it only ever supplies an authority: a value that is not a bare host and port
/// (`example.com/admin`, `example.com?`, `user@example.com`) falls back to the domain the
/// request context names, and never reaches the path.
fn request_uri(headers: &HeaderMap, domain: Option<&str>, path: &str, query: &str) -> Uri {
    let mut target = String::with_capacity(path.len() + query.len() + 1);
    target.push_str(path);
    if !query.is_empty() {
        target.push('?');
        target.push_str(query);
    }
    let Ok(path_and_query) = PathAndQuery::try_from(target) else {
        return Uri::from_static("/");
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let authority = [host, domain].into_iter().flatten().find_map(|text| {
        Authority::try_from(text)
            .ok()
            .filter(|a| !text.is_empty() && !text.contains('@') && a.as_str() == text)
    });
    let Some(authority) = authority else {
        return Uri::from(path_and_query);
    };
    let scheme = match headers.get("x-forwarded-proto").map(HeaderValue::as_bytes) {
        Some(b"http") => Scheme::HTTP,
        _ => Scheme::HTTPS,
    };
    Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(path_and_query.clone())
        .build()
        .unwrap_or_else(|_| Uri::from(path_and_query))
}
