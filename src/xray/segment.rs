//! Subsegments: named, timed parts of an invocation, recorded while the handler runs and turned
//! into X-Ray documents when it returns.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::{Map, Value};

use super::emitter::{MAX_DATAGRAM, PROTOCOL_HEADER};
use super::id::SegmentId;
use super::{CURRENT, Shared, Trace, TraceHeader, current};

/// Longest exception message recorded; longer ones are cut (on a character boundary).
const MAX_MESSAGE: usize = 2048;
/// Longest annotation string X-Ray indexes.
const MAX_ANNOTATION: usize = 1000;

/// A named, timed part of an invocation: an outgoing call, a query, a step worth seeing in the
/// X-Ray trace map.
///
/// A subsegment starts when it is made and ends when it is dropped (or [`end`](Self::end)ed).
/// Its parent is the subsegment whose [`run`](Self::run) or [`in_scope`](Self::in_scope) is in
/// progress on this task, or the function's own segment at the top. When the invocation is not
/// sampled (`Sampled=0`, or no trace header) it records nothing and every method is a no-op.
///
/// ```no_run
/// use lamina::xray::{self, Subsegment};
///
/// # async fn get_item(_: &str) -> Result<String, std::io::Error> { Ok(String::new()) }
/// # async fn example() -> Result<(), std::io::Error> {
/// let call = Subsegment::new("DynamoDB");
/// call.aws("operation", "GetItem").aws("table_name", "orders");
/// call.annotate("order_id", "o-42");
/// let item = call.run(get_item("o-42")).await?;
/// call.metadata("item_bytes", item.len());
/// call.end();
///
/// // Or all at once, with an error recorded as a fault:
/// let item = xray::capture_result("load order", get_item("o-43")).await?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a subsegment ends when dropped: bind it to a variable for as long as the work it times"]
pub struct Subsegment {
    open: Option<Box<Open>>,
}

struct Open {
    shared: Arc<Shared>,
    id: SegmentId,
    parent: SegmentId,
    name: String,
    start: f64,
    data: Mutex<Data>,
}

/// What a subsegment records besides its name and times.
#[derive(Default)]
struct Data {
    namespace: Option<&'static str>,
    annotations: Map<String, Value>,
    metadata: Map<String, Value>,
    http_request: Option<(String, String)>,
    http_response: Option<(u16, Option<u64>)>,
    aws: Map<String, Value>,
    error: bool,
    fault: bool,
    throttle: bool,
    exceptions: Vec<Value>,
}

/// A finished subsegment, waiting for the end of the invocation.
pub(crate) struct Record {
    id: SegmentId,
    parent: SegmentId,
    name: String,
    start: f64,
    end: f64,
    data: Data,
}

/// A value for an annotation or an `aws` field: a string, a number or a boolean.
///
/// Built with `.into()` from `&str`, `String`, `bool` and the integer and float types.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar(pub(super) Value);

impl From<&str> for Scalar {
    fn from(v: &str) -> Self {
        Scalar(Value::String(truncate(v, MAX_ANNOTATION).to_owned()))
    }
}
impl From<String> for Scalar {
    fn from(v: String) -> Self {
        Scalar::from(v.as_str())
    }
}
impl From<&String> for Scalar {
    fn from(v: &String) -> Self {
        Scalar::from(v.as_str())
    }
}
impl From<bool> for Scalar {
    fn from(v: bool) -> Self {
        Scalar(Value::Bool(v))
    }
}
impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
}
macro_rules! scalar_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Scalar {
            fn from(v: $t) -> Self {
                Scalar(Value::from(v))
            }
        }
    )*};
}
scalar_from_int!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl Subsegment {
    /// Starts a subsegment named `name`, a child of the subsegment in progress on this task (or
    /// of the function's segment). Outside an invocation, or when it is not sampled, the
    /// subsegment records nothing.
    pub fn new(name: impl Into<String>) -> Self {
        match current() {
            Some(trace) => trace.subsegment(name),
            None => Subsegment { open: None },
        }
    }

    pub(crate) fn start(shared: &Arc<Shared>, parent: Option<SegmentId>, name: String) -> Self {
        let Some(recording) = &shared.recording else {
            return Subsegment { open: None };
        };
        Subsegment {
            open: Some(Box::new(Open {
                shared: Arc::clone(shared),
                id: SegmentId::new(),
                parent: parent.unwrap_or(recording.function_segment),
                name,
                start: recording.now(),
                data: Mutex::new(Data::default()),
            })),
        }
    }

    /// Starts a subsegment that is a child of this one, whatever task or thread it runs on.
    pub fn child(&self, name: impl Into<String>) -> Subsegment {
        match &self.open {
            Some(open) => Subsegment::start(&open.shared, Some(open.id), name.into()),
            None => Subsegment { open: None },
        }
    }

    /// Whether this subsegment is recorded (the invocation is sampled).
    pub fn is_recording(&self) -> bool {
        self.open.is_some()
    }

    /// Its id, when it is recorded.
    pub fn id(&self) -> Option<SegmentId> {
        self.open.as_ref().map(|o| o.id)
    }

    /// The trace header to send with a call made from this subsegment: `Parent` is this
    /// subsegment's id. When it is not recorded, the header of the trace in progress (with
    /// `Sampled=0`, so the callee does not record either); `None` outside a traced invocation.
    pub fn trace_header(&self) -> Option<TraceHeader> {
        match &self.open {
            Some(open) => Some(open.shared.header.with_parent(open.id)),
            None => current().map(|t| t.forward()),
        }
    }

    /// Adds an annotation: indexed by X-Ray, for filter expressions. Keys keep letters, digits
    /// and `_`; any other character becomes `_`.
    pub fn annotate(&self, key: &str, value: impl Into<Scalar>) -> &Self {
        if let Some(mut data) = self.data() {
            let key: String = key
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            data.annotations.insert(key, value.into().0);
        }
        self
    }

    /// Adds metadata under the `default` namespace: any serializable value, not indexed. A value
    /// that does not serialize is skipped with a debug log.
    pub fn metadata(&self, key: &str, value: impl Serialize) -> &Self {
        if let Some(mut data) = self.data() {
            match serde_json::to_value(value) {
                Ok(value) => {
                    data.metadata.insert(key.to_owned(), value);
                }
                Err(err) => tracing::debug!(key, "X-Ray metadata skipped: {err}"),
            }
        }
        self
    }

    /// Records an outgoing HTTP request (`http.request`); marks the subsegment `remote`.
    pub fn http_request(&self, method: &str, url: &str) -> &Self {
        if let Some(mut data) = self.data() {
            data.http_request = Some((method.to_owned(), url.to_owned()));
            data.namespace.get_or_insert("remote");
        }
        self
    }

    /// Records the response to the outgoing request (`http.response`). A 4xx status marks the
    /// subsegment as an error (429 also as throttled), a 5xx as a fault, as the X-Ray SDKs do.
    pub fn http_response(&self, status: u16, content_length: Option<u64>) -> &Self {
        if let Some(mut data) = self.data() {
            data.http_response = Some((status, content_length));
            match status {
                429 => {
                    data.error = true;
                    data.throttle = true;
                }
                400..=499 => data.error = true,
                500..=599 => data.fault = true,
                _ => {}
            }
        }
        self
    }

    /// Sets a field of the `aws` object (`operation`, `region`, `request_id`, `table_name`,
    /// `queue_url`, …) for a call to an AWS service; marks the subsegment `aws`. Name such a
    /// subsegment after the service (`DynamoDB`).
    pub fn aws(&self, key: &str, value: impl Into<Scalar>) -> &Self {
        if let Some(mut data) = self.data() {
            data.aws.insert(key.to_owned(), value.into().0);
            data.namespace = Some("aws");
        }
        self
    }

    /// Marks the subsegment as an error (a client error, 4xx-like) and records the exception.
    pub fn error(&self, error_type: &str, message: &str) -> &Self {
        self.exception(error_type, message, |d| d.error = true)
    }

    /// Marks the subsegment as a fault (a server error, 5xx-like) and records the exception.
    pub fn fault(&self, error_type: &str, message: &str) -> &Self {
        self.exception(error_type, message, |d| d.fault = true)
    }

    /// Marks the subsegment as throttled (and so as an error).
    pub fn throttle(&self) -> &Self {
        if let Some(mut data) = self.data() {
            data.throttle = true;
            data.error = true;
        }
        self
    }

    fn exception(&self, error_type: &str, message: &str, mark: impl FnOnce(&mut Data)) -> &Self {
        if let Some(mut data) = self.data() {
            mark(&mut data);
            let mut exception = Map::new();
            exception.insert("id".into(), SegmentId::new().to_string().into());
            exception.insert("type".into(), truncate(error_type, 256).into());
            exception.insert("message".into(), truncate(message, MAX_MESSAGE).into());
            data.exceptions.push(Value::Object(exception));
        }
        self
    }

    /// Runs `future` with this subsegment as the parent of the subsegments it starts.
    /// The subsegment itself goes on until dropped, so it can still be annotated afterwards.
    pub async fn run<F: Future>(&self, future: F) -> F::Output {
        CURRENT.scope(self.scope(), future).await
    }

    /// Runs `f` with this subsegment as the parent of the subsegments it starts.
    pub fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        CURRENT.sync_scope(self.scope(), f)
    }

    /// Ends the subsegment now (dropping it does the same).
    pub fn end(self) {}

    fn scope(&self) -> Option<Trace> {
        match &self.open {
            Some(open) => Some(Trace {
                shared: Arc::clone(&open.shared),
                parent: Some(open.id),
            }),
            None => current(),
        }
    }

    fn data(&self) -> Option<MutexGuard<'_, Data>> {
        let open = self.open.as_ref()?;
        Some(open.data.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Drop for Subsegment {
    fn drop(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        let Open {
            shared,
            id,
            parent,
            name,
            start,
            data,
        } = *open;
        let recording = shared
            .recording
            .as_ref()
            .expect("only recorded subsegments are open");
        let record = Record {
            id,
            parent,
            name,
            start,
            end: recording.now().max(start),
            data: data.into_inner().unwrap_or_else(|p| p.into_inner()),
        };
        let mut done = recording.done.lock().unwrap_or_else(|p| p.into_inner());
        if !recording.flushed.load(Ordering::Acquire) {
            done.push(record);
            return;
        }
        drop(done);
        // Ended after the handler returned (in a task it spawned): sent on its own, now.
        let mut datagrams = Vec::new();
        documents(&shared.header, vec![record], &mut datagrams);
        recording.send_now(&datagrams);
    }
}

impl std::fmt::Debug for Subsegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.open {
            Some(open) => f
                .debug_struct("Subsegment")
                .field("name", &open.name)
                .field("id", &open.id)
                .field("parent", &open.parent)
                .finish(),
            None => f.write_str("Subsegment(not recorded)"),
        }
    }
}

/// Runs `future` as a subsegment named `name`.
///
/// ```no_run
/// # async fn fetch() -> u32 { 1 }
/// # async fn example() {
/// let n = lamina::xray::capture("fetch prices", fetch()).await;
/// # }
/// ```
pub async fn capture<F: Future>(name: impl Into<String>, future: F) -> F::Output {
    let subsegment = Subsegment::new(name);
    subsegment.run(future).await
}

/// Runs `future` as a subsegment named `name`; an `Err` marks it as a fault with the error's
/// type name and message.
pub async fn capture_result<T, E, F>(name: impl Into<String>, future: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let subsegment = Subsegment::new(name);
    let result = subsegment.run(future).await;
    if let Err(err) = &result {
        if subsegment.is_recording() {
            subsegment.fault(crate::error::short_type_name::<E>(), &err.to_string());
        }
    }
    result
}

/// Runs `f` as a subsegment named `name`; `f` gets the subsegment to annotate.
pub fn capture_sync<T>(name: impl Into<String>, f: impl FnOnce(&Subsegment) -> T) -> T {
    let subsegment = Subsegment::new(name);
    subsegment.in_scope(|| f(&subsegment))
}

/// Turns finished subsegments into datagrams (protocol header included), each under
/// [`MAX_DATAGRAM`].
///
/// A subsegment whose parent is among `records` is nested in it; the others become independent
/// subsegments (`"type": "subsegment"`, `trace_id`, `parent_id`). A tree too large for one
/// datagram is sent as its root alone plus each child as an independent subsegment, recursively.
/// A single subsegment too large even alone loses its metadata, then is dropped (debug log).
pub(crate) fn documents(header: &TraceHeader, records: Vec<Record>, out: &mut Vec<Vec<u8>>) {
    let trace_id = header.root().to_string();
    let index: std::collections::HashMap<SegmentId, usize> =
        records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let mut children = vec![Vec::new(); records.len()];
    let mut roots = Vec::new();
    for (i, record) in records.iter().enumerate() {
        match index.get(&record.parent) {
            Some(&p) if p != i => children[p].push(i),
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

impl Tree<'_> {
    fn emit(&self, i: usize, out: &mut Vec<Vec<u8>>) {
        let mut whole = self.value(i, true, true);
        if let Some(datagram) = datagram(&whole) {
            out.push(datagram);
            return;
        }
        // Too large with its children: send it alone, and each child on its own.
        if let Value::Object(map) = &mut whole {
            map.remove("subsegments");
        }
        let alone = datagram(&whole).or_else(|| {
            if let Value::Object(map) = &mut whole {
                map.remove("metadata");
            }
            datagram(&whole)
        });
        match alone {
            Some(datagram) => out.push(datagram),
            None => tracing::debug!(
                name = self.records[i].name,
                "an X-Ray subsegment over 64 KB even without metadata was dropped"
            ),
        }
        for &child in &self.children[i] {
            self.emit(child, out);
        }
    }

    fn value(&self, i: usize, independent: bool, with_children: bool) -> Value {
        let r = &self.records[i];
        let mut m = Map::new();
        m.insert("id".into(), r.id.to_string().into());
        m.insert("name".into(), r.name.clone().into());
        m.insert("start_time".into(), seconds(r.start));
        m.insert("end_time".into(), seconds(r.end));
        if independent {
            m.insert("type".into(), "subsegment".into());
            m.insert("trace_id".into(), self.trace_id.into());
            m.insert("parent_id".into(), r.parent.to_string().into());
        }
        let d = &r.data;
        if let Some(namespace) = d.namespace {
            m.insert("namespace".into(), namespace.into());
        }
        if !d.annotations.is_empty() {
            m.insert("annotations".into(), Value::Object(d.annotations.clone()));
        }
        if !d.metadata.is_empty() {
            let mut namespaces = Map::new();
            namespaces.insert("default".into(), Value::Object(d.metadata.clone()));
            m.insert("metadata".into(), Value::Object(namespaces));
        }
        if d.http_request.is_some() || d.http_response.is_some() {
            let mut http = Map::new();
            if let Some((method, url)) = &d.http_request {
                http.insert(
                    "request".into(),
                    serde_json::json!({ "method": method, "url": url }),
                );
            }
            if let Some((status, length)) = d.http_response {
                let mut response = Map::new();
                response.insert("status".into(), status.into());
                if let Some(length) = length {
                    response.insert("content_length".into(), length.into());
                }
                http.insert("response".into(), Value::Object(response));
            }
            m.insert("http".into(), Value::Object(http));
        }
        if !d.aws.is_empty() {
            m.insert("aws".into(), Value::Object(d.aws.clone()));
        }
        for (flag, set) in [
            ("error", d.error),
            ("fault", d.fault),
            ("throttle", d.throttle),
        ] {
            if set {
                m.insert(flag.into(), true.into());
            }
        }
        if !d.exceptions.is_empty() {
            m.insert(
                "cause".into(),
                serde_json::json!({
                    "working_directory": super::cause::working_directory(),
                    "exceptions": d.exceptions,
                }),
            );
        }
        if with_children && !self.children[i].is_empty() {
            let nested = self.children[i]
                .iter()
                .map(|&c| self.value(c, false, true))
                .collect();
            m.insert("subsegments".into(), Value::Array(nested));
        }
        Value::Object(m)
    }
}

/// The datagram for `document`, if it fits.
fn datagram(document: &Value) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(PROTOCOL_HEADER);
    serde_json::to_writer(&mut out, document).ok()?;
    (out.len() <= MAX_DATAGRAM).then_some(out)
}

/// Epoch seconds with microseconds, as X-Ray reads them.
fn seconds(t: f64) -> Value {
    let rounded = (t * 1e6).round() / 1e6;
    serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number)
}

/// `s` cut to at most `max` bytes, on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
