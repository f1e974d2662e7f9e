//! Reading a pushed batch: a JSON array of `{"time", "type", "record"}` items.
//!
//! Every item counts on its own: a type lamina does not know, or a known type whose record
//! does not have the documented shape, reaches the handler as [`Record::Unknown`] with its
//! JSON, and the rest of the batch is read as usual. A batch is read in one pass, each record
//! straight into its type; only a batch with an item that pass cannot take is read again, item
//! by item.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::extension::record::{LogLine, Record, Telemetry};

/// Reads a batch: an error only when the body is not a JSON array.
pub(crate) fn parse_batch(body: &[u8]) -> Result<Vec<Telemetry>, serde_json::Error> {
    match one_pass(body) {
        Some(items) => Ok(items),
        None => item_by_item(body),
    }
}

/// The one pass; `None` if anything in the batch surprised it.
fn one_pass(body: &[u8]) -> Option<Vec<Telemetry>> {
    // One check of the whole body costs less than serde_json's check of each string.
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = serde_json::Deserializer::from_str(text);
    let items = de::DeserializeSeed::deserialize(OnePassBatch(text.len()), &mut reader).ok()?;
    reader.end().ok()?;
    Some(items)
}

/// The record of `kind`, read from `record`.
fn read_record<'de, D: Deserializer<'de>>(kind: &str, record: D) -> Result<Record, D::Error> {
    Ok(match kind {
        "platform.initStart" => Record::InitStart(Deserialize::deserialize(record)?),
        "platform.initRuntimeDone" => Record::InitRuntimeDone(Deserialize::deserialize(record)?),
        "platform.initReport" => Record::InitReport(Deserialize::deserialize(record)?),
        "platform.restoreStart" => Record::RestoreStart(Deserialize::deserialize(record)?),
        "platform.restoreRuntimeDone" => {
            Record::RestoreRuntimeDone(Deserialize::deserialize(record)?)
        }
        "platform.restoreReport" => Record::RestoreReport(Deserialize::deserialize(record)?),
        "platform.start" => Record::Start(Deserialize::deserialize(record)?),
        "platform.runtimeDone" => Record::RuntimeDone(Deserialize::deserialize(record)?),
        "platform.report" => Record::Report(Deserialize::deserialize(record)?),
        "platform.extension" => Record::Extension(Deserialize::deserialize(record)?),
        "platform.telemetrySubscription" | "platform.logsSubscription" => {
            Record::TelemetrySubscription(Deserialize::deserialize(record)?)
        }
        "platform.logsDropped" => Record::LogsDropped(Deserialize::deserialize(record)?),
        "function" => Record::Function(log_line(Value::deserialize(record)?)),
        "extension" => Record::ExtensionLog(log_line(Value::deserialize(record)?)),
        _ => Record::Unknown {
            kind: kind.to_owned(),
            record: Value::deserialize(record)?,
        },
    })
}

/// The record of `kind` in `raw`, kept aside while the item was read.
fn read_raw(kind: &str, raw: &RawValue) -> Result<Record, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(raw.get());
    let record = read_record(kind, &mut reader)?;
    reader.end()?;
    Ok(record)
}

fn log_line(record: Value) -> LogLine {
    match record {
        Value::String(text) => LogLine::Text(text),
        object => LogLine::Json(object),
    }
}

/// The one pass over a batch of `.0` bytes: room for every item made at once (a platform
/// record takes 150 bytes or more), so the array is not copied as it grows.
struct OnePassBatch(usize);

impl<'de> de::DeserializeSeed<'de> for OnePassBatch {
    type Value = Vec<Telemetry>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for OnePassBatch {
    type Value = Vec<Telemetry>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of telemetry items")
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity((self.0 / 150).min(10_000));
        while seq.next_element_seed(OnePass(&mut items))?.is_some() {}
        Ok(items)
    }
}

/// An item read in the one pass, pushed where it goes (a record is a few hundred bytes, each
/// move of it a copy); any surprise fails the pass.
struct OnePass<'v>(&'v mut Vec<Telemetry>);

impl<'de> de::DeserializeSeed<'de> for OnePass<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OnePass<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a telemetry item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut time = None;
        let mut kind: Option<Cow<'de, str>> = None;
        let mut record = None;
        let mut raw: Option<&'de RawValue> = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Time => time = Some(map.next_value::<String>()?),
                Key::Type => kind = Some(map.next_value::<Text<'de>>()?.0),
                Key::Record => match kind.as_deref() {
                    Some(kind) => record = Some(map.next_value_seed(RecordOf(kind))?),
                    None => raw = Some(map.next_value()?),
                },
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
        let record = match (record, raw) {
            (Some(record), _) => record,
            (None, Some(raw)) => read_raw(&kind, raw).map_err(de::Error::custom)?,
            (None, None) => return Err(de::Error::missing_field("record")),
        };
        self.0.push(Telemetry {
            time: time.unwrap_or_default(),
            record,
        });
        Ok(())
    }
}

/// The seed that reads a record of a known `type`.
struct RecordOf<'k>(&'k str);

impl<'de> de::DeserializeSeed<'de> for RecordOf<'_> {
    type Value = Record;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Record, D::Error> {
        read_record(self.0, deserializer)
    }
}

/// An item's keys.
enum Key {
    Time,
    Type,
    Record,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "time" => Key::Time,
                    "type" => Key::Type,
                    "record" => Key::Record,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A string of the body, borrowed unless it held an escape.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// The second reading, for a batch the one pass could not take: each item on its own.
fn item_by_item(body: &[u8]) -> Result<Vec<Telemetry>, serde_json::Error> {
    let items: Vec<&RawValue> = serde_json::from_slice(body)?;
    Ok(items.into_iter().map(careful_item).collect())
}

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(default, borrow)]
    time: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    record: &'a RawValue,
}

fn careful_item(item: &RawValue) -> Telemetry {
    let Ok(Item { time, kind, record }) = serde_json::from_str::<Item<'_>>(item.get()) else {
        return Telemetry {
            time: String::new(),
            record: Record::Unknown {
                kind: String::new(),
                record: raw_json(item),
            },
        };
    };
    Telemetry {
        time: time.into_owned(),
        record: read_raw(&kind, record).unwrap_or_else(|_| Record::Unknown {
            kind: kind.into_owned(),
            record: raw_json(record),
        }),
    }
}

fn raw_json(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::record::Status;

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

    #[test]
    fn the_one_pass_and_the_item_by_item_reading_agree() {
        let items = [
            r#"{"time":"t","type":"platform.start","record":{"requestId":"r","version":"$LATEST","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-a-b"}}}"#,
            r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":1.5}},"time":"late"}"#,
            r#"{"record":{"requestId":"r-0"},"type":"platform.start","time":"t"}"#,
            r#"{"time":"t\u00e9","type":"function","record":"line with \"quotes\"\n"}"#,
            r#"{"time":"t","type":"extension","record":{"message":"m","level":"WARN"},"extra":[1,2]}"#,
            r#"{"time":"t","type":"platform.somethingNew","record":[1,{"x":null}]}"#,
        ];
        let body = format!("[{}]", items.join(","));
        let one_pass = one_pass(body.as_bytes()).expect("one pass");
        assert_eq!(
            one_pass,
            item_by_item(body.as_bytes()).expect("item by item")
        );
        assert_eq!(one_pass[1].time, "late");
        assert!(matches!(&one_pass[2].record, Record::Start(s) if s.request_id == "r-0"));
        assert_eq!(one_pass[3].time, "t\u{e9}");
        assert_eq!(
            one_pass[3].record,
            Record::Function(LogLine::Text("line with \"quotes\"\n".into()))
        );
    }

    #[test]
    fn a_misshapen_item_sends_the_batch_to_the_careful_reading() {
        let body = br#"[{"time":"t","type":"platform.start","record":{"requestId":"r"}},{"time":"t","type":"platform.start","record":{"requestId":7}}]"#;
        assert!(one_pass(body).is_none());
        let batch = parse_batch(body).expect("a batch");
        assert!(matches!(&batch[0].record, Record::Start(s) if s.request_id == "r"));
        assert_eq!(
            batch[1].record,
            Record::Unknown {
                kind: "platform.start".into(),
                record: serde_json::json!({"requestId": 7})
            }
        );
    }
}
