//! X-Ray documents: what a subsegment records, and how finished ones become daemon datagrams.
//!
//! The JSON is written directly, not through `serde_json::Value`: a sampled invocation pays for
//! one pass over its records, and a function that never records pays no code size for a JSON
//! tree it does not build. User metadata is serialized (by serde) when it is recorded.

use std::io::Write;

use super::TraceHeader;
use super::emitter::{MAX_DATAGRAM, PROTOCOL_HEADER};
use super::scalar::{Scalar, ScalarKind};
use crate::base::trace_id::SegmentId;

/// What a subsegment records besides its name and times.
#[derive(Default)]
pub(crate) struct Data {
    pub(crate) namespace: Option<&'static str>,
    pub(crate) annotations: Vec<(String, Scalar)>,
    /// Keys and their values as JSON text.
    pub(crate) metadata: Vec<(String, String)>,
    pub(crate) http_request: Option<(String, String)>,
    pub(crate) http_response: Option<(u16, Option<u64>)>,
    pub(crate) aws: Vec<(String, Scalar)>,
    pub(crate) error: bool,
    pub(crate) fault: bool,
    pub(crate) throttle: bool,
    pub(crate) exceptions: Vec<Exception>,
}

/// One entry of a subsegment's `cause.exceptions`.
pub(crate) struct Exception {
    pub(crate) id: SegmentId,
    pub(crate) error_type: String,
    pub(crate) message: String,
}

/// Sets `key` in a list of fields, replacing an earlier value.
pub(crate) fn set<T>(fields: &mut Vec<(String, T)>, key: String, value: T) {
    match fields.iter_mut().find(|(k, _)| *k == key) {
        Some(field) => field.1 = value,
        None => fields.push((key, value)),
    }
}

/// A finished subsegment, waiting for the end of the invocation.
pub(crate) struct Record {
    pub(crate) id: SegmentId,
    pub(crate) parent: SegmentId,
    pub(crate) name: String,
    pub(crate) start: f64,
    pub(crate) end: f64,
    pub(crate) data: Data,
}

/// Turns finished subsegments into datagrams (protocol header included), each at most
/// [`MAX_DATAGRAM`] bytes.
///
/// A subsegment whose parent is among `records` is nested in it; the others become independent
/// subsegments (`"type": "subsegment"`, `trace_id`, `parent_id`). A tree too large for one
/// datagram is sent as its root alone plus each child as an independent subsegment, recursively.
/// A single subsegment too large even alone loses its metadata, then is dropped (debug log).
pub(crate) fn documents(header: &TraceHeader, records: Vec<Record>, out: &mut Vec<Vec<u8>>) {
    let trace_id = header.root().to_string();
    let mut children = vec![Vec::new(); records.len()];
    let mut roots = Vec::new();
    for (i, record) in records.iter().enumerate() {
        // Invocations record a handful of subsegments: a scan beats building a map.
        match records.iter().position(|r| r.id == record.parent) {
            Some(p) if p != i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    // In the order they started, as a reader of the trace expects.
    let by_start = |a: &usize, b: &usize| records[*a].start.total_cmp(&records[*b].start);
    roots.sort_by(by_start);
    for siblings in &mut children {
        siblings.sort_by(by_start);
    }
    let tree = Tree {
        records: &records,
        children: &children,
        trace_id: &trace_id,
    };
    for root in roots {
        tree.emit(root, out);
    }
}

struct Tree<'a> {
    records: &'a [Record],
    children: &'a [Vec<usize>],
    trace_id: &'a str,
}

/// What of a subsegment to write.
#[derive(Clone, Copy, PartialEq)]
enum Depth {
    /// With its children, nested.
    Tree,
    /// Alone: its children go separately.
    Alone,
    /// Alone and without metadata: the last resort for an oversized subsegment.
    Bare,
}

impl Tree<'_> {
    fn emit(&self, i: usize, out: &mut Vec<Vec<u8>>) {
        let mut datagram = Vec::with_capacity(512);
        for depth in [Depth::Tree, Depth::Alone, Depth::Bare] {
            if depth == Depth::Alone && self.children[i].is_empty() {
                continue;
            }
            datagram.clear();
            datagram.extend_from_slice(PROTOCOL_HEADER);
            self.write(&mut datagram, i, true, depth);
            if datagram.len() <= MAX_DATAGRAM {
                out.push(datagram);
                if depth != Depth::Tree {
                    for &child in &self.children[i] {
                        self.emit(child, out);
                    }
                }
                return;
            }
        }
        tracing::debug!(
            name = self.records[i].name,
            "an X-Ray subsegment over 64 KB even without metadata was dropped"
        );
        for &child in &self.children[i] {
            self.emit(child, out);
        }
    }

    fn write(&self, out: &mut Vec<u8>, i: usize, independent: bool, depth: Depth) {
        let r = &self.records[i];
        let d = &r.data;
        let _ = write!(out, "{{\"id\":\"{}\",\"name\":", r.id);
        string(out, &r.name);
        let _ = write!(
            out,
            ",\"start_time\":{:.6},\"end_time\":{:.6}",
            r.start, r.end
        );
        if independent {
            let _ = write!(
                out,
                ",\"type\":\"subsegment\",\"trace_id\":\"{}\",\"parent_id\":\"{}\"",
                self.trace_id, r.parent
            );
        }
        if let Some(namespace) = d.namespace {
            let _ = write!(out, ",\"namespace\":\"{namespace}\"");
        }
        if !d.annotations.is_empty() {
            out.extend_from_slice(b",\"annotations\":");
            scalars(out, &d.annotations);
        }
        if !d.metadata.is_empty() && depth != Depth::Bare {
            out.extend_from_slice(b",\"metadata\":{\"default\":{");
            for (n, (key, json)) in d.metadata.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                string(out, key);
                out.push(b':');
                out.extend_from_slice(json.as_bytes());
            }
            out.extend_from_slice(b"}}");
        }
        if d.http_request.is_some() || d.http_response.is_some() {
            out.extend_from_slice(b",\"http\":{");
            if let Some((method, url)) = &d.http_request {
                out.extend_from_slice(b"\"request\":{\"method\":");
                string(out, method);
                out.extend_from_slice(b",\"url\":");
                string(out, url);
                out.push(b'}');
            }
            if let Some((status, length)) = d.http_response {
                if d.http_request.is_some() {
                    out.push(b',');
                }
                let _ = write!(out, "\"response\":{{\"status\":{status}");
                if let Some(length) = length {
                    let _ = write!(out, ",\"content_length\":{length}");
                }
                out.push(b'}');
            }
            out.push(b'}');
        }
        if !d.aws.is_empty() {
            out.extend_from_slice(b",\"aws\":");
            scalars(out, &d.aws);
        }
        for (flag, set) in [
            ("error", d.error),
            ("fault", d.fault),
            ("throttle", d.throttle),
        ] {
            if set {
                let _ = write!(out, ",\"{flag}\":true");
            }
        }
        if !d.exceptions.is_empty() {
            out.extend_from_slice(b",\"cause\":{\"working_directory\":");
            string(out, super::cause::working_directory());
            out.extend_from_slice(b",\"exceptions\":[");
            for (n, e) in d.exceptions.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                let _ = write!(out, "{{\"id\":\"{}\",\"type\":", e.id);
                string(out, &e.error_type);
                out.extend_from_slice(b",\"message\":");
                string(out, &e.message);
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
        }
        if depth == Depth::Tree && !self.children[i].is_empty() {
            out.extend_from_slice(b",\"subsegments\":[");
            for (n, &child) in self.children[i].iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                self.write(out, child, false, Depth::Tree);
            }
            out.push(b']');
        }
        out.push(b'}');
    }
}

fn scalars(out: &mut Vec<u8>, fields: &[(String, Scalar)]) {
    out.push(b'{');
    for (n, (key, value)) in fields.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        string(out, key);
        out.push(b':');
        let _ = match &value.0 {
            ScalarKind::Str(s) => {
                string(out, s);
                Ok(())
            }
            ScalarKind::Int(v) => write!(out, "{v}"),
            ScalarKind::UInt(v) => write!(out, "{v}"),
            ScalarKind::Float(v) if v.is_finite() => write!(out, "{v}"),
            ScalarKind::Float(_) => write!(out, "null"),
            ScalarKind::Bool(v) => write!(out, "{v}"),
        };
    }
    out.push(b'}');
}

/// A JSON string, escaped by serde_json.
fn string(out: &mut Vec<u8>, s: &str) {
    // Writing a `&str` to a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}
