//! The Extensions API (`/2020-01-01/extension`) and the Telemetry and Logs APIs, as Lambda runs
//! them.
//!
//! - A registration is external when its name was declared with [`Emulator::external`],
//!   internal otherwise. Internal extensions may not register for `SHUTDOWN`; under
//!   [`Emulator::set_managed_instances`] external ones may register for `SHUTDOWN` only and
//!   internal ones for nothing (`403 Extension.InvalidEventType`), and the Logs API is refused.
//! - An invocation is handed to the runtime only while every registered extension waits in
//!   `event/next` (so INIT ends when each has called it once); its `INVOKE` event goes to each
//!   extension registered for it at the same moment; it is complete when the runtime has posted
//!   its outcome and each of those extensions has called `event/next` again
//!   ([`Emulator::wait_complete`]), and then subscribers to `platform` get its
//!   `platform.start`, `platform.runtimeDone` and `platform.report` records.
//! - [`Emulator::shutdown_extensions`] sends `SHUTDOWN` with a deadline.
//! - Subscriptions are checked as Lambda checks them (schema, types, buffering limits,
//!   destination) and recorded; [`Emulator::push_telemetry`] pushes a batch to every
//!   subscriber.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{After, Emulator, POLL, Request, Shared, peer_closed, write_answer};

/// A registered extension, as the tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// Its `Lambda-Extension-Name`.
    pub name: String,
    /// Its `Lambda-Extension-Identifier`.
    pub id: String,
    /// The events it registered for.
    pub events: Vec<String>,
    /// Whether it was registered as an external extension.
    pub external: bool,
    /// Whether it asked for the account id (`Lambda-Extension-Accept-Feature: accountId`).
    pub accepts_account_id: bool,
    /// How many times it has called `event/next`.
    pub next_calls: usize,
}

/// An error an extension reported to `init/error` or `exit/error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionError {
    /// The extension's name.
    pub extension: String,
    /// `"init"` or `"exit"`.
    pub stage: &'static str,
    /// The `Lambda-Extension-Function-Error-Type` header.
    pub error_type: String,
    /// The body, parsed as JSON (`Null` when it was not JSON).
    pub document: serde_json::Value,
}

/// A subscription to the Telemetry API or the Logs API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// The subscribing extension's name.
    pub extension: String,
    /// `"telemetry"` or `"logs"`.
    pub api: &'static str,
    /// The `schemaVersion` asked for.
    pub schema_version: Option<String>,
    /// The streams asked for.
    pub types: Vec<String>,
    /// `maxItems`, `maxBytes`, `timeoutMs`, as asked or Lambda's defaults.
    pub buffering: (u64, u64, u64),
    /// The destination's URI.
    pub uri: String,
}

#[derive(Default)]
pub(crate) struct Extensions {
    list: Vec<Extension>,
    external: HashSet<String>,
    managed: bool,
    subscribers: Vec<Subscriber>,
    errors: Vec<ExtensionError>,
    in_flight: HashMap<String, InFlight>,
    completed: HashMap<String, Duration>,
}

struct Extension {
    public: Registered,
    queue: VecDeque<String>,
    waiting: bool,
    gone: bool,
}

struct InFlight {
    started: Instant,
    started_at: SystemTime,
    runtime_done: bool,
    extensions: HashSet<String>,
}

const SCHEMAS: [&str; 3] = ["2022-07-01", "2022-12-13", "2025-01-29"];
const STREAMS: [&str; 3] = ["platform", "function", "extension"];

impl Extensions {
    /// Whether an invocation may be handed out: every live extension waits in `event/next`.
    pub(crate) fn ready(&self) -> bool {
        self.list.iter().all(|e| e.gone || e.waiting)
    }

    /// An invocation was handed to the runtime: queue its `INVOKE` events.
    pub(crate) fn invocation_started(
        &mut self,
        request_id: &str,
        deadline_ms: u64,
        arn: &str,
        trace: Option<&str>,
    ) {
        let tracing = trace.map_or(String::new(), |t| {
            format!(
                r#","tracing":{{"type":"X-Amzn-Trace-Id","value":{}}}"#,
                json_string(t)
            )
        });
        let event = format!(
            r#"{{"eventType":"INVOKE","deadlineMs":{deadline_ms},"requestId":{},"invokedFunctionArn":{}{tracing}}}"#,
            json_string(request_id),
            json_string(arn)
        );
        let mut waiting_for = HashSet::new();
        for extension in &mut self.list {
            if !extension.gone && extension.public.events.iter().any(|e| e == "INVOKE") {
                extension.queue.push_back(event.clone());
                waiting_for.insert(extension.public.id.clone());
            }
        }
        self.in_flight.insert(
            request_id.to_owned(),
            InFlight {
                started: Instant::now(),
                started_at: SystemTime::now(),
                runtime_done: false,
                extensions: waiting_for,
            },
        );
    }

    /// The runtime posted an outcome (`status`: `success` or `error`); pushes its records if
    /// that completed it.
    pub(crate) fn runtime_done(&mut self, request_id: &str, status: &str) {
        let Some(in_flight) = self.in_flight.get_mut(request_id) else {
            return;
        };
        in_flight.runtime_done = true;
        let pushes: Vec<String> = self.settle(request_id, status).into_iter().collect();
        spawn_pushes(&self.subscribers, pushes);
    }

    fn settle(&mut self, request_id: &str, status: &str) -> Option<String> {
        let done = self
            .in_flight
            .get(request_id)
            .is_some_and(|f| f.runtime_done && f.extensions.is_empty());
        if !done {
            return None;
        }
        let in_flight = self.in_flight.remove(request_id)?;
        let took = in_flight.started.elapsed();
        self.completed.insert(request_id.to_owned(), took);
        Some(platform_records(
            request_id,
            status,
            in_flight.started_at,
            took,
        ))
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn iso_time(at: SystemTime) -> String {
    let ms = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let (days, ms_of_day) = (ms / 86_400_000, ms % 86_400_000);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

/// `platform.start`, `platform.runtimeDone` and `platform.report` for a completed invocation.
fn platform_records(request_id: &str, status: &str, started: SystemTime, took: Duration) -> String {
    let id = json_string(request_id);
    let ms = took.as_secs_f64() * 1000.0;
    let billed = took.as_millis() as u64 + 1;
    format!(
        r#"[{{"time":"{start}","type":"platform.start","record":{{"requestId":{id},"version":"$LATEST"}}}},{{"time":"{end}","type":"platform.runtimeDone","record":{{"requestId":{id},"status":"{status}","metrics":{{"durationMs":{ms:.3},"producedBytes":0}},"spans":[]}}}},{{"time":"{end}","type":"platform.report","record":{{"requestId":{id},"status":"{status}","metrics":{{"durationMs":{ms:.3},"billedDurationMs":{billed},"memorySizeMB":256,"maxMemoryUsedMB":24}},"spans":[]}}}}]"#,
        start = iso_time(started),
        end = iso_time(started + took),
    )
}

/// `POST /extension/register`.
pub(crate) fn register(
    stream: &mut TcpStream,
    request: &Request,
    shared: &Shared,
) -> io::Result<After> {
    let name = request
        .header("lambda-extension-name")
        .unwrap_or("")
        .to_owned();
    let events: Option<Vec<String>> = serde_json::from_slice::<serde_json::Value>(&request.body)
        .ok()
        .and_then(|body| body.get("events").cloned())
        .and_then(|events| serde_json::from_value(events).ok());
    let Some(events) = events.filter(|_| !name.is_empty()) else {
        write_answer(
            stream,
            400,
            r#"{"errorMessage":"a registration needs Lambda-Extension-Name and an events array","errorType":"InvalidRequest"}"#,
            &[],
        )?;
        return Ok(After::KeepOpen);
    };
    let mut state = shared.lock();
    let external = state.extensions.external.contains(&name);
    let managed = state.extensions.managed;
    let refused = events.iter().find(|event| {
        let allowed = match event.as_str() {
            "INVOKE" => !managed,
            "SHUTDOWN" => external,
            _ => false,
        };
        !allowed
    });
    if let Some(event) = refused {
        drop(state);
        let body = format!(
            r#"{{"errorMessage":"{event} is not allowed for this extension","errorType":"Extension.InvalidEventType"}}"#
        );
        write_answer(stream, 403, &body, &[])?;
        return Ok(After::KeepOpen);
    }
    if state.extensions.list.iter().any(|e| e.public.name == name) {
        drop(state);
        write_answer(
            stream,
            409,
            r#"{"errorMessage":"an extension of this name is registered","errorType":"Extension.AlreadyRegistered"}"#,
            &[],
        )?;
        return Ok(After::KeepOpen);
    }
    let id = format!("ext-{:04}", state.extensions.list.len() + 1);
    let accepts_account_id = request
        .header("lambda-extension-accept-feature")
        .is_some_and(|f| f.split(',').any(|f| f.trim() == "accountId"));
    state.extensions.list.push(Extension {
        public: Registered {
            name,
            id: id.clone(),
            events,
            external,
            accepts_account_id,
            next_calls: 0,
        },
        queue: VecDeque::new(),
        waiting: false,
        gone: false,
    });
    shared.changed.notify_all();
    drop(state);
    let body = if accepts_account_id {
        r#"{"functionName":"orders","functionVersion":"$LATEST","handler":"bootstrap","accountId":"123456789012"}"#
    } else {
        r#"{"functionName":"orders","functionVersion":"$LATEST","handler":"bootstrap"}"#
    };
    write_answer(stream, 200, body, &[("Lambda-Extension-Identifier", &id)])?;
    Ok(After::KeepOpen)
}

/// Finds the extension a request's `Lambda-Extension-Identifier` names, or answers `403`.
fn identified(
    stream: &mut TcpStream,
    request: &Request,
    shared: &Shared,
) -> io::Result<Option<usize>> {
    let id = request.header("lambda-extension-identifier").unwrap_or("");
    let found = shared
        .lock()
        .extensions
        .list
        .iter()
        .position(|e| e.public.id == id);
    if found.is_none() {
        write_answer(
            stream,
            403,
            r#"{"errorMessage":"unknown extension identifier","errorType":"Extension.UnknownIdentifier"}"#,
            &[],
        )?;
    }
    Ok(found)
}

/// `GET /extension/event/next`: waits for the extension's next event.
pub(crate) fn next(
    stream: &mut TcpStream,
    request: &Request,
    shared: &Shared,
) -> io::Result<After> {
    let Some(index) = identified(stream, request, shared)? else {
        return Ok(After::KeepOpen);
    };
    let event = {
        let mut pushes = Vec::new();
        let mut state = shared.lock();
        let extensions = &mut state.extensions;
        let id = extensions.list[index].public.id.clone();
        extensions.list[index].public.next_calls += 1;
        extensions.list[index].waiting = true;
        // Calling `next` again ends this extension's part in every invocation it was sent.
        let finished: Vec<String> = extensions
            .in_flight
            .iter_mut()
            .filter_map(|(request_id, f)| f.extensions.remove(&id).then(|| request_id.clone()))
            .collect();
        for request_id in finished {
            pushes.extend(extensions.settle(&request_id, "success"));
        }
        spawn_pushes(&state.extensions.subscribers, pushes);
        shared.changed.notify_all();
        loop {
            if shared.shutdown.load(Ordering::SeqCst) {
                return Ok(After::Close);
            }
            if let Some(event) = state.extensions.list[index].queue.pop_front() {
                state.extensions.list[index].waiting = false;
                break event;
            }
            if peer_closed(stream) {
                state.extensions.list[index].gone = true;
                state.extensions.list[index].waiting = false;
                shared.changed.notify_all();
                return Ok(After::Close);
            }
            state = shared
                .changed
                .wait_timeout(state, POLL)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    };
    shared.changed.notify_all();
    write_answer(
        stream,
        200,
        &event,
        &[("Lambda-Extension-Event-Identifier", "evt")],
    )?;
    Ok(After::KeepOpen)
}

/// Pushes each of `batches` to every subscriber of the `platform` stream, from a thread of
/// its own (as Lambda pushes: apart from the function's and extensions' own calls).
pub(crate) fn spawn_pushes(subscribers: &[Subscriber], batches: Vec<String>) {
    let subscribers: Vec<Subscriber> = subscribers
        .iter()
        .filter(|s| s.types.iter().any(|t| t == "platform"))
        .cloned()
        .collect();
    if batches.is_empty() || subscribers.is_empty() {
        return;
    }
    thread::spawn(move || {
        for batch in batches {
            for subscriber in &subscribers {
                let _ = post(&subscriber.uri, batch.as_bytes());
            }
        }
    });
}

/// `POST /extension/init/error` and `/exit/error`.
pub(crate) fn error(
    stream: &mut TcpStream,
    request: &Request,
    shared: &Shared,
    stage: &'static str,
) -> io::Result<After> {
    let Some(index) = identified(stream, request, shared)? else {
        return Ok(After::KeepOpen);
    };
    let Some(error_type) = request.header("lambda-extension-function-error-type") else {
        write_answer(
            stream,
            400,
            r#"{"errorMessage":"Lambda-Extension-Function-Error-Type is required","errorType":"InvalidRequest"}"#,
            &[],
        )?;
        return Ok(After::KeepOpen);
    };
    let mut state = shared.lock();
    let extension = state.extensions.list[index].public.name.clone();
    if stage == "init" && state.extensions.list[index].public.next_calls > 0 {
        drop(state);
        write_answer(
            stream,
            403,
            r#"{"errorMessage":"init already finished","errorType":"InvalidStateTransition"}"#,
            &[],
        )?;
        return Ok(After::KeepOpen);
    }
    state.extensions.errors.push(ExtensionError {
        extension,
        stage,
        error_type: error_type.to_owned(),
        document: serde_json::from_slice(&request.body).unwrap_or(serde_json::Value::Null),
    });
    state.extensions.list[index].gone = true;
    shared.changed.notify_all();
    drop(state);
    write_answer(stream, 202, r#"{"status":"OK"}"#, &[])?;
    Ok(After::KeepOpen)
}

/// `PUT /2022-07-01/telemetry` and `PUT /2020-08-15/logs`.
pub(crate) fn subscribe(
    stream: &mut TcpStream,
    request: &Request,
    shared: &Shared,
    api: &'static str,
) -> io::Result<After> {
    let Some(index) = identified(stream, request, shared)? else {
        return Ok(After::KeepOpen);
    };
    let managed = shared.lock().extensions.managed;
    let checked = check_subscription(&request.body, api, managed);
    let subscriber = match checked {
        Ok(mut subscriber) => {
            let mut state = shared.lock();
            subscriber.extension = state.extensions.list[index].public.name.clone();
            state.extensions.subscribers.push(subscriber);
            shared.changed.notify_all();
            drop(state);
            write_answer(stream, 200, "\"OK\"", &[])?;
            return Ok(After::KeepOpen);
        }
        Err(refusal) => refusal,
    };
    let (status, message) = subscriber;
    let body = format!(
        r#"{{"errorMessage":{},"errorType":"ValidationError"}}"#,
        json_string(&message)
    );
    write_answer(stream, status, &body, &[])?;
    Ok(After::KeepOpen)
}

fn check_subscription(
    body: &[u8],
    api: &'static str,
    managed: bool,
) -> Result<Subscriber, (u16, String)> {
    if api == "logs" && managed {
        return Err((
            403,
            "the Logs API is not available under Managed Instances".into(),
        ));
    }
    let body: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| (400, format!("the body is not JSON: {e}")))?;
    let schema_version = body
        .get("schemaVersion")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    if api == "telemetry" {
        match schema_version.as_deref() {
            Some(v) if SCHEMAS.contains(&v) => {}
            other => return Err((400, format!("unsupported schemaVersion {other:?}"))),
        }
        if managed && schema_version.as_deref() != Some("2025-01-29") {
            return Err((
                400,
                "Managed Instances support schemaVersion 2025-01-29 only".into(),
            ));
        }
    }
    let types: Vec<String> = body
        .get("types")
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .ok_or((400, "types must be an array of strings".to_owned()))?;
    if types.is_empty() || types.iter().any(|t| !STREAMS.contains(&t.as_str())) {
        return Err((
            400,
            format!("types must be among {STREAMS:?}, got {types:?}"),
        ));
    }
    let buffering = body.get("buffering");
    let field = |name: &str, default: u64, min: u64, max: u64| -> Result<u64, (u16, String)> {
        match buffering.and_then(|b| b.get(name)) {
            None => Ok(default),
            Some(value) => value.as_u64().filter(|v| (min..=max).contains(v)).ok_or((
                400,
                format!("buffering.{name} must be within {min}..={max}, got {value}"),
            )),
        }
    };
    let buffering = (
        field("maxItems", 10_000, 1000, 10_000)?,
        field("maxBytes", 262_144, 262_144, 1_048_576)?,
        field("timeoutMs", 1000, 25, 30_000)?,
    );
    let destination = body.get("destination");
    let protocol = destination
        .and_then(|d| d.get("protocol"))
        .and_then(|p| p.as_str());
    let uri = destination
        .and_then(|d| d.get("URI"))
        .and_then(|u| u.as_str())
        .unwrap_or("");
    if protocol != Some("HTTP") || !uri.starts_with("http://") {
        return Err((
            400,
            format!("destination must be HTTP with an http:// URI, got {destination:?}"),
        ));
    }
    Ok(Subscriber {
        extension: String::new(),
        api,
        schema_version,
        types,
        buffering,
        uri: uri.to_owned(),
    })
}

/// POSTs `body` to `uri` (`http://host:port/path`) and returns the answer's status, trying
/// again for a while when the connection fails, as Lambda does when nothing listens yet. As in
/// Lambda's sandbox, `sandbox.localdomain` is this machine.
pub(crate) fn post(uri: &str, body: &[u8]) -> io::Result<u16> {
    let mut tries = 0;
    loop {
        match post_once(uri, body) {
            Err(err) if tries < 100 && err.kind() != io::ErrorKind::InvalidData => {
                tries += 1;
                thread::sleep(Duration::from_millis(10));
            }
            answered => return answered,
        }
    }
}

fn post_once(uri: &str, body: &[u8]) -> io::Result<u16> {
    let rest = uri.strip_prefix("http://").unwrap_or(uri);
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let address = match authority.strip_prefix("sandbox.localdomain:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => authority.to_owned(),
    };
    let mut connection = TcpStream::connect(address)?;
    connection.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    connection.write_all(head.as_bytes())?;
    connection.write_all(body)?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = connection.read(&mut chunk)?;
        answer.extend_from_slice(&chunk[..read]);
        if read == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let status = std::str::from_utf8(&answer)
        .ok()
        .and_then(|text| text.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no HTTP status"))?;
    Ok(status)
}

impl Emulator {
    /// Treats registrations under `name` as an external extension's (one Lambda started from
    /// `/opt/extensions/name`).
    pub fn external(&self, name: &str) {
        self.shared
            .lock()
            .extensions
            .external
            .insert(name.to_owned());
    }

    /// Applies Managed Instances' rules: no `INVOKE` for extensions, no events for internal
    /// ones, no Logs API, the Telemetry API's `2025-01-29` schema only.
    pub fn set_managed_instances(&self, on: bool) {
        self.shared.lock().extensions.managed = on;
    }

    /// The extensions registered, in order.
    pub fn extensions(&self) -> Vec<Registered> {
        self.shared
            .lock()
            .extensions
            .list
            .iter()
            .map(|e| e.public.clone())
            .collect()
    }

    /// Waits until `count` extensions have registered and each waits in `event/next`.
    pub fn wait_extensions_ready(&self, count: usize, timeout: Duration) -> bool {
        self.wait(timeout, |state| {
            let list = &state.extensions.list;
            (list.len() >= count && list.iter().all(|e| e.waiting)).then_some(())
        })
        .is_some()
    }

    /// Errors extensions reported to `init/error` or `exit/error`.
    pub fn extension_errors(&self) -> Vec<ExtensionError> {
        self.shared.lock().extensions.errors.clone()
    }

    /// Waits for an extension error.
    pub fn wait_extension_error(&self, timeout: Duration) -> Option<ExtensionError> {
        self.wait(timeout, |state| state.extensions.errors.first().cloned())
    }

    /// The subscriptions made.
    pub fn subscribers(&self) -> Vec<Subscriber> {
        self.shared.lock().extensions.subscribers.clone()
    }

    /// Waits until `count` subscriptions have been made.
    pub fn wait_subscribers(&self, count: usize, timeout: Duration) -> Vec<Subscriber> {
        self.wait(timeout, |state| {
            (state.extensions.subscribers.len() >= count)
                .then(|| state.extensions.subscribers.clone())
        })
        .unwrap_or_default()
    }

    /// Pushes `batch` (a JSON array of records) to every subscriber; each one's answer status
    /// (or the connection's error).
    pub fn push_telemetry(&self, batch: &str) -> Vec<io::Result<u16>> {
        let subscribers = self.subscribers();
        subscribers
            .iter()
            .map(|s| post(&s.uri, batch.as_bytes()))
            .collect()
    }

    /// Sends `SHUTDOWN` (`reason`: `spindown`, `timeout`, `failure`) to every extension
    /// registered for it, with a deadline `within` from now.
    pub fn shutdown_extensions(&self, reason: &str, within: Duration) {
        let deadline = SystemTime::now() + within;
        let deadline_ms = deadline
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let event = format!(
            r#"{{"eventType":"SHUTDOWN","shutdownReason":{},"deadlineMs":{deadline_ms}}}"#,
            json_string(reason)
        );
        let mut state = self.shared.lock();
        for extension in &mut state.extensions.list {
            if !extension.gone && extension.public.events.iter().any(|e| e == "SHUTDOWN") {
                extension.queue.push_back(event.clone());
            }
        }
        self.shared.changed.notify_all();
    }

    /// Waits until the invocation is complete (its outcome posted and every extension sent its
    /// `INVOKE` back in `event/next`); how long it took from its delivery.
    pub fn wait_complete(&self, request_id: &str, timeout: Duration) -> Option<Duration> {
        self.wait(timeout, |state| {
            state.extensions.completed.get(request_id).copied()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_8601_in_utc() {
        let at = UNIX_EPOCH + Duration::from_millis(1_796_644_800_123);
        assert_eq!(iso_time(at), "2026-12-07T12:00:00.123Z");
        assert_eq!(iso_time(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn a_subscription_is_checked_as_lambda_checks_it() {
        let ok = br#"{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://127.0.0.1:9"}}"#;
        assert_eq!(
            check_subscription(ok, "telemetry", false).map(|s| s.buffering),
            Ok((1000, 262_144, 25))
        );
        assert_eq!(
            check_subscription(ok, "telemetry", true).map_err(|e| e.0),
            Err(400)
        );
        assert_eq!(
            check_subscription(ok, "logs", true).map_err(|e| e.0),
            Err(403)
        );
        let small = br#"{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{"maxItems":10},"destination":{"protocol":"HTTP","URI":"http://127.0.0.1:9"}}"#;
        assert!(
            check_subscription(small, "telemetry", false)
                .unwrap_err()
                .1
                .contains("maxItems")
        );
        let unknown = br#"{"schemaVersion":"2022-12-13","types":["metrics"],"destination":{"protocol":"HTTP","URI":"http://127.0.0.1:9"}}"#;
        assert!(check_subscription(unknown, "telemetry", false).is_err());
    }
}
