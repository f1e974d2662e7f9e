//! One log line: an event's fields rendered as JSON values, and the line in Lambda's JSON or text
//! shape. Pure functions of their inputs, so the shape is tested without a subscriber.

use std::fmt::{self, Write as _};
use std::time::Duration;

use tracing::Level;
use tracing::field::{Field, Visit};

use crate::base::json_escape::escape_into;

/// Lambda's two log formats, chosen by `AWS_LAMBDA_LOG_FORMAT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// One readable line per event; CloudWatch Logs adds the time.
    Text,
    /// One JSON object per line, in the shape Lambda's managed runtimes write.
    Json,
}

/// The key of the X-Ray trace id. Lambda's managed runtimes write none; Powertools for AWS
/// Lambda writes `xray_trace_id` with the `Root=` value, so dashboards and Logs Insights queries
/// written for Powertools find lamina's lines too.
pub(crate) const TRACE_KEY: &str = "xray_trace_id";

/// Keys lamina writes itself. A user field with one of these names is left out, so a line never
/// carries a key twice.
const RESERVED: [&str; 6] = [
    "timestamp",
    "level",
    "message",
    "requestId",
    "tenantId",
    TRACE_KEY,
];

/// Fields rendered as JSON values: each name with the byte range of its value in `values`.
/// Cleared and reused, it allocates nothing once it has grown to the largest line.
#[derive(Default, Debug, Clone)]
pub(crate) struct Fields {
    values: String,
    entries: Vec<(&'static str, usize, usize)>,
}

impl Fields {
    pub(crate) fn clear(&mut self) {
        self.values.clear();
        self.entries.clear();
    }

    fn has(&self, name: &str) -> bool {
        self.entries.iter().any(|(n, _, _)| *n == name)
    }

    /// `(name, JSON value)` pairs, in the order recorded.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.entries
            .iter()
            .map(|&(name, start, end)| (name, &self.values[start..end]))
    }

    /// Adds `other`'s fields (an enclosing span's) whose names this line does not have yet.
    /// Where `other` holds a name twice (a span's `record` after its creation), the later value
    /// is the current one.
    pub(crate) fn extend_missing(&mut self, other: &Fields) {
        for (i, &(name, start, end)) in other.entries.iter().enumerate() {
            let superseded = other.entries[i + 1..].iter().any(|(n, _, _)| *n == name);
            if !superseded && !self.has(name) && !RESERVED.contains(&name) {
                self.push_raw(name, &other.values[start..end]);
            }
        }
    }

    /// Appends every field of `other` (a span's later `record`).
    pub(crate) fn append(&mut self, other: &Fields) {
        for (name, value) in other.iter() {
            self.push_raw(name, value);
        }
    }

    fn push_raw(&mut self, name: &'static str, json: &str) {
        let start = self.values.len();
        self.values.push_str(json);
        self.entries.push((name, start, self.values.len()));
    }

    fn push_with(&mut self, name: &'static str, write: impl FnOnce(&mut String)) {
        let start = self.values.len();
        write(&mut self.values);
        self.entries.push((name, start, self.values.len()));
    }
}

/// Records an event's or span's fields into [`Fields`]; with `message`, the event's `message`
/// field goes there as plain text instead.
pub(crate) struct Visitor<'a> {
    fields: &'a mut Fields,
    message: Option<&'a mut String>,
}

impl<'a> Visitor<'a> {
    pub(crate) fn new(fields: &'a mut Fields, message: Option<&'a mut String>) -> Self {
        Visitor { fields, message }
    }

    fn message(&mut self, field: &Field) -> Option<&mut String> {
        if field.name() == "message" {
            self.message.as_deref_mut()
        } else {
            None
        }
    }

    fn string(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if let Some(message) = self.message(field) {
            let _ = message.write_fmt(value);
            return;
        }
        self.fields.push_with(field.name(), |out| {
            out.push('"');
            let _ = JsonEscaped(out).write_fmt(value);
            out.push('"');
        });
    }

    fn number(&mut self, field: &Field, value: impl fmt::Display) {
        if let Some(message) = self.message(field) {
            let _ = write!(message, "{value}");
            return;
        }
        self.fields.push_with(field.name(), |out| {
            let _ = write!(out, "{value}");
        });
    }
}

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.string(field, format_args!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.string(field, format_args!("{value}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.string(field, format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field, value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.number(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.number(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.number(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.number(field, value);
        } else {
            // JSON has no NaN or infinity.
            self.string(field, format_args!("{value}"));
        }
    }
}

/// What the line says about the invocation in flight.
pub(crate) struct Scope<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) tenant_id: Option<&'a str>,
    /// The trace id, when the invocation is sampled.
    pub(crate) trace_id: Option<&'a str>,
}

/// Appends one line (with its `\n`) to `out`.
pub(crate) fn write_line(
    out: &mut String,
    format: Format,
    level: Level,
    since_epoch: Duration,
    message: &str,
    fields: &Fields,
    scope: Option<&Scope<'_>>,
) {
    match format {
        Format::Json => {
            out.push_str("{\"timestamp\":\"");
            write_timestamp(out, since_epoch);
            out.push_str("\",\"level\":\"");
            out.push_str(level.as_str());
            out.push_str("\",\"message\":\"");
            escape_into(out, message);
            out.push('"');
            if let Some(scope) = scope {
                json_pair(out, "requestId", scope.request_id);
                if let Some(tenant) = scope.tenant_id {
                    json_pair(out, "tenantId", tenant);
                }
                if let Some(trace) = scope.trace_id {
                    json_pair(out, TRACE_KEY, trace);
                }
            }
            for (name, value) in fields.iter() {
                out.push_str(",\"");
                escape_into(out, name);
                out.push_str("\":");
                out.push_str(value);
            }
            out.push_str("}\n");
        }
        Format::Text => {
            let _ = write!(out, "{:>5}", level.as_str());
            if let Some(scope) = scope {
                out.push(' ');
                out.push_str(scope.request_id);
            }
            if !message.is_empty() {
                out.push(' ');
                // As Lambda's managed runtimes do: a `\r` keeps a multi-line message in one
                // CloudWatch Logs event, where a `\n` would split it.
                for (i, part) in message.split('\n').enumerate() {
                    if i > 0 {
                        out.push('\r');
                    }
                    out.push_str(part);
                }
            }
            for (name, value) in fields.iter() {
                out.push(' ');
                out.push_str(name);
                out.push('=');
                out.push_str(value);
            }
            out.push('\n');
        }
    }
}

fn json_pair(out: &mut String, key: &str, value: &str) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":\"");
    escape_into(out, value);
    out.push('"');
}

/// A `fmt::Write` that escapes what it is given into a JSON string.
struct JsonEscaped<'a>(&'a mut String);

impl fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

/// RFC 3339 in UTC with milliseconds, as Lambda's managed runtimes write it:
/// `2026-11-23T14:05:06.123Z`.
pub(crate) fn write_timestamp(out: &mut String, since_epoch: Duration) {
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let in_day = secs % 86_400;
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60,
        since_epoch.subsec_millis()
    );
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn stamp(since_epoch: Duration) -> String {
        let mut out = String::new();
        write_timestamp(&mut out, since_epoch);
        out
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(stamp(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        // 2026-11-23T14:05:06.123Z
        assert_eq!(
            stamp(Duration::from_millis(1_795_442_706_123)),
            "2026-11-23T14:05:06.123Z"
        );
        // Leap day, and the last millisecond of a year.
        assert_eq!(
            stamp(Duration::from_millis(951_782_400_000)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            stamp(Duration::from_millis(1_767_225_599_999)),
            "2025-12-31T23:59:59.999Z"
        );
        // Sub-millisecond parts are cut, not rounded up into the next second.
        assert_eq!(
            stamp(Duration::from_nanos(1_767_225_599_999_999_999)),
            "2025-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn every_day_of_four_centuries_matches_a_day_count() {
        // Walks forward from 1970 one day at a time and checks the calendar arithmetic
        // against a plain month-length table.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        for days in 0..146_097 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            d += 1;
            if d > len[m as usize - 1] {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    fn fields(build: impl FnOnce(&mut Visitor<'_>)) -> (Fields, String) {
        let mut fields = Fields::default();
        let mut message = String::new();
        build(&mut Visitor::new(&mut fields, Some(&mut message)));
        (fields, message)
    }

    /// A `Field` for tests: tracing creates them only from a callsite's field set.
    macro_rules! field {
        ($name:ident) => {{
            struct Cs;
            impl tracing::callsite::Callsite for Cs {
                fn set_interest(&self, _: tracing::subscriber::Interest) {}
                fn metadata(&self) -> &tracing::Metadata<'_> {
                    &META
                }
            }
            static CS: Cs = Cs;
            static META: tracing::Metadata<'static> = tracing::Metadata::new(
                "test",
                "test",
                Level::INFO,
                None,
                None,
                None,
                tracing::field::FieldSet::new(
                    &[stringify!($name)],
                    tracing::callsite::Identifier(&CS),
                ),
                tracing::metadata::Kind::EVENT,
            );
            META.fields().field(stringify!($name)).unwrap()
        }};
    }

    fn line(format: Format, fields: &Fields, message: &str, scope: Option<&Scope<'_>>) -> String {
        let mut out = String::new();
        write_line(
            &mut out,
            format,
            Level::WARN,
            Duration::from_millis(1_795_442_706_123),
            message,
            fields,
            scope,
        );
        out
    }

    #[test]
    fn json_lines_have_lambdas_keys_then_the_users_fields() {
        let (f, message) = fields(|v| {
            v.record_debug(&field!(message), &format_args!("order \"{}\"\nshipped", 42));
            v.record_str(&field!(order_id), "o-\"1\"");
            v.record_u64(&field!(qty), 3);
            v.record_i64(&field!(delta), -2);
            v.record_bool(&field!(gift), true);
            v.record_f64(&field!(ratio), 0.5);
            v.record_f64(&field!(nan), f64::NAN);
            v.record_debug(&field!(items), &vec!["a", "b"]);
        });
        assert_eq!(message, "order \"42\"\nshipped");
        let scope = Scope {
            request_id: "c0ffee",
            tenant_id: None,
            trace_id: Some("1-5759e988-bd862e3fe1be46a994272793"),
        };
        let text = line(Format::Json, &f, &message, Some(&scope));
        assert!(
            text.ends_with("}\n") && text.matches('\n').count() == 1,
            "{text}"
        );
        assert!(
            text.starts_with(
                r#"{"timestamp":"2026-11-23T14:05:06.123Z","level":"WARN","message":"#
            ),
            "{text}"
        );
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!({
                "timestamp": "2026-11-23T14:05:06.123Z",
                "level": "WARN",
                "message": "order \"42\"\nshipped",
                "requestId": "c0ffee",
                "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793",
                "order_id": "o-\"1\"",
                "qty": 3,
                "delta": -2,
                "gift": true,
                "ratio": 0.5,
                "nan": "NaN",
                "items": "[\"a\", \"b\"]",
            })
        );
        // Outside an invocation: no requestId.
        let parsed: Value = serde_json::from_str(&line(Format::Json, &f, "m", None)).unwrap();
        assert!(parsed.get("requestId").is_none());
        let tenant = Scope {
            request_id: "r",
            tenant_id: Some("t-1"),
            trace_id: None,
        };
        let parsed: Value =
            serde_json::from_str(&line(Format::Json, &f, "m", Some(&tenant))).unwrap();
        assert_eq!(parsed["tenantId"], "t-1");
        assert!(parsed.get(TRACE_KEY).is_none());
    }

    #[test]
    fn level_names_are_lambdas() {
        for (level, name) in [
            (Level::TRACE, "TRACE"),
            (Level::DEBUG, "DEBUG"),
            (Level::INFO, "INFO"),
            (Level::WARN, "WARN"),
            (Level::ERROR, "ERROR"),
        ] {
            let mut out = String::new();
            write_line(
                &mut out,
                Format::Json,
                level,
                Duration::ZERO,
                "m",
                &Fields::default(),
                None,
            );
            let parsed: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(parsed["level"], name);
        }
    }

    #[test]
    fn span_fields_fill_in_without_repeating_a_key() {
        let (event, _) = fields(|v| {
            v.record_str(&field!(order_id), "from-event");
        });
        let (span, _) = fields(|v| {
            v.record_str(&field!(order_id), "from-span");
            v.record_u64(&field!(attempt), 1);
            v.record_str(&field!(level), "shadowed by lamina's");
            v.record_u64(&field!(attempt), 2);
        });
        let mut line_fields = event.clone();
        line_fields.extend_missing(&span);
        let pairs: Vec<_> = line_fields.iter().collect();
        assert_eq!(pairs, [("order_id", "\"from-event\""), ("attempt", "2")]);
    }

    #[test]
    fn text_lines_are_one_readable_line() {
        let (f, message) = fields(|v| {
            v.record_debug(&field!(message), &format_args!("two\nlines"));
            v.record_str(&field!(order_id), "o-1");
            v.record_u64(&field!(qty), 3);
        });
        let scope = Scope {
            request_id: "c0ffee",
            tenant_id: None,
            trace_id: None,
        };
        assert_eq!(
            line(Format::Text, &f, &message, Some(&scope)),
            " WARN c0ffee two\rlines order_id=\"o-1\" qty=3\n"
        );
        assert_eq!(
            line(Format::Text, &Fields::default(), "init", None),
            " WARN init\n"
        );
    }
}
