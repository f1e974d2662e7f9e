//! Subsegments: named, timed parts of an invocation, recorded while the handler runs and turned
//! into X-Ray documents when it returns.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use super::document::{self, Data, Exception, Record};
use super::scalar::{Scalar, truncate};
use super::{CURRENT, Shared, Trace, TraceHeader, current, in_flight};
use crate::base::trace_id::SegmentId;

/// Longest exception message recorded; longer ones are cut (on a character boundary).
const MAX_MESSAGE: usize = 2048;
/// Longest subsegment name X-Ray takes.
const MAX_NAME: usize = 200;

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

impl Subsegment {
    /// Starts a subsegment named `name`, a child of the subsegment in progress on this task (or
    /// of the function's segment). Outside an invocation, or when it is not sampled, the
    /// subsegment records nothing.
    pub fn new(name: impl Into<String>) -> Self {
        CURRENT
            .try_with(|trace| match trace {
                Some(trace) => Subsegment::start(&trace.shared, trace.parent, name),
                None => Subsegment { open: None },
            })
            .unwrap_or(Subsegment { open: None })
    }

    /// Starts a subsegment, or an inert one when the invocation is not recorded (without
    /// allocating its name).
    pub(crate) fn start(
        shared: &Arc<Shared>,
        parent: Option<SegmentId>,
        name: impl Into<String>,
    ) -> Self {
        let Some(recording) = &shared.recording else {
            return Subsegment { open: None };
        };
        Subsegment {
            open: Some(Box::new(Open {
                shared: Arc::clone(shared),
                id: SegmentId::new(),
                parent: parent.unwrap_or(recording.function_segment),
                name: {
                    let mut name = name.into();
                    name.truncate(truncate(&name, MAX_NAME).len());
                    name
                },
                start: recording.now(),
                data: Mutex::new(Data::default()),
            })),
        }
    }

    /// Starts a subsegment that is a child of this one, whatever task or thread it runs on.
    pub fn child(&self, name: impl Into<String>) -> Subsegment {
        match &self.open {
            Some(open) => Subsegment::start(&open.shared, Some(open.id), name),
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
            Some(open) => open
                .shared
                .recording
                .as_ref()
                .map(|recording| recording.header.with_parent(open.id)),
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
            document::set(&mut data.annotations, key, value.into());
        }
        self
    }

    /// Adds metadata under the `default` namespace: any serializable value, not indexed. A value
    /// that does not serialize is skipped with a debug log.
    pub fn metadata(&self, key: &str, value: impl Serialize) -> &Self {
        if let Some(mut data) = self.data() {
            match serde_json::to_string(&value) {
                Ok(json) => document::set(&mut data.metadata, key.to_owned(), json),
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
            document::set(&mut data.aws, key.to_owned(), value.into());
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
            data.exceptions.push(Exception {
                id: SegmentId::new(),
                error_type: truncate(error_type, 256).to_owned(),
                message: truncate(message, MAX_MESSAGE).to_owned(),
            });
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
            None => in_flight(),
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
        document::documents(&recording.header, vec![record], &mut datagrams);
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
