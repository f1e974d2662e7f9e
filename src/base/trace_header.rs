//! The X-Ray trace header: `Root=1-…;Parent=…;Sampled=1;Lineage=…`.
//!
//! Parsing is strict: a header lamina cannot read exactly is refused as a whole with a
//! [`HeaderError`], and the invocation runs untraced (a debug log says why) rather than
//! recording documents X-Ray would file under the wrong trace.

use std::fmt;
use std::str::FromStr;

use super::trace_id::{SegmentId, TraceId};

/// Longest header accepted. Lambda's are about 100 bytes; X-Ray allows 256 bytes of extra
/// fields.
const MAX_LEN: usize = 1024;

/// A parsed X-Ray trace header, as Lambda passes it in `Lambda-Runtime-Trace-Id` and as
/// `X-Amzn-Trace-Id` carries it between services.
///
/// `Display` writes it back in the canonical order (`Root`, `Parent`, `Sampled`, `Lineage`, then
/// any other fields as received), ready to forward.
///
/// ```
/// use lamina::xray::{Sampled, TraceHeader};
///
/// let header: TraceHeader =
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".parse()?;
/// assert_eq!(header.root().to_string(), "1-5759e988-bd862e3fe1be46a994272793");
/// assert_eq!(header.parent().unwrap().to_string(), "53995c3f42cd8ad8");
/// assert_eq!(header.sampled(), Some(Sampled::Yes));
///
/// // The header for an outgoing call names the caller's (sub)segment as the parent.
/// let outgoing = header.with_parent("0123456789abcdef".parse()?);
/// assert_eq!(
///     outgoing.to_string(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0123456789abcdef;Sampled=1"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TraceHeader {
    root: TraceId,
    parent: Option<SegmentId>,
    sampled: Option<Sampled>,
    lineage: Option<String>,
    others: Vec<(String, String)>,
}

/// The sampling decision a header carries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sampled {
    /// `Sampled=1`: record this request.
    Yes,
    /// `Sampled=0`: do not record it.
    No,
    /// `Sampled=?`: the caller asks the receiver to decide.
    Requested,
}

/// Why a trace header was refused.
///
/// New variants may be added in minor releases, so a `match` needs a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The header is empty or blank.
    Empty,
    /// The header is longer than lamina reads (1024 bytes).
    TooLong(usize),
    /// There is no `Root` field.
    MissingRoot,
    /// `Root` is not a trace id (`1-<8 hex>-<24 hex>`).
    InvalidRoot(String),
    /// `Parent` is not a segment id (16 hex digits).
    InvalidParent(String),
    /// `Sampled` is not `0`, `1` or `?`.
    InvalidSampled(String),
    /// `Lineage` is empty or holds characters other than visible ASCII.
    InvalidLineage(String),
    /// A field appears twice.
    Duplicate(String),
    /// A `;`-separated part is not `Key=Value` with a non-empty key of letters, digits, `_` or
    /// `-` and a value of visible ASCII.
    MalformedField(String),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Empty => f.write_str("the X-Ray trace header is empty"),
            HeaderError::TooLong(len) => {
                write!(
                    f,
                    "the X-Ray trace header is {len} bytes long; at most {MAX_LEN} are read"
                )
            }
            HeaderError::MissingRoot => f.write_str("the X-Ray trace header has no `Root` field"),
            HeaderError::InvalidRoot(v) => write!(
                f,
                "the X-Ray trace header's `Root` is `{v}`, not `1-` then 8 and 24 hex digits"
            ),
            HeaderError::InvalidParent(v) => write!(
                f,
                "the X-Ray trace header's `Parent` is `{v}`, not 16 hex digits"
            ),
            HeaderError::InvalidSampled(v) => write!(
                f,
                "the X-Ray trace header's `Sampled` is `{v}`, not `0`, `1` or `?`"
            ),
            HeaderError::InvalidLineage(v) => write!(
                f,
                "the X-Ray trace header's `Lineage` is `{v}`, not a non-empty run of visible ASCII"
            ),
            HeaderError::Duplicate(key) => {
                write!(f, "the X-Ray trace header has `{key}` more than once")
            }
            HeaderError::MalformedField(part) => write!(
                f,
                "the X-Ray trace header has `{part}`, which is not a `Key=Value` field"
            ),
        }
    }
}

impl std::error::Error for HeaderError {}

impl TraceHeader {
    /// A header starting a new trace at this service: `root`, no parent, the given decision.
    pub fn new(root: TraceId, sampled: Option<Sampled>) -> Self {
        TraceHeader {
            root,
            parent: None,
            sampled,
            lineage: None,
            others: Vec::new(),
        }
    }

    /// Parses a header; the same as `str::parse`.
    ///
    /// # Errors
    /// A [`HeaderError`] naming the first thing that is not as X-Ray documents it.
    pub fn parse(header: &str) -> Result<Self, HeaderError> {
        header.parse()
    }

    /// The trace this request belongs to (`Root`).
    pub fn root(&self) -> TraceId {
        self.root
    }

    /// The segment that made this request (`Parent`); in Lambda, the function's segment.
    pub fn parent(&self) -> Option<SegmentId> {
        self.parent
    }

    /// The sampling decision (`Sampled`), when the header carries one.
    pub fn sampled(&self) -> Option<Sampled> {
        self.sampled
    }

    /// Whether the request is to be recorded: `Sampled=1`.
    pub fn is_sampled(&self) -> bool {
        self.sampled == Some(Sampled::Yes)
    }

    /// Lambda's recursion-detection field (`Lineage`), passed on unchanged.
    pub fn lineage(&self) -> Option<&str> {
        self.lineage.as_deref()
    }

    /// Fields other than the four above, in the order received.
    pub fn other_fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.others.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The same header with `parent` as `Parent`: what to send with an outgoing call made from
    /// the (sub)segment `parent`.
    #[must_use]
    pub fn with_parent(&self, parent: SegmentId) -> Self {
        TraceHeader {
            parent: Some(parent),
            ..self.clone()
        }
    }
}

impl FromStr for TraceHeader {
    type Err = HeaderError;

    fn from_str(header: &str) -> Result<Self, HeaderError> {
        if header.len() > MAX_LEN {
            return Err(HeaderError::TooLong(header.len()));
        }
        if let Some(header) = lambda_shaped(header) {
            return Ok(header);
        }
        parse_fields(header)
    }
}

/// The header Lambda sends, `Root=<id>;Parent=<id>;Sampled=<0|1|?>` with an optional
/// `;Lineage=<value>`, read in one pass without splitting; `None` for anything else, which
/// [`parse_fields`] then reads (or refuses) in full. Where this gives a header, `parse_fields`
/// gives the same one.
fn lambda_shaped(header: &str) -> Option<TraceHeader> {
    let rest = header.strip_prefix("Root=")?;
    let root = rest.get(..35)?.parse().ok()?;
    let rest = rest.get(35..)?.strip_prefix(";Parent=")?;
    let parent = rest.get(..16)?.parse().ok()?;
    let rest = rest.get(16..)?.strip_prefix(";Sampled=")?;
    let sampled = match rest.as_bytes().first()? {
        b'1' => Sampled::Yes,
        b'0' => Sampled::No,
        b'?' => Sampled::Requested,
        _ => return None,
    };
    let rest = &rest[1..];
    let lineage = if rest.is_empty() {
        None
    } else {
        let value = rest.strip_prefix(";Lineage=")?;
        let plain = |b: &u8| b.is_ascii_graphic() && *b != b'=' && *b != b';';
        if value.is_empty() || !value.as_bytes().iter().all(plain) {
            return None;
        }
        Some(value.to_owned())
    };
    Some(TraceHeader {
        root,
        parent: Some(parent),
        sampled: Some(sampled),
        lineage,
        others: Vec::new(),
    })
}

/// The general parse: any order, optional fields, whitespace around parts, other fields.
fn parse_fields(header: &str) -> Result<TraceHeader, HeaderError> {
    let header = trim(header);
    if header.is_empty() {
        return Err(HeaderError::Empty);
    }
    let mut root = None;
    let mut parent = None;
    let mut sampled = None;
    let mut lineage = None;
    let mut others: Vec<(String, String)> = Vec::new();
    // One trailing `;` is tolerated (`Root=…;Sampled=1;`); an empty part elsewhere is not.
    let body = header.strip_suffix(';').unwrap_or(header);
    // Split by bytes: Lambda sends this header with every invocation, and `str::split` and
    // Unicode trimming cost more than the rest of the parse.
    let mut rest = Some(body);
    while let Some(remaining) = rest {
        let part = match remaining.bytes().position(|b| b == b';') {
            Some(at) => {
                rest = Some(&remaining[at + 1..]);
                &remaining[..at]
            }
            None => {
                rest = None;
                remaining
            }
        };
        let part = trim(part);
        let malformed = || HeaderError::MalformedField(part.to_owned());
        let bytes = part.as_bytes();
        let eq = bytes
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(malformed)?;
        let (key, value) = (&part[..eq], &part[eq + 1..]);
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            || value.is_empty()
            || !value.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(malformed());
        }
        fn set<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), HeaderError> {
            match slot.replace(value) {
                Some(_) => Err(HeaderError::Duplicate(key.to_owned())),
                None => Ok(()),
            }
        }
        match key {
            "Root" => {
                let id = value
                    .parse()
                    .map_err(|_| HeaderError::InvalidRoot(value.to_owned()))?;
                set(&mut root, key, id)?;
            }
            "Parent" => {
                let id = value
                    .parse()
                    .map_err(|_| HeaderError::InvalidParent(value.to_owned()))?;
                set(&mut parent, key, id)?;
            }
            "Sampled" => {
                let decision = match value {
                    "1" => Sampled::Yes,
                    "0" => Sampled::No,
                    "?" => Sampled::Requested,
                    _ => return Err(HeaderError::InvalidSampled(value.to_owned())),
                };
                set(&mut sampled, key, decision)?;
            }
            "Lineage" => {
                if value.contains('=') {
                    return Err(HeaderError::InvalidLineage(value.to_owned()));
                }
                set(&mut lineage, key, value.to_owned())?;
            }
            _ => {
                if others.iter().any(|(k, _)| k == key) {
                    return Err(HeaderError::Duplicate(key.to_owned()));
                }
                others.push((key.to_owned(), value.to_owned()));
            }
        }
    }
    Ok(TraceHeader {
        root: root.ok_or(HeaderError::MissingRoot)?,
        parent,
        sampled,
        lineage,
        others,
    })
}

/// `str::trim`, without its Unicode tables when both ends are visible ASCII (every header Lambda
/// sends).
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Whether the strict parser could read `raw` as sampled. `false` is certain, so an unsampled
/// header (what Lambda sends with nearly every invocation) is never parsed unless someone asks
/// for it; `true` only means "parse it to know".
///
/// Lambda's own headers are `Root=<35>;Parent=<16>;Sampled=<0|1>…`: the decision is read at that
/// offset without a scan. A `;Sampled=0` field there settles it whatever follows, since a
/// second `Sampled` is an error and an error is not sampled.
pub(crate) fn may_be_sampled(raw: &str) -> bool {
    const AT: usize = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8".len();
    const FIELD: &[u8] = b";Sampled=";
    let bytes = raw.as_bytes();
    if let Some(field) = bytes.get(AT..AT + FIELD.len() + 1) {
        let ends_there = matches!(bytes.get(AT + FIELD.len() + 1), None | Some(b';'));
        if field.starts_with(FIELD) && ends_there {
            return field[FIELD.len()] == b'1';
        }
    }
    raw.contains("Sampled=1")
}

impl fmt::Display for TraceHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root={}", self.root)?;
        if let Some(parent) = self.parent {
            write!(f, ";Parent={parent}")?;
        }
        match self.sampled {
            Some(Sampled::Yes) => f.write_str(";Sampled=1")?,
            Some(Sampled::No) => f.write_str(";Sampled=0")?,
            Some(Sampled::Requested) => f.write_str(";Sampled=?")?,
            None => {}
        }
        if let Some(lineage) = &self.lineage {
            write!(f, ";Lineage={lineage}")?;
        }
        for (key, value) in &self.others {
            write!(f, ";{key}={value}")?;
        }
        Ok(())
    }
}

/// The header of an invocation, from the raw `Lambda-Runtime-Trace-Id`; a malformed one is
/// ignored with a debug log.
pub(crate) fn from_lambda(raw: Option<&str>) -> Option<TraceHeader> {
    match raw?.parse() {
        Ok(header) => Some(header),
        Err(err) => {
            tracing::debug!("ignoring the invocation's trace header: {err}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LAMBDA: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0";

    #[test]
    fn reads_the_header_lambda_sends() {
        let h: TraceHeader = LAMBDA.parse().unwrap();
        assert_eq!(h.root().to_string(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(h.parent().unwrap().to_string(), "53995c3f42cd8ad8");
        assert_eq!(h.sampled(), Some(Sampled::Yes));
        assert!(h.is_sampled());
        assert_eq!(h.lineage(), Some("a87bd80c:0"));
        assert_eq!(h.to_string(), LAMBDA);
    }

    #[test]
    fn optional_fields_and_other_orders() {
        let h: TraceHeader = "Sampled=0;Root=1-5759e988-bd862e3fe1be46a994272793"
            .parse()
            .unwrap();
        assert_eq!(h.parent(), None);
        assert_eq!(h.sampled(), Some(Sampled::No));
        assert!(!h.is_sampled());
        assert_eq!(
            h.to_string(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"
        );
        let h: TraceHeader = "Root=1-5759e988-bd862e3fe1be46a994272793; Parent=53995c3f42cd8ad8; Sampled=?; Self=1-67891233-abcdef012345678912345678;"
            .parse()
            .unwrap();
        assert_eq!(h.sampled(), Some(Sampled::Requested));
        assert_eq!(
            h.other_fields().collect::<Vec<_>>(),
            [("Self", "1-67891233-abcdef012345678912345678")]
        );
        assert_eq!(
            h.to_string(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?;Self=1-67891233-abcdef012345678912345678"
        );
    }

    #[test]
    fn each_malformed_shape_is_refused_with_its_reason() {
        let root = "Root=1-5759e988-bd862e3fe1be46a994272793";
        let cases: Vec<(String, HeaderError)> = vec![
            ("".into(), HeaderError::Empty),
            ("  ".into(), HeaderError::Empty),
            (
                "Parent=53995c3f42cd8ad8;Sampled=1".into(),
                HeaderError::MissingRoot,
            ),
            (
                "Root=1-5759e988".into(),
                HeaderError::InvalidRoot("1-5759e988".into()),
            ),
            (
                "Root=2-5759e988-bd862e3fe1be46a994272793".into(),
                HeaderError::InvalidRoot("2-5759e988-bd862e3fe1be46a994272793".into()),
            ),
            (
                format!("{root};Parent=xyz"),
                HeaderError::InvalidParent("xyz".into()),
            ),
            (
                format!("{root};Parent=53995c3f42cd8ad8ff"),
                HeaderError::InvalidParent("53995c3f42cd8ad8ff".into()),
            ),
            (
                format!("{root};Sampled=yes"),
                HeaderError::InvalidSampled("yes".into()),
            ),
            (
                format!("{root};Sampled=1;Sampled=0"),
                HeaderError::Duplicate("Sampled".into()),
            ),
            (
                format!("{root};{root}"),
                HeaderError::Duplicate("Root".into()),
            ),
            (
                format!("{root};Foo=1;Foo=2"),
                HeaderError::Duplicate("Foo".into()),
            ),
            (
                format!("{root};Lineage=a=b"),
                HeaderError::InvalidLineage("a=b".into()),
            ),
            (
                format!("{root};;Sampled=1"),
                HeaderError::MalformedField("".into()),
            ),
            (
                format!("{root};Sampled"),
                HeaderError::MalformedField("Sampled".into()),
            ),
            (
                format!("{root};Sampled="),
                HeaderError::MalformedField("Sampled=".into()),
            ),
            (
                format!("{root};=1"),
                HeaderError::MalformedField("=1".into()),
            ),
            (
                format!("{root};Bad Key=1"),
                HeaderError::MalformedField("Bad Key=1".into()),
            ),
            (
                format!("{root};K=caf\u{e9}"),
                HeaderError::MalformedField("K=caf\u{e9}".into()),
            ),
            (
                format!("{root};K=a b"),
                HeaderError::MalformedField("K=a b".into()),
            ),
        ];
        let long = format!("{root};K={}", "x".repeat(1100));
        for (header, expected) in cases {
            assert_eq!(header.parse::<TraceHeader>(), Err(expected), "{header:?}");
        }
        assert_eq!(
            long.parse::<TraceHeader>(),
            Err(HeaderError::TooLong(long.len()))
        );
    }

    #[test]
    fn error_messages_name_the_field() {
        assert_eq!(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=2"
                .parse::<TraceHeader>()
                .unwrap_err()
                .to_string(),
            "the X-Ray trace header's `Sampled` is `2`, not `0`, `1` or `?`"
        );
    }

    #[test]
    fn a_malformed_invocation_header_is_ignored() {
        assert!(from_lambda(Some("Root=nope")).is_none());
        assert!(from_lambda(None).is_none());
        assert!(from_lambda(Some(LAMBDA)).is_some());
    }

    proptest! {
        #[test]
        fn formatting_then_parsing_is_the_identity(
            epoch in any::<u32>(),
            high in any::<u64>(),
            low in any::<u32>(),
            parent in proptest::option::of(1u64..),
            sampled in proptest::option::of(prop_oneof![Just(Sampled::Yes), Just(Sampled::No), Just(Sampled::Requested)]),
            lineage in proptest::option::of("[0-9a-f]{8}:[0-9]{1,2}"),
        ) {
            let root: TraceId = format!("1-{epoch:08x}-{high:016x}{low:08x}").parse().unwrap();
            let mut header = TraceHeader::new(root, sampled);
            if let Some(p) = parent {
                header = header.with_parent(format!("{p:016x}").parse().unwrap());
            }
            header.lineage = lineage;
            let text = header.to_string();
            prop_assert_eq!(text.parse::<TraceHeader>().unwrap(), header.clone());
            prop_assert_eq!(text.parse::<TraceHeader>().unwrap().to_string(), text);
        }

        #[test]
        fn the_lambda_shaped_fast_path_agrees_with_the_general_parse(
            root in "1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}|1-[0-9a-f]{7}-[0-9a-f]{24}|[0-9a-z-]{35}",
            parent in "[0-9a-fA-F]{16}|0{16}|[0-9a-f]{15}",
            sampled in "[01?2]|",
            tail in "(;Lineage=[0-9a-z:]{0,14}|;Lineage=a=b|;Lineage=a b|;|;Self=x| )?",
        ) {
            let header = format!("Root={root};Parent={parent};Sampled={sampled}{tail}");
            let fast = lambda_shaped(&header);
            let general = parse_fields(&header);
            if let Some(fast) = fast {
                prop_assert_eq!(Ok(fast), general);
            }
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,200}") {
            let _ = s.parse::<TraceHeader>();
        }
    }
}
