//! What each source says about a request besides the request itself, as request extensions.

use serde_json::{Map, Value};

/// The service that sent an HTTP request to the function, and so the shape its response must
/// take.
///
/// ```
/// use lamina::http::Source;
///
/// assert_eq!(Source::ApiGatewayHttp.to_string(), "API Gateway HTTP API (payload 2.0)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// An API Gateway REST API, or an HTTP API with payload format 1.0. The response uses
    /// `multiValueHeaders`.
    ApiGatewayRest,
    /// An API Gateway HTTP API with payload format 2.0. The response puts `Set-Cookie` headers
    /// in `cookies`.
    ApiGatewayHttp,
    /// A Lambda Function URL (payload format 2.0, answered as an HTTP API is).
    FunctionUrl,
    /// An Application Load Balancer. `multi_value` is the target group's
    /// `lambda.multi_value_headers.enabled`, read from the request: the response must use the
    /// same mode, or ALB answers the client `502`.
    Alb {
        /// Whether the request came with `multiValueHeaders`.
        multi_value: bool,
    },
    /// A VPC Lattice target group with event structure version 2.
    VpcLattice,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::ApiGatewayRest => "API Gateway REST API (payload 1.0)",
            Source::ApiGatewayHttp => "API Gateway HTTP API (payload 2.0)",
            Source::FunctionUrl => "Lambda Function URL",
            Source::Alb { multi_value: false } => "Application Load Balancer",
            Source::Alb { multi_value: true } => "Application Load Balancer (multi-value headers)",
            Source::VpcLattice => "VPC Lattice (event structure v2)",
        })
    }
}

/// Everything a request's source says about it beyond method, URI, headers and body: a
/// request extension on every [`Request`](super::Request).
///
/// ```no_run
/// use lamina::http::{Request, RequestContext, Response};
/// use lamina::{Context, Error};
///
/// #[lamina::handler]
/// async fn whoami(req: Request, _ctx: Context) -> Result<Response, Error> {
///     let source = req.extensions().get::<RequestContext>().expect("lamina sets it");
///     let user = source
///         .authorizer()
///         .and_then(|a| a.jwt_claims())
///         .and_then(|claims| claims.get("sub"))
///         .and_then(|sub| sub.as_str())
///         .unwrap_or("anonymous");
///     Ok(Response::new(format!("{user} from {:?}", source.source_ip()).into()))
/// }
/// ```
///
/// With axum, take it as `Extension<RequestContext>`.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub(super) source: Source,
    pub(super) request_id: Option<String>,
    pub(super) source_ip: Option<String>,
    pub(super) user_agent: Option<String>,
    pub(super) domain_name: Option<String>,
    pub(super) account_id: Option<String>,
    pub(super) api_id: Option<String>,
    pub(super) stage: Option<String>,
    pub(super) route: Option<String>,
    pub(super) client_path: String,
    pub(super) path_parameters: Vec<(String, String)>,
    pub(super) stage_variables: Vec<(String, String)>,
    pub(super) authorizer: Option<Authorizer>,
    pub(super) identity: Option<Value>,
}

impl RequestContext {
    /// Which service sent the request.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The source's id for this request (API Gateway's `requestId`); ALB and VPC Lattice give
    /// none: use `Context::request_id` or the `x-amzn-trace-id` header there.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The client's IP address as the source saw it.
    pub fn source_ip(&self) -> Option<&str> {
        self.source_ip.as_deref()
    }

    /// The client's `User-Agent` as the source recorded it.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }

    /// The domain the client called: the API's own, a custom domain, or the Function URL's.
    pub fn domain_name(&self) -> Option<&str> {
        self.domain_name.as_deref()
    }

    /// The AWS account that owns the API (`"anonymous"` for a Function URL without auth).
    pub fn account_id(&self) -> Option<&str> {
        self.account_id.as_deref()
    }

    /// The API Gateway API's id.
    pub fn api_id(&self) -> Option<&str> {
        self.api_id.as_deref()
    }

    /// The API Gateway stage (`"$default"` for an HTTP API's default stage and Function URLs).
    pub fn stage(&self) -> Option<&str> {
        self.stage.as_deref()
    }

    /// The route as declared in the API, as `/orders/{id}` (REST `resource`, HTTP API
    /// `routeKey` without its method); `None` for a catch-all `$default` route and for
    /// sources without routes.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// The path exactly as the client called it, with any stage or custom-domain base path,
    /// and as the source encoded it. The request's URI holds the path as the API declares its
    /// routes unless `LAMINA_HTTP_PATH=client` (see the [module docs](super#paths)).
    pub fn client_path(&self) -> &str {
        &self.client_path
    }

    /// The path parameters API Gateway matched (`id` for `/orders/{id}`), in the event's order.
    pub fn path_parameters(&self) -> &[(String, String)] {
        &self.path_parameters
    }

    /// One path parameter by name.
    pub fn path_parameter(&self, name: &str) -> Option<&str> {
        find(&self.path_parameters, name)
    }

    /// The stage's variables, in the event's order.
    pub fn stage_variables(&self) -> &[(String, String)] {
        &self.stage_variables
    }

    /// One stage variable by name.
    pub fn stage_variable(&self, name: &str) -> Option<&str> {
        find(&self.stage_variables, name)
    }

    /// What the API's authorizer said about the caller, when it has one.
    pub fn authorizer(&self) -> Option<&Authorizer> {
        self.authorizer.as_ref()
    }

    /// The caller's identity as the source describes it: a REST API's `requestContext.identity`
    /// (IAM caller, Cognito identity, API key) or VPC Lattice's (`principal`, `sourceVpcArn`…).
    pub fn identity(&self) -> Option<&Value> {
        self.identity.as_ref()
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The `requestContext.authorizer` of an API Gateway request or a Function URL's IAM caller.
///
/// Each source nests it differently; the accessors read every shape:
///
/// | accessor | REST API (1.0) | HTTP API / Function URL (2.0) |
/// |---|---|---|
/// | [`jwt_claims`](Self::jwt_claims) | `claims` (Cognito user pool) | `jwt.claims` |
/// | [`jwt_scopes`](Self::jwt_scopes) | – | `jwt.scopes` |
/// | [`iam`](Self::iam) | – (see [`RequestContext::identity`]) | `iam` |
/// | [`lambda`](Self::lambda) | the whole object (a Lambda authorizer's context) | `lambda` |
///
/// ```
/// # let authorizer = lamina::http::Authorizer::from_value(serde_json::json!(
/// #     {"jwt": {"claims": {"sub": "u-1"}, "scopes": ["orders:read"]}}));
/// assert_eq!(authorizer.jwt_claims().unwrap()["sub"], "u-1");
/// assert_eq!(authorizer.jwt_scopes().collect::<Vec<_>>(), ["orders:read"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Authorizer(Value);

impl Authorizer {
    /// An authorizer from its JSON, as in the event: for tests of code that reads one.
    pub fn from_value(value: Value) -> Self {
        Authorizer(value)
    }

    /// The JWT's claims: an HTTP API JWT authorizer's `jwt.claims`, or a REST API Cognito
    /// user pool authorizer's `claims`.
    pub fn jwt_claims(&self) -> Option<&Map<String, Value>> {
        self.0
            .pointer("/jwt/claims")
            .or_else(|| self.0.get("claims"))
            .and_then(Value::as_object)
    }

    /// The JWT's scopes (HTTP API JWT authorizers).
    pub fn jwt_scopes(&self) -> impl Iterator<Item = &str> {
        self.0
            .pointer("/jwt/scopes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }

    /// The IAM caller (`accessKey`, `accountId`, `userArn`…) of an HTTP API or Function URL
    /// with IAM auth.
    pub fn iam(&self) -> Option<&Map<String, Value>> {
        self.0.get("iam").and_then(Value::as_object)
    }

    /// The context a Lambda authorizer returned: an HTTP API's `lambda`, or, for a REST API,
    /// the authorizer object itself (`principalId` and the context's keys).
    pub fn lambda(&self) -> Option<&Map<String, Value>> {
        match self.0.get("lambda") {
            Some(context) => context.as_object(),
            None if self.jwt_claims().is_none() && self.iam().is_none() => self.0.as_object(),
            None => None,
        }
    }

    /// The authorizer as the event holds it.
    pub fn as_value(&self) -> &Value {
        &self.0
    }
}
