//! Each source's event, from the fixtures the end-to-end tests send, into the request a handler
//! gets.

use super::request::decode;
use super::settings::{PathStyle, Settings};
use super::{Request, RequestContext, Source};
use crate::Context;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/integration/fixtures/events/http/",
            $name
        ))
    };
}

const API: Settings = Settings {
    path: PathStyle::Api,
    errors_as_500: false,
    streams: true,
};
const CLIENT: Settings = Settings {
    path: PathStyle::Client,
    errors_as_500: false,
    streams: true,
};
const TRACE: &str = "Root=1-6929f2ae-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=bbbbbbbbbbbbbbbb;Sampled=1";

fn context() -> Context {
    crate::testing::context().trace_header(TRACE).build()
}

fn request(event: &str, settings: &Settings) -> (Request, Source) {
    decode(event.as_bytes(), &context(), settings).expect("an HTTP event")
}

fn source_context(request: &Request) -> &RequestContext {
    request.extensions().get().expect("every request has one")
}

fn header<'r>(request: &'r Request, name: &str) -> Vec<&'r str> {
    request
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[test]
fn rest_api_on_its_stage() {
    let (req, source) = request(fixture!("rest-stage.json"), &API);
    assert_eq!(source, Source::ApiGatewayRest);
    assert_eq!(req.method(), "GET");
    assert_eq!(
        req.uri(),
        "https://abc123defg.execute-api.eu-west-1.amazonaws.com/orders/42?color=red&color=dark%20blue&size=L"
    );
    assert_eq!(header(&req, "x-tag"), ["a", "b"]);
    assert_eq!(header(&req, "x-amzn-trace-id"), [TRACE]);
    let ctx = source_context(&req);
    assert_eq!(ctx.client_path(), "/prod/orders/42");
    assert_eq!(ctx.route(), Some("/orders/{id}"));
    assert_eq!(ctx.stage(), Some("prod"));
    assert_eq!(ctx.path_parameter("id"), Some("42"));
    assert_eq!(ctx.stage_variable("table"), Some("orders-prod"));
    assert_eq!(ctx.source_ip(), Some("203.0.113.7"));
    assert_eq!(ctx.user_agent(), Some("curl/8.5.0"));
    let claims = ctx.authorizer().unwrap().jwt_claims().unwrap();
    assert_eq!(claims["email"], "ada@example.com");
    assert!(req.extensions().get::<Context>().is_some());
    assert!(req.body().is_empty());

    let (req, _) = request(fixture!("rest-stage.json"), &CLIENT);
    assert_eq!(req.uri().path(), "/prod/orders/42");
}

#[test]
fn rest_api_behind_a_custom_domain_base_path() {
    let (req, source) = request(fixture!("rest-custom-domain.json"), &API);
    assert_eq!(source, Source::ApiGatewayRest);
    assert_eq!(req.method(), "POST");
    assert_eq!(req.uri(), "https://api.example.com/items/blue%20hat");
    assert_eq!(req.body().to_str().unwrap(), r#"{"qty":2}"#);
    assert_eq!(header(&req, "cookie"), ["session=abc; theme=dark"]);
    let ctx = source_context(&req);
    assert_eq!(ctx.client_path(), "/shop/items/blue%20hat");
    let lambda = ctx.authorizer().unwrap().lambda().unwrap();
    assert_eq!(lambda["tenant"], "acme");
    let (req, _) = request(fixture!("rest-custom-domain.json"), &CLIENT);
    assert_eq!(req.uri().path(), "/shop/items/blue%20hat");
}

#[test]
fn http_api_on_a_named_stage() {
    let (req, source) = request(fixture!("http-api-stage.json"), &API);
    assert_eq!(source, Source::ApiGatewayHttp);
    assert_eq!(
        req.uri(),
        "https://xyz789.execute-api.eu-west-1.amazonaws.com/orders/42?color=red&color=dark%20blue&q=a%2Bb"
    );
    assert_eq!(header(&req, "cookie"), ["session=abc; theme=dark"]);
    assert_eq!(header(&req, "x-tag"), ["a,b"]);
    let ctx = source_context(&req);
    assert_eq!(ctx.route(), Some("/orders/{id}"));
    assert_eq!(ctx.source_ip(), Some("198.51.100.4"));
    assert_eq!(ctx.request_id(), Some("JKJaXmPLvHcESHA="));
    let authorizer = ctx.authorizer().unwrap();
    assert_eq!(authorizer.jwt_scopes().collect::<Vec<_>>(), ["orders:read"]);
    assert!(authorizer.lambda().is_none());
    let (req, _) = request(fixture!("http-api-stage.json"), &CLIENT);
    assert_eq!(req.uri().path(), "/prod/orders/42");
}

#[test]
fn http_api_default_route_with_a_binary_body_and_iam() {
    let (req, source) = request(fixture!("http-api-default.json"), &API);
    assert_eq!(source, Source::ApiGatewayHttp);
    assert_eq!(req.method(), "PUT");
    assert_eq!(req.uri().path(), "/files/report.bin");
    assert_eq!(req.uri().query(), None);
    assert_eq!(
        req.body().as_bytes(),
        &[0x00, 0x01, 0x02, 0xFF, 0xFE, 0x80, 0x7F, 0x0A]
    );
    let ctx = source_context(&req);
    assert_eq!(ctx.route(), None);
    let iam = ctx.authorizer().unwrap().iam().unwrap();
    assert_eq!(iam["userArn"], "arn:aws:iam::123456789012:user/ada");
}

#[test]
fn function_urls() {
    let (req, source) = request(fixture!("function-url.json"), &API);
    assert_eq!(source, Source::FunctionUrl);
    assert_eq!(req.method(), "POST");
    assert_eq!(req.uri().path(), "/greet/Ada%20L");
    assert_eq!(req.uri().query(), Some("lang=en&lang=fr"));
    assert_eq!(req.body().to_str().unwrap(), "hello");
    assert_eq!(header(&req, "cookie"), ["a=1"]);
    assert_eq!(source_context(&req).account_id(), Some("anonymous"));
}

#[test]
fn alb_in_both_header_modes_keeps_the_query_as_sent() {
    let (req, source) = request(fixture!("alb-single.json"), &API);
    assert_eq!(source, Source::Alb { multi_value: false });
    assert_eq!(
        req.uri().path_and_query().unwrap(),
        "/greet?q=100%25%20sure&name=Ada+Lovelace"
    );
    let (req, source) = request(fixture!("alb-multi.json"), &API);
    assert_eq!(source, Source::Alb { multi_value: true });
    assert_eq!(req.uri().query(), Some("color=red&color=dark%20blue"));
    assert_eq!(header(&req, "cookie"), ["session=abc", "theme=dark"]);
}

#[test]
fn vpc_lattice_v2() {
    let (req, source) = request(fixture!("lattice-v2.json"), &API);
    assert_eq!(source, Source::VpcLattice);
    assert_eq!(req.uri().path(), "/inventory/sku-9");
    assert_eq!(req.uri().query(), Some("fields=name&fields=qty"));
    assert_eq!(header(&req, "user-agent"), ["curl/8.5.0"]);
    let identity = source_context(&req).identity().unwrap();
    assert_eq!(identity["type"], "AWS_IAM");
}

fn invalid(event: &str) -> String {
    let err = decode(event.as_bytes(), &context(), &API).unwrap_err();
    assert_eq!(err.error_type(), "Runtime.InvalidEvent");
    err.message()
}

#[test]
fn other_events_name_what_each_source_needs() {
    let message = invalid(fixture!("not-http.json"));
    assert!(message.contains("not an HTTP request"), "{message}");
    assert!(message.contains("requestContext.elb"), "{message}");
    assert!(!message.contains("world"), "{message}");
    assert!(invalid("{").contains("not valid JSON"));
    match decode(b"{", &context(), &API) {
        Err(crate::Error::InvalidEvent(e)) => assert!(e.is_syntax()),
        other => panic!("not an event error: {:?}", other.map(|_| ())),
    }
    let message = invalid(r#"{"version":"2.0","rawPath":"/","requestContext":{}}"#);
    assert!(message.contains("requestContext.http.method"), "{message}");
    let message =
        invalid(r#"{"httpMethod":"GET","resource":"/","body":"%%%","isBase64Encoded":true}"#);
    assert!(message.contains("not valid base64"), "{message}");
    let message = invalid(r#"{"httpMethod":"GET","resource":"/","headers":{"a":{"secret":1}}}"#);
    assert!(message.contains("wrong type"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}

#[test]
fn paths_and_queries_that_are_not_uris_still_arrive() {
    let event = r#"{"httpMethod":"GET","path":"/a b/ü/{x}|\"","queryStringParameters":{"q":"1 2#3"},"requestContext":{"elb":{}},"headers":{"host":"bad host"}}"#;
    let (req, _) = request(event, &API);
    assert_eq!(req.uri(), "/a%20b/%C3%BC/%7Bx%7D%7C%22?q=1%202%233");
    let event = r#"{"version":"2.0","rawPath":"/%zz/%","rawQueryString":"a=%&b=<>","requestContext":{"http":{"method":"GET"}}}"#;
    let (req, _) = request(event, &API);
    assert_eq!(req.uri(), "/%25zz/%25?a=%25&b=%3C%3E");
}

/// Review finding: the URI was `format!("{scheme}://{host}{target}")`, so a client's `Host`
/// header could rewrite the path the app routes on while ALB and API Gateway had authorized
/// another one.
#[test]
fn a_host_header_never_changes_the_routed_path() {
    let alb = |host: &str| {
        format!(
            r#"{{"requestContext":{{"elb":{{"targetGroupArn":"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"}}}},
            "httpMethod":"GET","path":"/public/page","queryStringParameters":{{"a":"1"}},
            "headers":{{"host":{host:?}}},"body":"","isBase64Encoded":false}}"#
        )
    };
    for host in [
        "example.com/admin",
        "example.com?",
        "example.com#",
        "user@example.com",
        "example.com/admin?x=",
        "",
        " ",
    ] {
        let (req, _) = request(&alb(host), &API);
        assert_eq!(
            req.uri().path_and_query().unwrap(),
            "/public/page?a=1",
            "Host: {host:?}"
        );
        assert_eq!(req.uri().host(), None, "Host: {host:?} names no authority");
    }
    let (req, _) = request(&alb("example.com:8443"), &API);
    assert_eq!(req.uri(), "https://example.com:8443/public/page?a=1");

    // An HTTP API whose Host is unusable falls back to the domain its context names.
    let http_api = r#"{"version":"2.0","routeKey":"$default","rawPath":"/public/page",
        "rawQueryString":"","headers":{"host":"evil.example/admin"},
        "requestContext":{"domainName":"abc.execute-api.eu-west-1.amazonaws.com",
        "http":{"method":"GET","path":"/public/page"},"stage":"$default"},"isBase64Encoded":false}"#;
    let (req, _) = request(http_api, &API);
    assert_eq!(
        req.uri(),
        "https://abc.execute-api.eu-west-1.amazonaws.com/public/page"
    );
}

/// The URI path a handler gets from `fixture` with its path fields set to `path`.
fn uri_path_with(fixture: &str, fields: &[&str], path: &str, version: Option<&str>) -> String {
    let mut event: serde_json::Value = serde_json::from_str(fixture).unwrap();
    for field in fields {
        let mut at = &mut event;
        for name in field.split('.') {
            at = &mut at[name];
        }
        *at = serde_json::Value::from(path);
    }
    if let Some(version) = version {
        event["version"] = version.into();
    }
    let (req, _) = request(&event.to_string(), &CLIENT);
    req.uri().path().to_owned()
}

#[test]
fn each_source_path_is_decoded_exactly_once_by_the_app() {
    // As sent: the client's `%252e` stays one escape deep, as its own path parameters show it.
    let sent = "/files/a%252e%252e%252fb";
    let rest = uri_path_with(
        fixture!("rest-stage.json"),
        &["path", "requestContext.path"],
        sent,
        None,
    );
    assert_eq!(rest, sent, "REST API");
    let url = uri_path_with(fixture!("function-url.json"), &["rawPath"], sent, None);
    assert_eq!(url, sent, "Function URL");
    let alb = uri_path_with(fixture!("alb-single.json"), &["path"], sent, None);
    assert_eq!(alb, sent, "ALB");
    let lattice = uri_path_with(fixture!("lattice-v2.json"), &["path"], sent, None);
    assert_eq!(lattice, sent, "VPC Lattice");
    // Decoded by API Gateway: the same client path reaches an HTTP API as `%2e%2e%2f`, which the
    // app must see as those characters, not as `../`.
    let decoded = "/files/a%2e%2e%2fb";
    let http = uri_path_with(
        fixture!("http-api-default.json"),
        &["rawPath"],
        decoded,
        None,
    );
    assert_eq!(http, sent, "HTTP API payload 2.0");
    // `cargo lambda watch` sends the path as the client did, in an HTTP API event without the
    // `apiId` API Gateway always sets.
    let mut watch: serde_json::Value =
        serde_json::from_str(fixture!("http-api-default.json")).unwrap();
    watch["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("apiId");
    let watch = uri_path_with(&watch.to_string(), &["rawPath"], sent, None);
    assert_eq!(watch, sent, "cargo lambda watch");
    let http_v1 = uri_path_with(
        fixture!("rest-stage.json"),
        &["path", "requestContext.path"],
        "/files/100%/a%2e b",
        Some("1.0"),
    );
    assert_eq!(http_v1, "/files/100%25/a%252e%20b", "HTTP API payload 1.0");
}
