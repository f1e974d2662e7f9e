//! The low-level pieces every other part of lamina may use, and which use nothing of lamina's
//! but [`crate::error`]: what Lambda and the AWS SDK read from the environment, where the Runtime
//! API listens, one HTTP/1.1 connection to a local API, JSON and percent-encoding, and the X-Ray
//! trace header Lambda hands each invocation.

#[cfg(any(feature = "xray-sdk", feature = "idempotency-dynamodb"))]
pub(crate) mod aws_credentials;
#[cfg(any(feature = "xray-sdk", feature = "idempotency-dynamodb"))]
pub(crate) mod aws_env;
pub(crate) mod endpoint;
pub(crate) mod http1;
pub(crate) mod json;
pub(crate) mod json_escape;
pub(crate) mod lambda_env;
#[cfg(any(feature = "events", feature = "http"))]
pub(crate) mod percent;
pub(crate) mod trace_header;
pub(crate) mod trace_id;
