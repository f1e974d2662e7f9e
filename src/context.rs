//! [`Context`]: what Lambda says about the invocation in flight and the function serving it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::base::lambda_env::FunctionConfig;

/// The invocation in flight: its request id, deadline and caller, and the function's identity.
///
/// lamina passes one to every handler call. Outside Lambda (`cargo run`, unit tests) build one
/// with [`Context::local`].
///
/// ```
/// use std::time::Duration;
///
/// let ctx = lamina::Context::local(Duration::from_secs(3));
/// assert!(ctx.remaining() <= Duration::from_secs(3));
/// assert_eq!(ctx.function_version(), "$LATEST");
/// ```
#[derive(Debug, Clone)]
pub struct Context {
    pub(crate) request_id: String,
    pub(crate) deadline_ms: u64,
    pub(crate) invoked_function_arn: Option<String>,
    // Shared: the handler's copy of the context and the invocation's X-Ray trace hold the same
    // header, which Lambda sends with every invocation, without copying it again.
    pub(crate) trace_header: Option<Arc<str>>,
    /// The header's parse, when it may be sampled: the log sink (for the trace id on each line)
    /// and X-Ray (to record) both read this one, so a sampled invocation parses it once. An
    /// unsampled header, on nearly every invocation, is not parsed here.
    pub(crate) sampled_trace: Option<Arc<crate::xray::TraceHeader>>,
    // Boxed: rare (AWS Mobile SDK callers only), and large enough to slow every clone.
    pub(crate) client_context: Option<Box<ClientContext>>,
    pub(crate) identity: Option<Box<CognitoIdentity>>,
    pub(crate) tenant_id: Option<String>,
    /// `Lambda-Runtime-Invocation-Id`, echoed on the outcome (see `runtime::api`).
    pub(crate) invocation_id: InvocationId,
    pub(crate) function: Arc<FunctionConfig>,
}

/// `Lambda-Runtime-Invocation-Id`, kept inline: Lambda sends one with every invocation, and a
/// context is cloned for the handler, so a heap copy would cost an allocation per clone. An id
/// longer than the inline room (Lambda's are UUIDs) is shared instead.
#[derive(Debug, Clone)]
pub(crate) enum InvocationId {
    Inline { len: u8, bytes: [u8; INLINE_ID] },
    Shared(Arc<str>),
}

const INLINE_ID: usize = 48;

impl InvocationId {
    pub(crate) const NONE: InvocationId = InvocationId::Inline {
        len: 0,
        bytes: [0; INLINE_ID],
    };

    /// The id, when it can go back as a header value unchanged (visible ASCII); else none.
    pub(crate) fn new(id: &str) -> Self {
        if id.len() > INLINE_ID {
            return match id.bytes().all(|b| b.is_ascii_graphic()) {
                true => InvocationId::Shared(id.into()),
                false => Self::NONE,
            };
        }
        let mut bytes = [0; INLINE_ID];
        for (to, &from) in bytes.iter_mut().zip(id.as_bytes()) {
            if !from.is_ascii_graphic() {
                return Self::NONE;
            }
            *to = from;
        }
        InvocationId::Inline {
            // At most `INLINE_ID`.
            len: id.len() as u8,
            bytes,
        }
    }

    /// The id, when there is one.
    #[allow(unsafe_code)]
    pub(crate) fn get(&self) -> Option<&str> {
        match self {
            InvocationId::Inline { len: 0, .. } => None,
            // SAFETY: only `new` fills the bytes, and only with visible ASCII, which is UTF-8.
            InvocationId::Inline { len, bytes } => {
                Some(unsafe { std::str::from_utf8_unchecked(&bytes[..usize::from(*len)]) })
            }
            InvocationId::Shared(id) => Some(id),
        }
    }
}

/// Names of the headers `/next` carries, lower-case as they are compared.
pub(crate) mod header {
    pub const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
    pub const DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
    pub const FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
    pub const TRACE_ID: &str = "lambda-runtime-trace-id";
    pub const CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
    pub const COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
    pub const TENANT_ID: &str = "lambda-runtime-aws-tenant-id";
    pub const INVOCATION_ID: &str = "lambda-runtime-invocation-id";
}

/// Why an invocation's headers could not be turned into a [`Context`].
#[derive(Debug)]
pub(crate) struct HeaderFault {
    /// The request id, when it was readable: with it the invocation can still be failed cleanly.
    pub(crate) request_id: Option<String>,
    pub(crate) problem: String,
}

/// Deadlines below this many epoch milliseconds (September 2001) cannot be real; `cargo lambda
/// watch` sends the constant `600000`, meaning ten minutes from now.
const RELATIVE_DEADLINE_LIMIT_MS: u64 = 1_000_000_000_000;

impl Context {
    /// Builds the context of one invocation from the `/next` response headers.
    pub(crate) fn from_headers<'h>(
        headers: impl Iterator<Item = (&'h str, &'h [u8])>,
        function: &Arc<FunctionConfig>,
    ) -> Result<Self, HeaderFault> {
        let mut request_id = None;
        let mut deadline = None;
        let mut ctx = Context {
            request_id: String::new(),
            deadline_ms: 0,
            invoked_function_arn: None,
            trace_header: None,
            sampled_trace: None,
            client_context: None,
            identity: None,
            tenant_id: None,
            invocation_id: InvocationId::NONE,
            function: Arc::clone(function),
        };
        for (name, value) in headers {
            let text = || crate::base::http1::text(value).map(str::trim);
            if name.eq_ignore_ascii_case(header::REQUEST_ID) {
                request_id = text().filter(|v| !v.is_empty()).map(str::to_owned);
            } else if name.eq_ignore_ascii_case(header::DEADLINE_MS) {
                deadline = Some(text().and_then(|v| v.parse::<u64>().ok()));
            } else if name.eq_ignore_ascii_case(header::FUNCTION_ARN) {
                ctx.invoked_function_arn = text().map(str::to_owned);
            } else if name.eq_ignore_ascii_case(header::TRACE_ID) {
                ctx.trace_header = text().filter(|v| !v.is_empty()).map(Arc::from);
                ctx.sampled_trace = parse_sampled(ctx.trace_header.as_deref());
            } else if name.eq_ignore_ascii_case(header::CLIENT_CONTEXT) {
                ctx.client_context = decode_json_header(name, value);
            } else if name.eq_ignore_ascii_case(header::COGNITO_IDENTITY) {
                ctx.identity = decode_json_header(name, value);
            } else if name.eq_ignore_ascii_case(header::TENANT_ID) {
                ctx.tenant_id = text().filter(|v| !v.is_empty()).map(str::to_owned);
            } else if name.eq_ignore_ascii_case(header::INVOCATION_ID) {
                // Echoed as a header value: only visible ASCII goes back unchanged.
                ctx.invocation_id = text().map_or(InvocationId::NONE, InvocationId::new);
            }
        }
        let Some(request_id) = request_id else {
            return Err(HeaderFault {
                request_id: None,
                problem: format!("the `{}` header is missing", header::REQUEST_ID),
            });
        };
        ctx.deadline_ms = match deadline {
            Some(Some(ms)) if ms < RELATIVE_DEADLINE_LIMIT_MS => epoch_ms_now().saturating_add(ms),
            Some(Some(ms)) => ms,
            Some(None) | None => {
                let problem = match deadline {
                    None => format!("the `{}` header is missing", header::DEADLINE_MS),
                    _ => format!(
                        "the `{}` header is not a number of epoch milliseconds",
                        header::DEADLINE_MS
                    ),
                };
                return Err(HeaderFault {
                    request_id: Some(request_id),
                    problem,
                });
            }
        };
        ctx.request_id = request_id;
        Ok(ctx)
    }

    /// A context for running a handler outside Lambda: a fresh request id, a deadline `timeout`
    /// from now, and the function identity from the `AWS_LAMBDA_*` variables where they are set.
    pub fn local(timeout: Duration) -> Self {
        let name = local_function_name();
        Context {
            request_id: local_request_id(),
            deadline_ms: epoch_ms_now().saturating_add(timeout.as_millis() as u64),
            invoked_function_arn: None,
            trace_header: None,
            sampled_trace: None,
            client_context: None,
            identity: None,
            tenant_id: None,
            invocation_id: InvocationId::NONE,
            function: FunctionConfig::local(|k| std::env::var(k).ok(), &name),
        }
    }

    /// The invocation's request id (`Lambda-Runtime-Aws-Request-Id`).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// When Lambda stops the invocation, in milliseconds since the Unix epoch.
    pub fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }

    /// When Lambda stops the invocation.
    pub fn deadline(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.deadline_ms)
    }

    /// Time left before the deadline; zero once it has passed.
    pub fn remaining(&self) -> Duration {
        Duration::from_millis(self.deadline_ms.saturating_sub(epoch_ms_now()))
    }

    /// The ARN the caller invoked, with the alias or version when one was used.
    pub fn invoked_function_arn(&self) -> Option<&str> {
        self.invoked_function_arn.as_deref()
    }

    /// The raw X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`), when tracing is on.
    pub fn xray_trace_header(&self) -> Option<&str> {
        self.trace_header.as_deref()
    }

    /// The raw header, shared rather than copied.
    pub(crate) fn shared_trace_header(&self) -> Option<&Arc<str>> {
        self.trace_header.as_ref()
    }

    /// The parsed header when it may be sampled; see the field.
    pub(crate) fn sampled_trace(&self) -> Option<&Arc<crate::xray::TraceHeader>> {
        self.sampled_trace.as_ref()
    }

    /// The X-Ray trace header, parsed: the trace, the function's segment and the sampling
    /// decision. `None` without a header, or with one that is malformed (a debug log says how).
    /// Inside the handler, [`crate::xray::current`] also gives the subsegment in progress.
    pub fn trace(&self) -> Option<crate::xray::TraceHeader> {
        crate::xray::header_from_lambda(self.trace_header.as_deref())
    }

    /// The client context sent by the AWS Mobile SDK, when the caller sent one.
    pub fn client_context(&self) -> Option<&ClientContext> {
        self.client_context.as_deref()
    }

    /// The Amazon Cognito identity of the caller, when the AWS Mobile SDK sent one.
    pub fn identity(&self) -> Option<&CognitoIdentity> {
        self.identity.as_deref()
    }

    /// The tenant id, for functions that use Lambda's tenant isolation mode.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub fn function_name(&self) -> &str {
        &self.function.function_name
    }

    /// The version being run (`AWS_LAMBDA_FUNCTION_VERSION`), `$LATEST` when unpublished.
    pub fn function_version(&self) -> &str {
        &self.function.function_version
    }

    /// The memory configured for the function, in MB (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub fn memory_mb(&self) -> u32 {
        self.function.memory_mb
    }

    /// The CloudWatch Logs group the function logs to (`AWS_LAMBDA_LOG_GROUP_NAME`).
    pub fn log_group(&self) -> Option<&str> {
        self.function.log_group.as_deref()
    }

    /// The CloudWatch Logs stream of this execution environment (`AWS_LAMBDA_LOG_STREAM_NAME`).
    pub fn log_stream(&self) -> Option<&str> {
        self.function.log_stream.as_deref()
    }
}

/// Information about the calling mobile application and device (AWS Mobile SDK).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientContext {
    /// The calling application.
    #[serde(default)]
    pub client: Option<ClientApplication>,
    /// Values set by the mobile application.
    #[serde(default)]
    pub custom: HashMap<String, String>,
    /// Environment values provided by the AWS SDK.
    #[serde(default)]
    pub env: HashMap<String, String>,
}

/// The mobile application that made the call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ClientApplication {
    /// The installation id of the application.
    #[serde(default, alias = "installation_id")]
    pub installation_id: String,
    /// The application's title.
    #[serde(default, alias = "app_title")]
    pub app_title: String,
    /// The application's version name.
    #[serde(default, alias = "app_version_name")]
    pub app_version_name: String,
    /// The application's version code.
    #[serde(default, alias = "app_version_code")]
    pub app_version_code: String,
    /// The application's package name.
    #[serde(default, alias = "app_package_name")]
    pub app_package_name: String,
}

/// The Amazon Cognito identity that authorized the call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CognitoIdentity {
    /// The authenticated Cognito identity.
    #[serde(rename = "cognitoIdentityId", alias = "identityId", default)]
    pub identity_id: String,
    /// The Cognito identity pool that authorized the call.
    #[serde(rename = "cognitoIdentityPoolId", alias = "identityPoolId", default)]
    pub identity_pool_id: String,
}

/// Decodes a header holding a JSON object; anything else is ignored.
/// The parse of a trace header that may be sampled (`None` for one that cannot be, or that is
/// malformed): what [`Context::sampled_trace`] holds.
pub(crate) fn parse_sampled(raw: Option<&str>) -> Option<Arc<crate::xray::TraceHeader>> {
    let raw = raw.filter(|raw| crate::xray::may_be_sampled(raw))?;
    crate::xray::header_from_lambda(Some(raw)).map(Arc::new)
}

pub(crate) fn decode_json_header<T: serde::de::DeserializeOwned>(
    name: &str,
    value: &[u8],
) -> Option<Box<T>> {
    let is_object = value.trim_ascii_start().first() == Some(&b'{');
    match serde_json::from_slice(value).ok().filter(|_| is_object) {
        Some(v) => Some(Box::new(v)),
        None => {
            tracing::debug!(
                header = name,
                "ignoring a header that is not the JSON object Lambda documents"
            );
            None
        }
    }
}

/// The name a local run goes by when `AWS_LAMBDA_FUNCTION_NAME` is unset: the executable's.
pub(crate) fn local_function_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "lamina-local".to_owned())
}

pub(crate) fn epoch_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A UUID-shaped id, unique enough to tell local runs apart in logs.
fn local_request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    let a = hasher.finish();
    hasher.write_u64(a);
    let b = hasher.finish();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function() -> Arc<FunctionConfig> {
        Arc::new(FunctionConfig {
            function_name: "orders".into(),
            function_version: "$LATEST".into(),
            memory_mb: 128,
            log_group: None,
            log_stream: None,
            max_concurrency: 1,
        })
    }

    fn parse(headers: &[(&str, &str)]) -> Result<Context, HeaderFault> {
        Context::from_headers(headers.iter().map(|(k, v)| (*k, v.as_bytes())), &function())
    }

    #[test]
    fn invocation_ids_are_kept_inline_when_short_and_only_when_echoable() {
        let uuid = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
        assert!(matches!(
            InvocationId::new(uuid),
            InvocationId::Inline { .. }
        ));
        assert_eq!(InvocationId::new(uuid).get(), Some(uuid));
        let long = "x".repeat(200);
        assert!(matches!(InvocationId::new(&long), InvocationId::Shared(_)));
        assert_eq!(InvocationId::new(&long).get(), Some(long.as_str()));
        assert_eq!(InvocationId::new("").get(), None);
        assert_eq!(InvocationId::new("a b").get(), None);
        assert_eq!(InvocationId::new("a\r\nX: y").get(), None);
        assert_eq!(InvocationId::NONE.get(), None);
    }

    #[test]
    fn reads_every_documented_header_in_any_case() {
        let ctx = parse(&[
            ("Lambda-Runtime-Aws-Request-Id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
            ("Lambda-Runtime-Deadline-Ms", "1542409706888"),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-2:123456789012:function:orders"),
            ("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"),
            ("LAMBDA-RUNTIME-CLIENT-CONTEXT", r#"{"client":{"installationId":"i-1","appTitle":"Shop","appVersionName":"1.0","appVersionCode":"10","appPackageName":"com.shop"},"custom":{"k":"v"},"env":{"platform":"Android"}}"#),
            ("lambda-runtime-cognito-identity", r#"{"cognitoIdentityId":"us-east-2:abc","cognitoIdentityPoolId":"us-east-2:pool"}"#),
            ("Lambda-Runtime-Aws-Tenant-Id", "tenant-42"),
        ])
        .unwrap();
        assert_eq!(ctx.request_id(), "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        assert_eq!(ctx.deadline_ms(), 1_542_409_706_888);
        assert_eq!(
            ctx.invoked_function_arn(),
            Some("arn:aws:lambda:us-east-2:123456789012:function:orders")
        );
        assert!(
            ctx.xray_trace_header()
                .unwrap()
                .starts_with("Root=1-5bef4de7")
        );
        let client = ctx.client_context().unwrap();
        assert_eq!(client.client.as_ref().unwrap().app_title, "Shop");
        assert_eq!(client.custom["k"], "v");
        assert_eq!(client.env["platform"], "Android");
        assert_eq!(ctx.identity().unwrap().identity_pool_id, "us-east-2:pool");
        assert_eq!(ctx.tenant_id(), Some("tenant-42"));
        assert_eq!(
            ctx.remaining(),
            Duration::ZERO,
            "a 2018 deadline has passed"
        );
    }

    #[test]
    fn missing_request_id_is_a_fault_without_an_id() {
        let fault = parse(&[("Lambda-Runtime-Deadline-Ms", "1542409706888")]).unwrap_err();
        assert_eq!(fault.request_id, None);
        assert!(fault.problem.contains("lambda-runtime-aws-request-id"));
    }

    #[test]
    fn malformed_deadline_is_a_fault_that_keeps_the_id() {
        for headers in [
            &[("Lambda-Runtime-Aws-Request-Id", "r1")][..],
            &[
                ("Lambda-Runtime-Aws-Request-Id", "r1"),
                ("Lambda-Runtime-Deadline-Ms", "soon"),
            ][..],
        ] {
            let fault = parse(headers).unwrap_err();
            assert_eq!(fault.request_id.as_deref(), Some("r1"));
            assert!(
                fault.problem.contains("lambda-runtime-deadline-ms"),
                "{}",
                fault.problem
            );
        }
    }

    #[test]
    fn malformed_optional_headers_become_none() {
        let ctx = parse(&[
            ("Lambda-Runtime-Aws-Request-Id", "r1"),
            ("Lambda-Runtime-Deadline-Ms", "1542409706888"),
            ("Lambda-Runtime-Client-Context", "{not json"),
            ("Lambda-Runtime-Cognito-Identity", "[1,2]"),
            ("Lambda-Runtime-Trace-Id", ""),
        ])
        .unwrap();
        assert!(ctx.client_context().is_none());
        assert!(ctx.identity().is_none());
        assert!(ctx.xray_trace_header().is_none());
        assert!(ctx.invoked_function_arn().is_none());
    }

    #[test]
    fn a_small_deadline_is_read_as_relative_like_cargo_lambda_watch_sends() {
        let ctx = parse(&[
            ("Lambda-Runtime-Aws-Request-Id", "r1"),
            ("Lambda-Runtime-Deadline-Ms", "600000"),
        ])
        .unwrap();
        let left = ctx.remaining();
        assert!(
            left > Duration::from_secs(590) && left <= Duration::from_secs(600),
            "{left:?}"
        );
    }

    #[test]
    fn local_request_ids_are_uuid_shaped_and_differ() {
        let (a, b) = (local_request_id(), local_request_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
