//! # The lamina guide
//!
//! One chapter per topic, in the order a new function meets them. Every code block here is
//! compiled by the crate's tests, so what the guide shows is what the crate does; the chapters
//! are Markdown files in `src/guide/`, readable in the repository as well.
//!
//! Chapters about an optional feature appear when that feature is enabled (docs.rs builds them
//! all), and say which feature and `Cargo.toml` line they need.
//!
//! 1. [Writing a function](functions): the handler, `init`, the `Context`, running it locally.
//! 2. [Errors and panics](errors): what the caller and Lambda's records see for each failure.
#![cfg_attr(
    feature = "events",
    doc = "3. [Events](events): S3, SQS, Kinesis, DynamoDB Streams, SNS, EventBridge, ALB; batches and partial failures."
)]
#![cfg_attr(
    feature = "http",
    doc = "4. [HTTP APIs](http): API Gateway, Function URLs, ALB and VPC Lattice; axum."
)]
#![cfg_attr(
    all(feature = "stream", feature = "http"),
    doc = "5. [Streaming](streaming): responses sent as they are produced, with trailers."
)]
//! 6. [Execution models](execution): Managed Instances, graceful shutdown, work between
//!    invocations, the deadline guard.
//! 7. [The `/tmp` cache](cache): values that survive between invocations and cold starts.
#![cfg_attr(
    feature = "metrics",
    doc = "8. [Logs, X-Ray and metrics](observability): Lambda-format logs, traces, CloudWatch EMF."
)]
#![cfg_attr(
    feature = "idempotency",
    doc = "9. [Idempotency](idempotency): exactly-once effects under retries."
)]
//! 10. [Shipping](shipping): `cargo lambda new`, zips for x86_64 and arm64, the runtime layer,
//!     SAM.
#![cfg_attr(
    all(feature = "compat", feature = "http"),
    doc = "11. [Coming from lambda_runtime and lambda_http](migrating): one call, or one attribute."
)]
//! 12. [Testing](testing): handlers in-process, whole functions against the emulator.
//! 13. [Performance](performance): what lamina costs beside `lambda_runtime`, and how it is measured.
#![cfg_attr(
    feature = "extension",
    doc = "14. [Extensions](extensions): external and internal extensions, the Telemetry API, shipping them, coming from `lambda-extension`."
)]

pub mod functions {
    #![doc = include_str!("functions.md")]
}

pub mod errors {
    #![doc = include_str!("errors.md")]
}

#[cfg(feature = "events")]
pub mod events {
    #![doc = include_str!("events.md")]
    #![cfg_attr(feature = "dynamodb-streams", doc = include_str!("events_dynamodb.md"))]
    #![doc = include_str!("events_batches.md")]
}

#[cfg(feature = "http")]
pub mod http {
    #![doc = include_str!("http.md")]
}

#[cfg(all(feature = "stream", feature = "http"))]
pub mod streaming {
    #![doc = include_str!("streaming.md")]
}

pub mod execution {
    #![doc = include_str!("execution.md")]
}

pub mod cache {
    #![doc = include_str!("cache.md")]
}

#[cfg(feature = "metrics")]
pub mod observability {
    #![doc = include_str!("observability.md")]
}

#[cfg(feature = "idempotency")]
pub mod idempotency {
    #![doc = include_str!("idempotency.md")]
}

pub mod shipping {
    #![doc = include_str!("shipping.md")]
}

#[cfg(all(feature = "compat", feature = "http"))]
pub mod migrating {
    #![doc = include_str!("migrating.md")]
}

pub mod testing {
    #![doc = include_str!("testing.md")]
}

pub mod performance {
    #![doc = include_str!("performance.md")]
}

#[cfg(feature = "extension")]
pub mod extensions {
    #![doc = include_str!("extensions.md")]
}
