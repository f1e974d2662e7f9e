//! A [`Context`] taken apart into [`InvocationFields`] on the loader's side and put together
//! again on the library's.

use std::sync::Arc;

use super::{Bytes, InvocationFields};
use crate::base::lambda_env::FunctionConfig;
use crate::context::{Context, decode_json_header, header};

/// The JSON of the rare headers, kept by the loader while one `invoke` borrows it.
#[derive(Default)]
pub(crate) struct Scratch {
    client_context: String,
    identity: String,
}

impl Context {
    /// Borrows this context as the fields the ABI carries. The client context and Cognito
    /// identity are re-encoded as JSON into `scratch`.
    pub(crate) fn to_fields<'a>(&'a self, scratch: &'a mut Scratch) -> InvocationFields<'a> {
        InvocationFields {
            request_id: Bytes::new(self.request_id.as_bytes()),
            deadline_ms: self.deadline_ms,
            invoked_function_arn: Bytes::from_option(self.invoked_function_arn.as_deref()),
            trace_header: Bytes::from_option(self.trace_header.as_deref()),
            client_context: json(self.client_context.as_deref(), &mut scratch.client_context),
            cognito_identity: json(self.identity.as_deref(), &mut scratch.identity),
            tenant_id: Bytes::from_option(self.tenant_id.as_deref()),
            invocation_id: Bytes::from_option(self.invocation_id.get()),
        }
    }

    /// Rebuilds a context from the fields the loader sent.
    ///
    /// # Safety
    /// Every [`Bytes`] in `fields` must be valid for the duration of the call.
    pub(crate) unsafe fn from_fields<'a>(
        fields: &InvocationFields<'a>,
        function: &Arc<FunctionConfig>,
    ) -> Context {
        // SAFETY: the caller vouches for the fields.
        let bytes = |bytes: Bytes<'a>| unsafe { bytes.get() };
        let text = |b: Bytes<'a>| bytes(b).map(|b| String::from_utf8_lossy(b));
        let trace_header: Option<Arc<str>> = text(fields.trace_header).map(Into::into);
        Context {
            request_id: text(fields.request_id).unwrap_or_default().into_owned(),
            deadline_ms: fields.deadline_ms,
            invoked_function_arn: text(fields.invoked_function_arn).map(Into::into),
            sampled_trace: crate::context::parse_sampled(trace_header.as_deref()),
            trace_header,
            client_context: bytes(fields.client_context)
                .and_then(|json| decode_json_header(header::CLIENT_CONTEXT, json)),
            identity: bytes(fields.cognito_identity)
                .and_then(|json| decode_json_header(header::COGNITO_IDENTITY, json)),
            tenant_id: text(fields.tenant_id).map(Into::into),
            invocation_id: text(fields.invocation_id)
                .map_or(crate::context::InvocationId::NONE, |id| {
                    crate::context::InvocationId::new(&id)
                }),
            function: Arc::clone(function),
        }
    }
}

/// `value` as JSON in `out`, or absent.
fn json<'a, T: serde::Serialize>(value: Option<&T>, out: &'a mut String) -> Bytes<'a> {
    let Some(value) = value else {
        return Bytes::ABSENT;
    };
    out.clear();
    // Both types are maps and strings: encoding them cannot fail.
    if let Ok(json) = serde_json::to_string(value) {
        out.push_str(&json);
    }
    Bytes::new(out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function() -> Arc<FunctionConfig> {
        Arc::new(FunctionConfig {
            function_name: "orders".into(),
            function_version: "7".into(),
            memory_mb: 256,
            log_group: None,
            log_stream: None,
            max_concurrency: 1,
        })
    }

    #[test]
    fn every_field_survives_the_round_trip() {
        let headers: &[(&str, &str)] = &[
            ("lambda-runtime-aws-request-id", "r-1"),
            ("lambda-runtime-deadline-ms", "1900000000000"),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-west-1:1:function:orders",
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1",
            ),
            (
                "lambda-runtime-client-context",
                r#"{"custom":{"k":"v"},"env":{}}"#,
            ),
            (
                "lambda-runtime-cognito-identity",
                r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#,
            ),
            ("lambda-runtime-aws-tenant-id", "t-9"),
        ];
        let original =
            Context::from_headers(headers.iter().map(|(k, v)| (*k, v.as_bytes())), &function())
                .unwrap();
        let mut scratch = Scratch::default();
        let fields = original.to_fields(&mut scratch);
        // SAFETY: `fields` borrows `original` and `scratch`, both alive.
        let copy = unsafe { Context::from_fields(&fields, &function()) };
        assert_eq!(copy.request_id(), "r-1");
        assert_eq!(copy.deadline_ms(), 1_900_000_000_000);
        assert_eq!(copy.invoked_function_arn(), original.invoked_function_arn());
        assert_eq!(copy.xray_trace_header(), original.xray_trace_header());
        assert_eq!(copy.client_context(), original.client_context());
        assert_eq!(copy.client_context().unwrap().custom["k"], "v");
        assert_eq!(copy.identity(), original.identity());
        assert_eq!(copy.tenant_id(), Some("t-9"));
        assert_eq!(copy.function_version(), "7");
    }

    #[test]
    fn absent_fields_stay_absent() {
        let original = Context::from_headers(
            [
                ("lambda-runtime-aws-request-id", &b"r-2"[..]),
                ("lambda-runtime-deadline-ms", b"1900000000000"),
            ]
            .into_iter(),
            &function(),
        )
        .unwrap();
        let mut scratch = Scratch::default();
        let fields = original.to_fields(&mut scratch);
        // SAFETY: as above.
        let copy = unsafe { Context::from_fields(&fields, &function()) };
        assert_eq!(copy.invoked_function_arn(), None);
        assert_eq!(copy.xray_trace_header(), None);
        assert!(copy.client_context().is_none());
        assert!(copy.identity().is_none());
        assert_eq!(copy.tenant_id(), None);
    }
}
