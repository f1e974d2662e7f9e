//! One error type for everything that can end an invocation or the init phase.
//!
//! Lambda shows two strings for a failed invocation: `errorType`, which alarms, retries and
//! dashboards key on, and `errorMessage`, which a person reads. [`Error::error_type`] is the first
//! and is stable for each variant; [`Error::message`] is the second.
//!
//! Errors from the function's own code arrive through `?`: any `std::error::Error + Send + Sync`
//! converts into [`Error::Handler`], named after its type (`Handler.VarError` for a
//! [`std::env::VarError`]). To choose the name yourself, build it with [`Error::new`] or
//! [`Error::with_type`].
//!
//! [`Error`] does not implement [`std::error::Error`] itself: that is what lets `?` convert every
//! error type into it (the same trade-off `anyhow` makes).

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// A boxed error from any source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a lamina function.
///
/// New variants may be added in minor releases, so a `match` needs a `_` arm.
///
/// ```
/// use lamina::Error;
///
/// fn alarm_name(err: &Error) -> &str {
///     match err {
///         Error::Handler(e) => e.error_type(),
///         Error::InvalidEvent(_) => "bad-input",
///         _ => "runtime",
///     }
/// }
/// let err = Error::new("OrderNotFound", "order 42 does not exist");
/// assert_eq!(alarm_name(&err), "OrderNotFound");
/// ```
#[non_exhaustive]
pub enum Error {
    /// The function's own code (its handler or its `init`) returned an error.
    Handler(HandlerError),
    /// The event payload did not decode into the handler's event type; the handler was not called.
    InvalidEvent(EventError),
    /// The handler's response could not be encoded as JSON.
    InvalidResponse(ResponseError),
    /// The Runtime API refused the handler's response as over Lambda's payload limit (`413`).
    ResponseTooLarge(ResponseTooLarge),
    /// The handler or `init` panicked.
    Panic(PanicError),
    /// The environment Lambda provides is missing a variable or holds a malformed one.
    Config(ConfigError),
    /// The Lambda Runtime API could not be reached or answered in a way lamina cannot go on from.
    RuntimeApi(ApiError),
    /// The handler was still running at the deadline guard's margin and was cancelled
    /// (`LAMINA_DEADLINE_MARGIN_MS`).
    Timeout(TimeoutError),
}

impl Error {
    /// An error from your own code with the `errorType` you choose.
    ///
    /// ```
    /// let err = lamina::Error::new("OrderNotFound", "order 42 does not exist");
    /// assert_eq!(err.error_type(), "OrderNotFound");
    /// assert_eq!(err.message(), "order 42 does not exist");
    /// ```
    pub fn new(error_type: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Error::Handler(HandlerError {
            error_type: error_type.into(),
            named_by_user: true,
            source: Box::new(Message(message.into())),
        })
    }

    /// Wraps an error from your own code under the `errorType` you choose.
    ///
    /// ```
    /// let io = std::io::Error::other("disk on fire");
    /// let err = lamina::Error::with_type("Storage", io);
    /// assert_eq!(err.error_type(), "Storage");
    /// ```
    pub fn with_type(
        error_type: impl Into<Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Handler(HandlerError {
            error_type: error_type.into(),
            named_by_user: true,
            source: source.into(),
        })
    }

    /// Wraps an already boxed error, named `Handler.Error` (use [`Error::with_type`] to name it).
    pub fn from_boxed(source: BoxError) -> Self {
        Error::Handler(HandlerError {
            error_type: Cow::Borrowed("Handler.Error"),
            named_by_user: false,
            source,
        })
    }

    /// The `errorType` Lambda reports for this error.
    ///
    /// | variant | `errorType` |
    /// |---|---|
    /// | [`Error::Handler`] | your name, or `Handler.<TypeName>` (`Init.<TypeName>` from `init`) |
    /// | [`Error::InvalidEvent`] | `Runtime.InvalidEvent` |
    /// | [`Error::InvalidResponse`] | `Runtime.InvalidResponse` |
    /// | [`Error::ResponseTooLarge`] | `Function.ResponseSizeTooLarge` (Lambda's own name for it) |
    /// | [`Error::Panic`] | `Runtime.HandlerPanic` (`Runtime.InitPanic` from `init`) |
    /// | [`Error::Config`] | `Runtime.InvalidConfig` |
    /// | [`Error::RuntimeApi`] | `Runtime.ApiError` |
    /// | [`Error::Timeout`] | `Runtime.HandlerTimeout` |
    pub fn error_type(&self) -> &str {
        match self {
            Error::Handler(e) => e.error_type(),
            Error::InvalidEvent(_) => "Runtime.InvalidEvent",
            Error::InvalidResponse(_) => "Runtime.InvalidResponse",
            Error::ResponseTooLarge(_) => "Function.ResponseSizeTooLarge",
            Error::Panic(e) if e.during_init => "Runtime.InitPanic",
            Error::Panic(_) => "Runtime.HandlerPanic",
            Error::Config(_) => "Runtime.InvalidConfig",
            Error::RuntimeApi(_) => "Runtime.ApiError",
            Error::Timeout(_) => "Runtime.HandlerTimeout",
        }
    }

    /// The `errorMessage` Lambda reports: this error and each of its causes, joined by `: `.
    pub fn message(&self) -> String {
        let mut out = self.to_string();
        let mut cause = match self {
            Error::Handler(e) => e.source.source(),
            Error::InvalidEvent(_)
            | Error::InvalidResponse(_)
            | Error::ResponseTooLarge(_)
            | Error::Panic(_)
            | Error::Config(_)
            | Error::Timeout(_) => None,
            Error::RuntimeApi(e) => std::error::Error::source(e),
        };
        while let Some(err) = cause {
            // A wrapper that shows its source's text (axum's body errors do) would say it twice.
            let text = err.to_string();
            if !out.ends_with(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            cause = err.source();
        }
        out
    }

    /// Relabels an error returned by `init`: `Handler.X` becomes `Init.X`, so init failures and
    /// invocation failures can be told apart in metrics. Names chosen by the user stay as they are.
    pub(crate) fn into_init_error(self) -> Self {
        match self {
            Error::Handler(mut e) if !e.named_by_user => {
                if let Some(name) = e.error_type.strip_prefix("Handler.") {
                    e.error_type = Cow::Owned(format!("Init.{name}"));
                }
                Error::Handler(e)
            }
            Error::Panic(mut e) => {
                e.during_init = true;
                Error::Panic(e)
            }
            other => other,
        }
    }
}

impl<E> From<E> for Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(err: E) -> Self {
        Error::Handler(HandlerError {
            error_type: Cow::Owned(format!("Handler.{}", short_type_name::<E>())),
            named_by_user: false,
            source: Box::new(err),
        })
    }
}

/// An error a handler, its `init` or a batch helper's per-item function may return.
///
/// Implemented for [`Error`] itself and for everything that converts into a boxed
/// `std::error::Error + Send + Sync`: any such error type, `Box<dyn Error + Send + Sync>`
/// (`lambda_runtime::Error`), `anyhow::Error`, `String` and `&'static str`. No conversion to
/// write, and no dependency on `anyhow` in lamina.
///
/// | what the handler returns | `errorType` | `errorMessage` |
/// |---|---|---|
/// | `lamina::Error` | its own | its own |
/// | an error type `E` | `Handler.<E's name>` | the error, then each `source()`, joined by `: ` |
/// | `anyhow::Error`, `Box<dyn Error + Send + Sync>` | `Handler.<root cause's name>` when the root cause is a type lamina knows (see below), else `Handler.Error` | the context chain, outermost first, joined by `: ` |
/// | `String`, `&'static str` | `Handler.Error` | the text |
///
/// A boxed error hides its type; lamina recovers the root cause's name for the standard
/// library's parse, UTF-8 and environment errors. To name any error yourself, return
/// [`Error::with_type`].
///
/// ```
/// use lamina::error::IntoError;
///
/// let err = "no stock".into_error();
/// assert_eq!((err.error_type(), err.message().as_str()), ("Handler.Error", "no stock"));
///
/// let parse = "x".parse::<u8>().unwrap_err();
/// let boxed: Box<dyn std::error::Error + Send + Sync> = parse.into();
/// assert_eq!(boxed.into_error().error_type(), "Handler.ParseIntError");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a lamina handler error: it does not convert into `lamina::Error`",
    label = "not convertible into `lamina::Error`",
    note = "return `lamina::Error` (from a message: `lamina::Error::new(\"OrderNotFound\", message)`), `anyhow::Error`, `Box<dyn std::error::Error + Send + Sync>`, `String`, or any type implementing `std::error::Error + Send + Sync + 'static`"
)]
pub trait IntoError {
    /// The [`Error`] lamina reports.
    fn into_error(self) -> Error;
}

impl IntoError for Error {
    fn into_error(self) -> Error {
        self
    }
}

#[diagnostic::do_not_recommend]
impl<E: Into<BoxError> + 'static> IntoError for E {
    fn into_error(self) -> Error {
        let opaque = hides_its_type::<E>();
        let source: BoxError = self.into();
        let name = if opaque {
            root_cause_name(&*source)
        } else {
            short_type_name::<E>()
        };
        Error::Handler(HandlerError {
            error_type: Cow::Owned(format!("Handler.{name}")),
            named_by_user: false,
            source,
        })
    }
}

/// Whether `E`'s own name says nothing about the error: a box, a string, or an error-reporting
/// type such as `anyhow::Error`, known by name so lamina need not depend on it.
fn hides_its_type<E: 'static>() -> bool {
    use std::any::TypeId;
    let id = TypeId::of::<E>();
    id == TypeId::of::<BoxError>()
        || id == TypeId::of::<String>()
        || id == TypeId::of::<&'static str>()
        || id == TypeId::of::<Cow<'static, str>>()
        || ["anyhow::Error", "eyre::Report"].contains(&std::any::type_name::<E>())
}

/// The short name of the innermost cause of `err`, if it is one of the types lamina can
/// recognise behind a `dyn Error`; else `Error`.
fn root_cause_name(err: &(dyn std::error::Error + 'static)) -> &'static str {
    let mut root = err;
    while let Some(next) = root.source() {
        root = next;
    }
    macro_rules! known {
        ($($ty:ty),* $(,)?) => {
            $(if root.is::<$ty>() { return short_type_name::<$ty>(); })*
        };
    }
    known!(
        std::env::VarError,
        std::num::ParseIntError,
        std::num::ParseFloatError,
        std::num::TryFromIntError,
        std::str::ParseBoolError,
        std::str::Utf8Error,
        std::string::FromUtf8Error,
        std::net::AddrParseError,
        std::time::SystemTimeError,
        EventError,
    );
    "Error"
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Handler(e) => fmt::Display::fmt(e, f),
            Error::InvalidEvent(e) => fmt::Display::fmt(e, f),
            Error::InvalidResponse(e) => fmt::Display::fmt(e, f),
            Error::ResponseTooLarge(e) => fmt::Display::fmt(e, f),
            Error::Panic(e) => fmt::Display::fmt(e, f),
            Error::Config(e) => fmt::Display::fmt(e, f),
            Error::RuntimeApi(e) => fmt::Display::fmt(e, f),
            Error::Timeout(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("error_type", &self.error_type())
            .field("message", &self.message())
            .finish()
    }
}

/// The most of an `errorMessage` the error document carries, in bytes: enough for any message a
/// person reads, and small enough that the document fits the Runtime API's limits wherever it
/// goes, base64 in a trailer included.
pub(crate) const MAX_ERROR_MESSAGE: usize = 16 * 1024;

/// The most of an `errorType` the error document carries, in bytes.
const MAX_ERROR_TYPE: usize = 1024;

/// `text` cut to at most `max` bytes on a character boundary, saying how much was cut.
fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max.saturating_sub(40);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{}… ({} bytes cut)",
        &text[..end],
        text.len() - end
    ))
}

/// Writes the error document Lambda shows the caller: `{"errorType":…,"errorMessage":…}`, the
/// message cut to [`MAX_ERROR_MESSAGE`] bytes (and the type to 1 KiB), so an error built from a
/// huge string is still reported rather than refused as too large.
pub(crate) fn write_diagnostic(error_type: &str, message: &str, out: &mut Vec<u8>) {
    let (error_type, message) = (
        bounded(error_type, MAX_ERROR_TYPE),
        bounded(message, MAX_ERROR_MESSAGE),
    );
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Diagnostic<'a> {
        error_type: &'a str,
        error_message: &'a str,
    }
    let diagnostic = Diagnostic {
        error_type: &error_type,
        error_message: &message,
    };
    serde_json::to_writer(out, &diagnostic).expect("two strings always serialize to a Vec");
}

/// The last path segment of a type's name, without generics: `VarError` for
/// `std::env::VarError`, `Wrapper` for `my_crate::Wrapper<u8>`.
pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// An error returned by the function's own code.
pub struct HandlerError {
    error_type: Cow<'static, str>,
    named_by_user: bool,
    source: BoxError,
}

impl HandlerError {
    /// The `errorType` reported to Lambda.
    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    /// The error the function returned.
    pub fn source(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }

    /// The error the function returned, for downcasting to the user's own type.
    pub fn into_source(self) -> BoxError {
        self.source
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

/// A plain message used as an error source by [`Error::new`].
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

/// The event payload did not decode into the handler's event type.
#[derive(Debug)]
pub struct EventError {
    target: &'static str,
    path: String,
    source: serde_json::Error,
}

impl EventError {
    pub(crate) fn new(target: &'static str, path: String, source: serde_json::Error) -> Self {
        EventError {
            target,
            path,
            source,
        }
    }

    /// Where in the JSON the decoding failed, as `records[0].body`; `.` is the document itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The short name of the type the event was decoded into.
    pub fn target(&self) -> &str {
        self.target
    }

    /// Whether the payload was not JSON at all (as opposed to JSON of the wrong shape).
    pub fn is_syntax(&self) -> bool {
        self.source.is_syntax() || self.source.is_eof()
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_syntax() {
            write!(
                f,
                "the event is not valid JSON ({}); send a JSON document",
                self.source
            )
        } else {
            write!(
                f,
                "the event does not match `{}` at `{}`: {}",
                self.target, self.path, self.source
            )
        }
    }
}

impl EventError {
    /// The line lamina logs for this error: the path, the kind of mismatch and the expected
    /// type, never a value from the event (the caller's error document keeps serde's message).
    pub(crate) fn without_values(&self) -> String {
        let (line, column) = (self.source.line(), self.source.column());
        if self.is_syntax() {
            format!(
                "the event is not valid JSON ({}, line {line}, column {column})",
                json_error_without_values(&self.source)
            )
        } else {
            format!(
                "the event does not match `{}` at `{}`: {} (line {line}, column {column})",
                self.target,
                self.path,
                json_error_without_values(&self.source)
            )
        }
    }
}

impl std::error::Error for EventError {}

/// `serde_json`'s message for `err` with every value it quotes from the payload taken out:
/// `invalid type: string "4111…", expected u32` becomes `invalid type: string, expected u32`.
///
/// `serde_json`'s own syntax messages quote nothing. Of the data errors, serde's standard shapes
/// are kept with their values cut out; a message of another shape, which a type's own
/// `Deserialize` impl wrote and may quote anything, is withheld.
pub(crate) fn json_error_without_values(err: &serde_json::Error) -> std::borrow::Cow<'static, str> {
    let full = err.to_string();
    let message = match full.rfind(" at line ") {
        Some(at) if err.line() > 0 => &full[..at],
        _ => &full[..],
    };
    if !err.is_data() {
        return message.to_owned().into();
    }
    // What serde writes: "invalid type: string \"x\", expected u32",
    // "unknown variant `x`, expected one of …", "unknown field `x`, expected …".
    let value_then_expected = [
        "invalid type: ",
        "invalid value: ",
        "unknown variant ",
        "unknown field ",
    ];
    for prefix in value_then_expected {
        let Some(rest) = message.strip_prefix(prefix) else {
            continue;
        };
        let Some(expected_at) = rest.rfind(", expected ") else {
            break;
        };
        // `string "x"` keeps `string`; `integer `5`` keeps `integer`; a variant or field name
        // is all value.
        let kind = rest[..expected_at]
            .split(['"', '`'])
            .next()
            .unwrap_or_default()
            .trim_end();
        let head = prefix.trim_end_matches([' ', ':']);
        let expected = &rest[expected_at + 2..];
        return if kind.is_empty() {
            format!("{head}, {expected}").into()
        } else {
            format!("{head}: {kind}, {expected}").into()
        };
    }
    // Names from the type, or counts, never values.
    let safe = [
        "missing field ",
        "duplicate field ",
        "invalid length ",
        "data did not match any variant",
    ];
    if safe.iter().any(|prefix| message.starts_with(prefix)) {
        return message.to_owned().into();
    }
    "the type's `Deserialize` impl refused it (its message is left out of the logs, as it may \
     quote the event)"
        .into()
}

/// The handler's response could not be encoded as JSON.
#[derive(Debug)]
pub struct ResponseError {
    target: &'static str,
    source: serde_json::Error,
}

impl ResponseError {
    pub(crate) fn new(target: &'static str, source: serde_json::Error) -> Self {
        ResponseError { target, source }
    }
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the response `{}` could not be encoded as JSON: {} (maps need string keys)",
            self.target, self.source
        )
    }
}

impl std::error::Error for ResponseError {}

/// The Runtime API refused the handler's response as too large.
#[derive(Debug)]
pub struct ResponseTooLarge {
    bytes: usize,
    cut_off: bool,
}

impl ResponseTooLarge {
    pub(crate) fn new(bytes: usize) -> Self {
        ResponseTooLarge {
            bytes,
            cut_off: false,
        }
    }

    /// A response body that was still growing past the limit when lamina stopped reading it.
    #[cfg(feature = "http")]
    pub(crate) fn cut_off(bytes: usize) -> Self {
        ResponseTooLarge {
            bytes,
            cut_off: true,
        }
    }

    /// The size of the refused response, in bytes: for a body lamina stopped reading at the
    /// limit, the bytes read until then.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl fmt::Display for ResponseTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cut_off {
            write!(
                f,
                "the response body reached {} bytes without ending",
                self.bytes
            )?;
        } else {
            write!(f, "the response of {} bytes", self.bytes)?;
        }
        f.write_str(
            " is over Lambda's payload limit (6 MB for a synchronous call); return less, or \
             store the data (in S3, say) and return where it is",
        )
    }
}

impl std::error::Error for ResponseTooLarge {}

/// The deadline guard cancelled a handler that was still running at its margin.
#[derive(Debug)]
pub struct TimeoutError {
    margin: Duration,
    ran: Duration,
}

impl TimeoutError {
    pub(crate) fn new(margin: Duration, ran: Duration) -> Self {
        TimeoutError { margin, ran }
    }

    /// The margin before the deadline (`LAMINA_DEADLINE_MARGIN_MS`).
    pub fn margin(&self) -> Duration {
        self.margin
    }

    /// How long the handler ran before it was cancelled.
    pub fn ran(&self) -> Duration {
        self.ran
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the handler was cancelled after {} ms, {} ms before the invocation's deadline \
             (LAMINA_DEADLINE_MARGIN_MS={}); make it faster, raise the function's timeout, or \
             lower the margin",
            self.ran.as_millis(),
            self.margin.as_millis(),
            self.margin.as_millis()
        )
    }
}

impl std::error::Error for TimeoutError {}

/// The handler or `init` panicked.
#[derive(Debug)]
pub struct PanicError {
    message: String,
    during_init: bool,
}

impl PanicError {
    pub(crate) fn new(message: String) -> Self {
        PanicError {
            message,
            during_init: false,
        }
    }

    /// The panic's message, with the source location when it was captured.
    pub fn panic_message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = if self.during_init { "init" } else { "handler" };
        write!(f, "{phase} panicked: {}", self.message)
    }
}

impl std::error::Error for PanicError {}

/// A variable Lambda sets is missing or malformed.
#[derive(Debug)]
pub struct ConfigError {
    variable: &'static str,
    problem: ConfigProblem,
}

#[derive(Debug)]
enum ConfigProblem {
    Missing,
    Malformed {
        value: String,
        expected: &'static str,
    },
}

impl ConfigError {
    pub(crate) fn missing(variable: &'static str) -> Self {
        ConfigError {
            variable,
            problem: ConfigProblem::Missing,
        }
    }

    pub(crate) fn malformed(variable: &'static str, value: &str, expected: &'static str) -> Self {
        ConfigError {
            variable,
            problem: ConfigProblem::Malformed {
                value: value.to_owned(),
                expected,
            },
        }
    }

    /// The environment variable at fault.
    pub fn variable(&self) -> &str {
        self.variable
    }

    /// Whether the variable was not set at all (rather than set to something unusable).
    pub fn is_missing(&self) -> bool {
        matches!(self.problem, ConfigProblem::Missing)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            ConfigProblem::Missing => write!(
                f,
                "`{}` is not set; Lambda sets it for every function, so an emulator must set it too",
                self.variable
            ),
            ConfigProblem::Malformed { value, expected } => write!(
                f,
                "`{}` is `{value}`, which is not {expected}; fix the value the environment gives",
                self.variable
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The Lambda Runtime API could not be reached, or answered in a way lamina cannot go on from.
#[derive(Debug)]
pub struct ApiError {
    kind: ApiErrorKind,
}

#[derive(Debug)]
pub(crate) enum ApiErrorKind {
    /// Connecting, writing or reading failed, and retrying on a fresh connection did not help.
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The API answered with a status the protocol says to stop on.
    Status {
        path: String,
        status: u16,
        body: String,
    },
    /// The API's answer was not HTTP lamina can read, or lacked what the protocol promises.
    Protocol { path: String, problem: String },
}

impl ApiError {
    pub(crate) fn new(kind: ApiErrorKind) -> Self {
        ApiError { kind }
    }

    /// The HTTP status the Runtime API answered with, when it answered at all.
    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            ApiErrorKind::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the Runtime API could not be reached or the connection failed.
    pub fn is_io(&self) -> bool {
        matches!(self.kind, ApiErrorKind::Io { .. })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ApiErrorKind::Io { path, .. } => {
                write!(f, "the {} request `{path}` failed", api_name(path))
            }
            ApiErrorKind::Status { path, status, body } => {
                write!(f, "the {} answered `{path}` with {status}", api_name(path))?;
                if *status >= 500 {
                    f.write_str(" (the API's state cannot be recovered; the process exits so Lambda starts a new one)")?;
                }
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            ApiErrorKind::Protocol { path, problem } => {
                write!(
                    f,
                    "the {}'s answer to `{path}` is unusable: {problem}",
                    api_name(path)
                )
            }
        }
    }
}

/// Which of Lambda's APIs serves `path`, for messages.
fn api_name(path: &str) -> &'static str {
    if path.starts_with("/2020-01-01/extension") {
        "Extensions API"
    } else if path.starts_with("/2022-07-01/telemetry") {
        "Telemetry API"
    } else if path.starts_with("/2020-08-15/logs") {
        "Logs API"
    } else {
        "Runtime API"
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ApiErrorKind::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_message_is_cut_on_a_character_boundary_and_says_so() {
        let mut out = Vec::new();
        write_diagnostic("Handler.Big", &"é".repeat(500_000), &mut out);
        let document: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let message = document["errorMessage"].as_str().unwrap();
        assert!(message.len() <= MAX_ERROR_MESSAGE, "{}", message.len());
        assert!(message.ends_with(" bytes cut)"), "{message}");
        let kept = message.split('…').next().unwrap().len();
        assert!(
            message.ends_with(&format!("({} bytes cut)", 1_000_000 - kept)),
            "{message}"
        );
        out.clear();
        write_diagnostic("Handler.Small", "short", &mut out);
        assert_eq!(
            out,
            br#"{"errorType":"Handler.Small","errorMessage":"short"}"#
        );
    }

    fn document(err: impl IntoError) -> (String, String) {
        let err = err.into_error();
        (err.error_type().to_owned(), err.message())
    }

    #[test]
    fn a_cause_whose_text_the_wrapper_already_shows_is_not_repeated() {
        #[derive(Debug)]
        struct Echoing(std::io::Error);
        impl fmt::Display for Echoing {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
        impl std::error::Error for Echoing {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = Error::with_type(
            "Handler.ResponseBody",
            Echoing(std::io::Error::other("the upstream reset")),
        );
        assert_eq!(err.message(), "the upstream reset");
    }

    #[test]
    fn strings_are_handler_errors_named_error() {
        assert_eq!(
            document("no stock"),
            ("Handler.Error".into(), "no stock".into())
        );
        assert_eq!(
            document(String::from("order 42 is gone")),
            ("Handler.Error".into(), "order 42 is gone".into())
        );
    }

    #[test]
    fn a_boxed_error_is_named_after_its_root_cause_when_lamina_knows_it() {
        let boxed: BoxError = "x".parse::<u8>().unwrap_err().into();
        assert_eq!(
            document(boxed),
            (
                "Handler.ParseIntError".into(),
                "invalid digit found in string".into()
            )
        );
        let boxed: BoxError = std::io::Error::other("disk on fire").into();
        assert_eq!(
            document(boxed),
            ("Handler.Error".into(), "disk on fire".into())
        );
    }

    #[test]
    fn an_anyhow_error_keeps_its_context_chain_and_its_root_causes_name() {
        use anyhow::Context as _;
        let err = std::env::var("LAMINA_TEST_SURELY_UNSET")
            .context("reading the table name")
            .context("building the client")
            .unwrap_err();
        assert_eq!(
            document(err),
            (
                "Handler.VarError".into(),
                "building the client: reading the table name: environment variable not found"
                    .into()
            )
        );
        assert_eq!(
            document(anyhow::anyhow!("plain {}", 7)),
            ("Handler.Error".into(), "plain 7".into())
        );
    }

    #[test]
    fn typed_errors_keep_their_own_name() {
        assert_eq!(
            document(std::env::VarError::NotPresent).0,
            "Handler.VarError"
        );
        assert_eq!(document(Error::new("Mine", "m")).0, "Mine");
        assert_eq!(
            document(std::env::VarError::NotPresent)
                .0
                .replace("Handler.", "Init."),
            Error::from(std::env::VarError::NotPresent)
                .into_init_error()
                .error_type()
        );
    }

    /// Decodes `json` as `T` and returns serde's message with its values cut out.
    fn without_values<T: serde::de::DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
        json_error_without_values(&serde_json::from_str::<T>(json).unwrap_err()).into_owned()
    }

    /// Issue 12, item 4: `Runtime.InvalidEvent` log lines quoted the event's values.
    #[test]
    fn event_values_never_reach_the_log_text() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Payment {
            card: u64,
            kind: Kind,
            #[serde(default)]
            items: [u8; 2],
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        enum Kind {
            Visa,
            Amex,
        }
        let cases = [
            (
                r#"{"card":"4111111111111111"}"#,
                "invalid type: string, expected u64",
            ),
            (r#"{"card":-4111}"#, "invalid value: integer, expected u64"),
            (
                r#"{"card":4111.5}"#,
                "invalid type: floating point, expected u64",
            ),
            (
                r#"{"card":1,"kind":"4111111111111111"}"#,
                "unknown variant, expected `Visa` or `Amex`",
            ),
            (r#"{"card":1}"#, "missing field `kind`"),
            (
                r#"{"card":1,"kind":"Visa","items":[4111]}"#,
                "invalid value: integer, expected u8",
            ),
            (r#"{"card":1,"card":2}"#, "duplicate field `card`"),
            (r#"{"card":"#, "EOF while parsing a value"),
        ];
        for (json, expected) in cases {
            let text = without_values::<Payment>(json);
            assert_eq!(text, expected, "{json}");
            assert!(!text.contains("4111"), "{text}");
        }
    }

    #[test]
    fn a_custom_deserialize_message_is_withheld_from_the_log_text() {
        #[derive(Debug)]
        struct Secretive;
        impl<'de> serde::Deserialize<'de> for Secretive {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Err(serde::de::Error::custom(format!("card {text} is blocked")))
            }
        }
        let text = without_values::<Secretive>(r#""4111111111111111""#);
        assert!(
            text.starts_with("the type's `Deserialize` impl refused it"),
            "{text}"
        );
        assert!(!text.contains("4111"));
    }

    #[test]
    fn an_event_errors_log_text_names_path_and_expected_type_only() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Order {
            qty: u32,
        }
        let Err(Error::InvalidEvent(err)) =
            crate::handler::decode::<Order>(br#"{"qty":"secret-4111"}"#)
        else {
            panic!("not an event error");
        };
        assert_eq!(
            err.without_values(),
            "the event does not match `Order` at `qty`: invalid type: string, expected u32 \
             (line 1, column 20)"
        );
        assert!(
            err.to_string().contains("secret-4111"),
            "the caller's document keeps it"
        );
    }

    #[derive(Debug)]
    struct OrderMissing;
    impl fmt::Display for OrderMissing {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("order 7 is missing")
        }
    }
    impl std::error::Error for OrderMissing {}

    #[derive(Debug)]
    struct Generic<T>(T);
    impl<T: fmt::Debug> fmt::Display for Generic<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "generic {:?}", self.0)
        }
    }
    impl<T: fmt::Debug> std::error::Error for Generic<T> {}

    #[test]
    fn user_errors_are_named_after_their_type_without_path_or_generics() {
        assert_eq!(
            Error::from(OrderMissing).error_type(),
            "Handler.OrderMissing"
        );
        assert_eq!(
            Error::from(Generic(vec![1u8])).error_type(),
            "Handler.Generic"
        );
        let var = std::env::var("LAMINA_SURELY_UNSET_VARIABLE").unwrap_err();
        assert_eq!(Error::from(var).error_type(), "Handler.VarError");
    }

    #[test]
    fn init_errors_are_relabelled_unless_named_by_the_user() {
        let derived = Error::from(OrderMissing).into_init_error();
        assert_eq!(derived.error_type(), "Init.OrderMissing");
        let chosen = Error::new("Custom", "x").into_init_error();
        assert_eq!(chosen.error_type(), "Custom");
        let panic = Error::Panic(PanicError::new("boom".into())).into_init_error();
        assert_eq!(panic.error_type(), "Runtime.InitPanic");
        assert_eq!(panic.message(), "init panicked: boom");
    }

    #[test]
    fn message_joins_the_cause_chain() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("loading the price list failed")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = Error::from(Outer(std::io::Error::other("connection reset")));
        assert_eq!(
            err.message(),
            "loading the price list failed: connection reset"
        );
        assert_eq!(err.to_string(), "loading the price list failed");
    }

    #[test]
    fn config_messages_say_what_to_do() {
        let missing = Error::Config(ConfigError::missing("AWS_LAMBDA_FUNCTION_NAME"));
        assert_eq!(missing.error_type(), "Runtime.InvalidConfig");
        assert_eq!(
            missing.message(),
            "`AWS_LAMBDA_FUNCTION_NAME` is not set; Lambda sets it for every function, so an emulator must set it too"
        );
        let bad = ConfigError::malformed(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "lots",
            "a whole number of megabytes",
        );
        assert_eq!(
            bad.to_string(),
            "`AWS_LAMBDA_FUNCTION_MEMORY_SIZE` is `lots`, which is not a whole number of megabytes; fix the value the environment gives"
        );
    }
}
