//! The records the Telemetry API (and the Logs API) push to a subscriber, typed; `batch`
//! reads them.

use serde::Deserialize;
use serde::de::Deserializer;

/// One item of a telemetry batch: when it happened and what it is.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Telemetry {
    /// When the record was made, as Lambda writes it (ISO 8601, `2026-12-07T10:00:00.000Z`).
    pub time: String,
    /// The record.
    pub record: Record,
}

/// A telemetry record, by its `type`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Record {
    /// `platform.initStart`: the init phase started.
    InitStart(InitStart),
    /// `platform.initRuntimeDone`: the runtime finished its init.
    InitRuntimeDone(PhaseDone),
    /// `platform.initReport`: the init phase's outcome and duration.
    InitReport(PhaseReport),
    /// `platform.restoreStart`: a SnapStart restore started.
    RestoreStart(InitStart),
    /// `platform.restoreRuntimeDone`: the runtime finished its restore hooks.
    RestoreRuntimeDone(PhaseDone),
    /// `platform.restoreReport`: the restore's outcome and duration.
    RestoreReport(PhaseReport),
    /// `platform.start`: an invocation started.
    Start(Start),
    /// `platform.runtimeDone`: the runtime posted an invocation's outcome.
    RuntimeDone(RuntimeDone),
    /// `platform.report`: an invocation's outcome, duration, billing and memory.
    Report(Report),
    /// `platform.extension`: an extension registered.
    Extension(ExtensionState),
    /// `platform.telemetrySubscription` (or the Logs API's `platform.logsSubscription`): a
    /// subscription was made.
    TelemetrySubscription(SubscriptionState),
    /// `platform.logsDropped`: Lambda dropped records a subscriber did not take in time.
    LogsDropped(LogsDropped),
    /// `function`: a line the function wrote.
    Function(LogLine),
    /// `extension`: a line an extension wrote.
    ExtensionLog(LogLine),
    /// A type lamina does not know, or a record without the shape documented for its type.
    Unknown {
        /// The item's `type`.
        kind: String,
        /// The item's `record`, as sent.
        record: serde_json::Value,
    },
}

/// A line of log output: text, or a JSON object when the function's log format is JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum LogLine {
    /// The text format: the line as written.
    Text(String),
    /// The JSON format: the object Lambda's log format made of the line.
    Json(serde_json::Value),
}

impl LogLine {
    /// The line's message: the text, or the JSON object's `message` field when it is a string.
    pub fn message(&self) -> Option<&str> {
        match self {
            LogLine::Text(text) => Some(text),
            LogLine::Json(object) => object.get("message").and_then(serde_json::Value::as_str),
        }
    }
}

/// How an init, invoke or restore phase ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// `success`
    Success,
    /// `failure`
    Failure,
    /// `error`
    Error,
    /// `timeout`
    Timeout,
    /// A status this version of lamina does not know, as Lambda wrote it.
    Other(String),
}

impl Status {
    /// The status as Lambda writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Other(other) => other,
        }
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatusVisitor;
        impl serde::de::Visitor<'_> for StatusVisitor {
            type Value = Status;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a status")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Status, E> {
                Ok(match text {
                    "success" => Status::Success,
                    "failure" => Status::Failure,
                    "error" => Status::Error,
                    "timeout" => Status::Timeout,
                    other => Status::Other(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_str(StatusVisitor)
    }
}

/// A span of a phase (`responseLatency`, `responseDuration`, …).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Span {
    /// The span's name.
    pub name: String,
    /// When it started (ISO 8601).
    pub start: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
}

/// The X-Ray trace of an invocation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Tracing {
    /// The span's id, when Lambda made one.
    #[serde(default)]
    pub span_id: Option<String>,
    /// The kind of trace value: `X-Amzn-Trace-Id`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The trace header.
    pub value: String,
}

/// `platform.initStart` and `platform.restoreStart`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InitStart {
    /// `on-demand`, `provisioned-concurrency`, `snap-start`, `lambda-managed-instances`, …
    #[serde(default)]
    pub initialization_type: Option<String>,
    /// `init` or `invoke` (an init suppressed and run again at the first invocation).
    #[serde(default)]
    pub phase: Option<String>,
    /// The runtime's version.
    #[serde(default)]
    pub runtime_version: Option<String>,
    /// The runtime version's ARN.
    #[serde(default)]
    pub runtime_version_arn: Option<String>,
    /// The function's name.
    #[serde(default)]
    pub function_name: Option<String>,
    /// The function's version.
    #[serde(default)]
    pub function_version: Option<String>,
    /// The execution environment's id.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// The memory the environment has, in MB.
    #[serde(default)]
    pub instance_max_memory: Option<u64>,
}

/// `platform.initRuntimeDone` and `platform.restoreRuntimeDone`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PhaseDone {
    /// `on-demand`, `provisioned-concurrency`, … (init only).
    #[serde(default)]
    pub initialization_type: Option<String>,
    /// `init` or `invoke` (init only).
    #[serde(default)]
    pub phase: Option<String>,
    /// How the phase ended.
    pub status: Status,
    /// The error's type, when it failed.
    #[serde(default)]
    pub error_type: Option<String>,
    /// The phase's spans.
    #[serde(default)]
    pub spans: Vec<Span>,
}

/// `platform.initReport` and `platform.restoreReport`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PhaseReport {
    /// `on-demand`, `provisioned-concurrency`, … (init only).
    #[serde(default)]
    pub initialization_type: Option<String>,
    /// `init` or `invoke` (init only).
    #[serde(default)]
    pub phase: Option<String>,
    /// How the phase ended.
    #[serde(default)]
    pub status: Option<Status>,
    /// The error's type, when it failed.
    #[serde(default)]
    pub error_type: Option<String>,
    /// How long the phase took.
    #[serde(default)]
    pub metrics: Option<PhaseMetrics>,
    /// The phase's spans.
    #[serde(default)]
    pub spans: Vec<Span>,
}

/// A phase's duration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PhaseMetrics {
    /// How long the phase took, in milliseconds.
    pub duration_ms: f64,
}

/// `platform.start`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Start {
    /// The invocation's request id.
    pub request_id: String,
    /// The function version invoked.
    #[serde(default)]
    pub version: Option<String>,
    /// The invocation's trace.
    #[serde(default)]
    pub tracing: Option<Tracing>,
}

/// `platform.runtimeDone`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RuntimeDone {
    /// The invocation's request id.
    pub request_id: String,
    /// How the invocation ended (absent in the Logs API's version of this record).
    #[serde(default)]
    pub status: Option<Status>,
    /// The error's type, when it failed.
    #[serde(default)]
    pub error_type: Option<String>,
    /// How long the runtime took and how much it answered.
    #[serde(default)]
    pub metrics: Option<RuntimeDoneMetrics>,
    /// The invocation's trace.
    #[serde(default)]
    pub tracing: Option<Tracing>,
    /// The invocation's spans (`responseLatency`, `responseDuration`).
    #[serde(default)]
    pub spans: Vec<Span>,
}

/// `platform.runtimeDone`'s metrics.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RuntimeDoneMetrics {
    /// From the invocation's start to the runtime's answer, in milliseconds.
    pub duration_ms: f64,
    /// The size of the response, in bytes.
    #[serde(default)]
    pub produced_bytes: Option<u64>,
}

/// `platform.report`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Report {
    /// The invocation's request id.
    pub request_id: String,
    /// How the invocation ended (absent in the Logs API's version of this record).
    #[serde(default)]
    pub status: Option<Status>,
    /// The error's type, when it failed.
    #[serde(default)]
    pub error_type: Option<String>,
    /// Duration, billing and memory.
    pub metrics: ReportMetrics,
    /// The invocation's trace.
    #[serde(default)]
    pub tracing: Option<Tracing>,
    /// The invocation's spans.
    #[serde(default)]
    pub spans: Vec<Span>,
}

/// `platform.report`'s metrics: what the `REPORT` log line shows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReportMetrics {
    /// The invocation's duration, in milliseconds.
    pub duration_ms: f64,
    /// The duration billed, in milliseconds (`None` under Managed Instances, which report the
    /// duration alone).
    #[serde(default)]
    pub billed_duration_ms: Option<u64>,
    /// The memory configured, in MB (`None` under Managed Instances).
    #[serde(default, rename = "memorySizeMB")]
    pub memory_size_mb: Option<u64>,
    /// The most memory the environment used, in MB (`None` under Managed Instances).
    #[serde(default, rename = "maxMemoryUsedMB")]
    pub max_memory_used_mb: Option<u64>,
    /// The init's duration, on an invocation that followed a cold start.
    #[serde(default)]
    pub init_duration_ms: Option<f64>,
    /// The SnapStart restore's duration, on the first invocation after one.
    #[serde(default)]
    pub restore_duration_ms: Option<f64>,
    /// The restore's billed duration.
    #[serde(default)]
    pub billed_restore_duration_ms: Option<u64>,
}

/// `platform.extension`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ExtensionState {
    /// The extension's name.
    pub name: String,
    /// Its state: `Ready`.
    pub state: String,
    /// The events it registered for.
    #[serde(default)]
    pub events: Vec<String>,
    /// The error's type, when it failed.
    #[serde(default)]
    pub error_type: Option<String>,
}

/// `platform.telemetrySubscription` and `platform.logsSubscription`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionState {
    /// The subscriber's name.
    pub name: String,
    /// Its state: `Subscribed`.
    pub state: String,
    /// The types it subscribed to.
    #[serde(default)]
    pub types: Vec<String>,
}

/// `platform.logsDropped`: records Lambda dropped because the subscriber did not take them in
/// time (its buffer was full).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LogsDropped {
    /// Why they were dropped.
    pub reason: String,
    /// How many records were dropped.
    pub dropped_records: u64,
    /// How many bytes were dropped.
    pub dropped_bytes: u64,
}
