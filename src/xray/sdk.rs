//! An exporter that sends X-Ray documents with the `PutTraceSegments` API (`aws-sdk-xray`),
//! for places with no X-Ray daemon to send UDP datagrams to.
//!
//! Behind the `xray-sdk` cargo feature, off by default: the SDK, its HTTP client and TLS add
//! weight and compile time that the daemon path does not need. Under Lambda with active tracing
//! the daemon is always there; this is for emulators, containers and tests. Turning the feature
//! on costs a function almost nothing until it installs an exporter; one that does links the
//! SDK, rustls and aws-lc, about 6 MB more in a release binary (the `hello` example: 0.94 MB
//! without, 6.97 MB with an exporter installed).
//!
//! Build the exporter in `init` (on lamina's runtime) and [`install`](SdkExporter::install) it:
//! from then on every sampled invocation's subsegments go through `PutTraceSegments` at the end
//! of the invocation, before the response, instead of to the daemon. That call is a network
//! round trip on every sampled invocation, bounded by a 2-second timeout; a failure is logged at
//! debug level and never fails the invocation. The function's role needs
//! `xray:PutTraceSegments`.
//!
//! ```no_run
//! use lamina::xray::sdk::SdkExporter;
//!
//! async fn init() -> Result<(), lamina::Error> {
//!     SdkExporter::from_env()?.install()?;
//!     Ok(())
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_xray::Client;
use aws_sdk_xray::config::timeout::TimeoutConfig;
use aws_sdk_xray::config::{BehaviorVersion, Region};

use super::emitter::PROTOCOL_HEADER;

/// Documents per `PutTraceSegments` call; each is at most 64 KB.
const BATCH: usize = 50;
/// The bound on one export, so a slow endpoint costs the invocation at most this.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The installed exporter, behind a trait object: the SDK's code is reached only through the
/// vtable `install` creates, so a function built with the feature that never installs an
/// exporter links none of it.
static INSTALLED: OnceLock<Box<dyn Export>> = OnceLock::new();

/// What the end of an invocation calls on the installed exporter.
pub(crate) trait Export: Send + Sync {
    /// Sends the documents of daemon datagrams; never fails the invocation.
    fn export<'a>(&'a self, datagrams: &'a [Vec<u8>]) -> Pin<Box<dyn Future<Output = ()> + 'a>>;
}

impl Export for SdkExporter {
    fn export<'a>(&'a self, datagrams: &'a [Vec<u8>]) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
        Box::pin(self.export_datagrams(datagrams))
    }
}

/// Sends X-Ray documents with `PutTraceSegments`.
#[derive(Debug, Clone)]
pub struct SdkExporter {
    client: Client,
}

pub use crate::base::aws_env::ConfigError;

/// An exporter was already installed in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyInstalled;

impl fmt::Display for AlreadyInstalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an X-Ray SDK exporter is already installed; install one, once, in `init`")
    }
}

impl std::error::Error for AlreadyInstalled {}

/// A `PutTraceSegments` call failed, or X-Ray refused some documents.
///
/// New variants may be added in minor releases, so a `match` needs a `_` arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExportError {
    /// The call did not succeed (network, credentials, throttling, timeout…).
    Call(crate::error::BoxError),
    /// The call succeeded but X-Ray did not take `count` documents; `first` says why for one.
    Unprocessed {
        /// How many documents were refused.
        count: usize,
        /// The error code and message X-Ray gave for the first of them.
        first: String,
    },
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Call(_) => f.write_str("the PutTraceSegments call failed"),
            ExportError::Unprocessed { count, first } => {
                write!(
                    f,
                    "X-Ray refused {count} trace documents; the first: {first}"
                )
            }
        }
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExportError::Call(e) => Some(&**e),
            ExportError::Unprocessed { .. } => None,
        }
    }
}

impl SdkExporter {
    /// An exporter using `client`.
    pub fn new(client: Client) -> Self {
        SdkExporter { client }
    }

    /// An exporter configured from the environment as Lambda sets it: the region from
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`), credentials from `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (without them, from the container
    /// credentials endpoint in `AWS_CONTAINER_CREDENTIALS_FULL_URI`, fetched again before they
    /// expire), and an endpoint override from `AWS_ENDPOINT_URL_XRAY` or `AWS_ENDPOINT_URL` when
    /// set. No profile files, no instance metadata.
    ///
    /// # Errors
    /// [`ConfigError`] when the region or the credentials are missing.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(crate::base::aws_env::process_var)
    }

    pub(crate) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = crate::base::aws_env::read(var, "AWS_ENDPOINT_URL_XRAY")?;
        let mut config = aws_sdk_xray::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(env.region))
            .credentials_provider(crate::base::aws_credentials::provider(env.credentials))
            .timeout_config(TimeoutConfig::builder().operation_timeout(TIMEOUT).build());
        if let Some(url) = env.endpoint {
            config = config.endpoint_url(url);
        }
        Ok(SdkExporter::new(Client::from_conf(config.build())))
    }

    /// Makes this the process's exporter: sampled invocations send their subsegments through it
    /// instead of to the daemon.
    ///
    /// # Errors
    /// [`AlreadyInstalled`] when an exporter was installed before.
    pub fn install(self) -> Result<(), AlreadyInstalled> {
        INSTALLED.set(Box::new(self)).map_err(|_| AlreadyInstalled)
    }

    /// Sends `documents` (X-Ray segment or subsegment JSON documents, at most 64 KB each).
    ///
    /// # Errors
    /// [`ExportError`] when a call fails or X-Ray refuses documents.
    pub async fn put(&self, documents: Vec<String>) -> Result<(), ExportError> {
        let mut refused = Vec::new();
        for batch in documents.chunks(BATCH) {
            let output = self
                .client
                .put_trace_segments()
                .set_trace_segment_documents(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| ExportError::Call(Box::new(e)))?;
            refused.extend(output.unprocessed_trace_segments().iter().map(|u| {
                format!(
                    "{} {}: {}",
                    u.id().unwrap_or("?"),
                    u.error_code().unwrap_or("?"),
                    u.message().unwrap_or("")
                )
            }));
        }
        match refused.first() {
            None => Ok(()),
            Some(first) => Err(ExportError::Unprocessed {
                count: refused.len(),
                first: first.clone(),
            }),
        }
    }

    /// Sends the documents of daemon datagrams; a failure is logged at debug level.
    async fn export_datagrams(&self, datagrams: &[Vec<u8>]) {
        let documents = datagrams
            .iter()
            .filter_map(|d| d.strip_prefix(PROTOCOL_HEADER))
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .collect();
        if let Err(err) = self.put(documents).await {
            let cause = std::error::Error::source(&err)
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            tracing::debug!("X-Ray documents were dropped: {err}{cause}");
        }
    }
}

/// The installed exporter, if any.
pub(crate) fn installed() -> Option<&'static dyn Export> {
    INSTALLED.get().map(|exporter| &**exporter)
}

#[cfg(test)]
mod tests;
