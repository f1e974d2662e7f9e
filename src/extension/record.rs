//! The records the Telemetry API (and the Logs API) push to a subscriber, typed.
//!
//! Each batch is a JSON array of `{"time", "type", "record"}` items. Every item is read on its
//! own: a type lamina does not know, or a known type whose record does not have the documented
//! shape, reaches the handler as [`Record::Unknown`] with its JSON, and the rest of the batch
//! is read as usual.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::value::RawValue;

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
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(match &*text {
            "success" => Status::Success,
            "failure" => Status::Failure,
            "error" => Status::Error,
            "timeout" => Status::Timeout,
            other => Status::Other(other.to_owned()),
        })
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

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(default, borrow)]
    time: std::borrow::Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    record: &'a RawValue,
}

/// Reads a batch: an error only when the body is not a JSON array.
pub(crate) fn parse_batch(body: &[u8]) -> Result<Vec<Telemetry>, serde_json::Error> {
    let items: Vec<&RawValue> = serde_json::from_slice(body)?;
    Ok(items.into_iter().map(parse_item).collect())
}

fn parse_item(item: &RawValue) -> Telemetry {
    let Ok(Item { time, kind, record }) = serde_json::from_str::<Item<'_>>(item.get()) else {
        return Telemetry {
            time: String::new(),
            record: Record::Unknown {
                kind: String::new(),
                record: serde_json::from_str(item.get()).unwrap_or(serde_json::Value::Null),
            },
        };
    };
    let typed = match &*kind {
        "platform.initStart" => typed(record, Record::InitStart),
        "platform.initRuntimeDone" => typed(record, Record::InitRuntimeDone),
        "platform.initReport" => typed(record, Record::InitReport),
        "platform.restoreStart" => typed(record, Record::RestoreStart),
        "platform.restoreRuntimeDone" => typed(record, Record::RestoreRuntimeDone),
        "platform.restoreReport" => typed(record, Record::RestoreReport),
        "platform.start" => typed(record, Record::Start),
        "platform.runtimeDone" => typed(record, Record::RuntimeDone),
        "platform.report" => typed(record, Record::Report),
        "platform.extension" => typed(record, Record::Extension),
        "platform.telemetrySubscription" | "platform.logsSubscription" => {
            typed(record, Record::TelemetrySubscription)
        }
        "platform.logsDropped" => typed(record, Record::LogsDropped),
        "function" => log_line(record).map(Record::Function),
        "extension" => log_line(record).map(Record::ExtensionLog),
        _ => None,
    };
    Telemetry {
        time: time.into_owned(),
        record: typed.unwrap_or_else(|| Record::Unknown {
            kind: kind.into_owned(),
            record: serde_json::from_str(record.get()).unwrap_or(serde_json::Value::Null),
        }),
    }
}

fn typed<T: DeserializeOwned>(record: &RawValue, wrap: fn(T) -> Record) -> Option<Record> {
    serde_json::from_str(record.get()).ok().map(wrap)
}

fn log_line(record: &RawValue) -> Option<LogLine> {
    let text = record.get();
    if text.starts_with('"') {
        serde_json::from_str(text).ok().map(LogLine::Text)
    } else {
        serde_json::from_str(text).ok().map(LogLine::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(item: &str) -> Record {
        let batch = parse_batch(format!("[{item}]").as_bytes()).expect("a batch");
        assert_eq!(batch.len(), 1);
        batch
            .into_iter()
            .next()
            .map(|t| t.record)
            .expect("one record")
    }

    #[test]
    fn a_report_carries_every_metric() {
        let record = one(
            r#"{"time":"2026-12-07T10:00:01.000Z","type":"platform.report","record":{"requestId":"r-1","status":"success","metrics":{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":256,"maxMemoryUsedMB":31,"initDurationMs":20.25,"restoreDurationMs":3.5,"billedRestoreDurationMs":4},"tracing":{"spanId":"0a1b2c3d4e5f6a7b","type":"X-Amzn-Trace-Id","value":"Root=1-5f84c7a9-0d3b8a6e9e4f2a1b3c5d7e9f;Sampled=1"},"spans":[]}}"#,
        );
        let Record::Report(report) = record else {
            panic!("not a report: {record:?}");
        };
        assert_eq!(report.request_id, "r-1");
        assert_eq!(report.status, Some(Status::Success));
        assert_eq!(report.metrics.duration_ms, 12.5);
        assert_eq!(report.metrics.billed_duration_ms, Some(13));
        assert_eq!(report.metrics.memory_size_mb, Some(256));
        assert_eq!(report.metrics.max_memory_used_mb, Some(31));
        assert_eq!(report.metrics.init_duration_ms, Some(20.25));
        assert_eq!(report.metrics.restore_duration_ms, Some(3.5));
        assert_eq!(report.metrics.billed_restore_duration_ms, Some(4));
        assert_eq!(
            report.tracing.map(|t| t.span_id),
            Some(Some("0a1b2c3d4e5f6a7b".into()))
        );
    }

    #[test]
    fn every_platform_type_is_typed() {
        let items = [
            (
                r#"{"time":"t","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"provided:al2023.v50","functionName":"orders","functionVersion":"$LATEST","instanceId":"i-1","instanceMaxMemory":256}}"#,
                "InitStart",
            ),
            (
                r#"{"time":"t","type":"platform.initRuntimeDone","record":{"initializationType":"on-demand","phase":"init","status":"error","errorType":"Runtime.ExitError","spans":[{"name":"x","start":"t","durationMs":1.0}]}}"#,
                "InitRuntimeDone",
            ),
            (
                r#"{"time":"t","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","status":"success","metrics":{"durationMs":30.5}}}"#,
                "InitReport",
            ),
            (
                r#"{"time":"t","type":"platform.restoreStart","record":{"functionName":"orders"}}"#,
                "RestoreStart",
            ),
            (
                r#"{"time":"t","type":"platform.restoreRuntimeDone","record":{"status":"success"}}"#,
                "RestoreRuntimeDone",
            ),
            (
                r#"{"time":"t","type":"platform.restoreReport","record":{"status":"timeout","metrics":{"durationMs":2.0}}}"#,
                "RestoreReport",
            ),
            (
                r#"{"time":"t","type":"platform.start","record":{"requestId":"r","version":"$LATEST"}}"#,
                "Start",
            ),
            (
                r#"{"time":"t","type":"platform.runtimeDone","record":{"requestId":"r","status":"timeout","metrics":{"durationMs":3000.0,"producedBytes":0},"spans":[{"name":"responseLatency","start":"t","durationMs":0.5}]}}"#,
                "RuntimeDone",
            ),
            (
                r#"{"time":"t","type":"platform.extension","record":{"name":"forwarder","state":"Ready","events":["INVOKE","SHUTDOWN"]}}"#,
                "Extension",
            ),
            (
                r#"{"time":"t","type":"platform.telemetrySubscription","record":{"name":"forwarder","state":"Subscribed","types":["platform","function"]}}"#,
                "TelemetrySubscription",
            ),
            (
                r#"{"time":"t","type":"platform.logsDropped","record":{"reason":"Consumer seems to have fallen behind","droppedRecords":12,"droppedBytes":3456}}"#,
                "LogsDropped",
            ),
        ];
        for (item, variant) in items {
            let record = one(item);
            let name = format!("{record:?}");
            assert!(name.starts_with(variant), "{item} read as {name}");
        }
    }

    #[test]
    fn function_lines_are_text_or_json() {
        assert_eq!(
            one(r#"{"time":"t","type":"function","record":"hello\n"}"#),
            Record::Function(LogLine::Text("hello\n".into()))
        );
        let Record::ExtensionLog(line) = one(
            r#"{"time":"t","type":"extension","record":{"timestamp":"t","level":"INFO","message":"ready"}}"#,
        ) else {
            panic!("not an extension line");
        };
        assert_eq!(line.message(), Some("ready"));
        assert!(matches!(line, LogLine::Json(_)));
    }

    #[test]
    fn an_unknown_type_or_a_misshapen_record_is_kept_raw_and_the_batch_goes_on() {
        let batch = parse_batch(
            br#"[{"time":"t1","type":"platform.futureThing","record":{"a":1}},
                 {"time":"t2","type":"platform.report","record":{"requestId":"r"}},
                 {"no":"envelope"},
                 {"time":"t3","type":"platform.start","record":{"requestId":"r-2"}}]"#,
        )
        .expect("a batch");
        assert_eq!(batch.len(), 4);
        assert_eq!(
            batch[0].record,
            Record::Unknown {
                kind: "platform.futureThing".into(),
                record: serde_json::json!({"a": 1})
            }
        );
        assert_eq!(batch[0].time, "t1");
        assert_eq!(
            batch[1].record,
            Record::Unknown {
                kind: "platform.report".into(),
                record: serde_json::json!({"requestId": "r"})
            }
        );
        assert!(matches!(&batch[2].record, Record::Unknown { kind, .. } if kind.is_empty()));
        assert!(matches!(&batch[3].record, Record::Start(start) if start.request_id == "r-2"));
    }

    #[test]
    fn a_body_that_is_not_an_array_is_an_error() {
        assert!(parse_batch(b"{\"type\":\"function\"}").is_err());
        assert!(parse_batch(b"").is_err());
    }

    #[test]
    fn a_managed_instances_report_has_its_duration_alone() {
        let Record::Report(report) = one(
            r#"{"time":"t","type":"platform.report","record":{"requestId":"r","status":"success","metrics":{"durationMs":4.25}}}"#,
        ) else {
            panic!("not a report");
        };
        assert_eq!(report.metrics.duration_ms, 4.25);
        assert_eq!(report.metrics.billed_duration_ms, None);
        assert_eq!(report.metrics.max_memory_used_mb, None);
    }

    #[test]
    fn the_logs_api_report_has_no_status_and_still_reads() {
        let Record::Report(report) = one(
            r#"{"time":"t","type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":1.5,"billedDurationMs":2,"memorySizeMB":128,"maxMemoryUsedMB":20,"initDurationMs":9.0}}}"#,
        ) else {
            panic!("not a report");
        };
        assert_eq!(report.status, None);
        assert_eq!(report.metrics.init_duration_ms, Some(9.0));
    }
}
