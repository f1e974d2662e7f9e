//! The request URI from an event's path and query: which part of the path the routes see, and
//! escaping that neither decodes nor encodes anything twice.
//!
//! Sources disagree on encoding. As the client sent them: a REST API's `path`, a Function URL's
//! `rawPath`, ALB's `path` and query, an HTTP API's `rawQueryString`. Decoded: an HTTP API's
//! `rawPath` (despite its name; API Gateway decodes it twice, so a client's `%252F` arrives as
//! `/`) and payload 1.0 `path`, a REST API's query values. (From requests sent through each
//! source in 2026; VPC Lattice's path is taken as sent, unverified.) The URI must hold each
//! exactly once encoded, so that axum's `Path` and `Query` extractors decode them exactly once,
//! into what the source routed on. Three escapes do that: [`escape_raw`] for text that may
//! already hold `%XX` escapes (kept as they are; only what a URI cannot hold is escaped),
//! [`escape_decoded_path`] for a decoded path (a `%` escaped too), and [`escape_component`] for
//! a decoded value (everything but unreserved characters escaped).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Bytes that may stand as they are in a path or query: RFC 3986 unreserved, sub-delims, `:`,
/// `@` and `/`, plus `?` (legal in a query; [`escape_raw`] escapes it in a path).
fn allowed_raw(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
                | b'?'
        )
}

fn is_hex(b: Option<&u8>) -> bool {
    b.is_some_and(u8::is_ascii_hexdigit)
}

fn push_escaped(out: &mut String, b: u8) {
    let _ = write!(out, "%{b:02X}");
}

/// Where the text goes: a path (where `?` would start the query) or a query.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    Path,
    Query,
}

/// `text` with what a URI cannot hold escaped: spaces, non-ASCII, `"<>\^`{|}`, `#`, a `%`
/// that does not start an escape, and `?` in a path. Valid `%XX` escapes stay as they are.
pub(super) fn escape_raw(text: &str, part: Part) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let keep = |i: usize| {
        let b = bytes[i];
        (allowed_raw(b) && !(b == b'?' && part == Part::Path))
            || (b == b'%' && is_hex(bytes.get(i + 1)) && is_hex(bytes.get(i + 2)))
    };
    if (0..bytes.len()).all(keep) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for (i, &b) in bytes.iter().enumerate() {
        if keep(i) {
            out.push(b as char);
        } else {
            push_escaped(&mut out, b);
        }
    }
    Cow::Owned(out)
}

/// A decoded path made a URI path: as [`escape_raw`], but every `%` is the path's own and is
/// escaped, so that decoding the URI gives this path back and nothing more.
pub(super) fn escape_decoded_path(text: &str) -> Cow<'_, str> {
    let keep = |b: u8| allowed_raw(b) && b != b'?';
    if text.bytes().all(keep) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for b in text.bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            push_escaped(&mut out, b);
        }
    }
    Cow::Owned(out)
}

/// A decoded value made safe in a path segment or query component: everything but RFC 3986
/// unreserved characters escaped (a space as `%20`), and `/` too unless `keep_slash`.
pub(super) fn escape_component(out: &mut String, text: &str, keep_slash: bool) {
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else if b == b'/' && keep_slash {
            out.push('/');
        } else {
            push_escaped(out, b);
        }
    }
}

/// A query string from decoded pairs (REST API query parameters).
pub(super) fn query_from_decoded<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        escape_component(&mut out, key, false);
        out.push('=');
        escape_component(&mut out, value, false);
    }
    out
}

/// A query string from pairs as the client sent them (ALB), kept as they are but for what a
/// URI cannot hold.
pub(super) fn query_from_raw<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&escape_raw(key, Part::Query));
        if !value.is_empty() {
            out.push('=');
            out.push_str(&escape_raw(value, Part::Query));
        }
    }
    out
}

/// The path as the API declares its routes, from the path the client called.
///
/// `route` is the API's route template (`/orders/{id}`, `/files/{proxy+}`); the client's path
/// ends with the route's segments, after whatever stage or custom-domain base path came
/// first. A template with a greedy `{name+}` last takes as many segments as that parameter's
/// value has. Without a template (a `$default` route, ALB, Lattice), or when the path does not
/// end as the template says, only a leading `/{stage}` is taken off (never `$default`).
pub(super) fn api_path<'a>(
    client_path: &'a str,
    route: Option<&str>,
    greedy_value: impl Fn(&str) -> Option<usize>,
    stage: Option<&str>,
) -> &'a str {
    if let Some(path) = route.and_then(|route| after_prefix(client_path, route, greedy_value)) {
        return path;
    }
    match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => {
            let rest = client_path
                .strip_prefix('/')
                .and_then(|p| p.strip_prefix(stage));
            match rest {
                Some("") => "/",
                Some(rest) if rest.starts_with('/') => rest,
                _ => client_path,
            }
        }
        _ => client_path,
    }
}

/// The tail of `path` that `route` describes, if `path` ends that way.
fn after_prefix<'a>(
    path: &'a str,
    route: &str,
    greedy_value: impl Fn(&str) -> Option<usize>,
) -> Option<&'a str> {
    let route = route.trim_end_matches('/');
    if route.is_empty() {
        return Some("/");
    }
    let inner = path.strip_prefix('/')?;
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    let segments: Vec<&str> = inner.split('/').collect();
    let template: Vec<&str> = route.strip_prefix('/')?.split('/').collect();
    let mut wanted = template.len();
    let greedy = template
        .last()
        .and_then(|last| last.strip_prefix('{')?.strip_suffix("+}"));
    if let Some(name) = greedy {
        wanted = wanted - 1 + greedy_value(name)?;
    }
    let skip = segments.len().checked_sub(wanted)?;
    let fits = template.iter().zip(&segments[skip..]).all(|(t, s)| {
        (t.starts_with('{') && t.ends_with('}') && !s.is_empty())
            || t == s
            || crate::base::percent::decode_lossy(s) == *t
    });
    if !fits {
        return None;
    }
    // The offset of segment `skip` in `path`: one `/` before each segment.
    let start = segments[..skip].iter().map(|s| s.len() + 1).sum::<usize>();
    Some(&path[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<usize> {
        None
    }

    #[test]
    fn raw_escaping_keeps_escapes_and_escapes_the_rest() {
        assert_eq!(
            escape_raw("/a%20b/c d/é", Part::Path),
            "/a%20b/c%20d/%C3%A9"
        );
        assert_eq!(escape_raw("/100%/x?y#z", Part::Path), "/100%25/x%3Fy%23z");
        assert_eq!(escape_raw("a=1&b=?&c={}", Part::Query), "a=1&b=?&c=%7B%7D");
        assert!(matches!(
            escape_raw("/orders/42", Part::Path),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn decoded_values_are_escaped_once() {
        assert_eq!(
            query_from_decoded([("q", "a+b & 100%"), ("é", "x/y")].into_iter()),
            "q=a%2Bb%20%26%20100%25&%C3%A9=x%2Fy"
        );
        let mut out = String::new();
        escape_component(&mut out, "items/blue hat", true);
        assert_eq!(out, "items/blue%20hat");
    }

    #[test]
    fn raw_pairs_keep_their_encoding() {
        assert_eq!(
            query_from_raw([("q", "100%25%20sure"), ("flag", ""), ("x", "a b")].into_iter()),
            "q=100%25%20sure&flag&x=a%20b"
        );
    }

    #[test]
    fn routes_take_the_tail_whatever_comes_before() {
        let route = Some("/orders/{id}");
        assert_eq!(
            api_path("/prod/orders/42", route, none, Some("prod")),
            "/orders/42"
        );
        assert_eq!(api_path("/shop/orders/42", route, none, None), "/orders/42");
        assert_eq!(
            api_path("/orders/42", route, none, Some("prod")),
            "/orders/42"
        );
        assert_eq!(api_path("/orders/42/", route, none, None), "/orders/42/");
        assert_eq!(api_path("/", Some("/"), none, Some("prod")), "/");
        assert_eq!(api_path("/prod", Some("/"), none, Some("prod")), "/");
    }

    #[test]
    fn greedy_routes_count_the_parameter_segments() {
        let two = |name: &str| (name == "proxy").then_some(2);
        assert_eq!(
            api_path(
                "/prod/items/blue%20hat",
                Some("/{proxy+}"),
                two,
                Some("prod")
            ),
            "/items/blue%20hat"
        );
        assert_eq!(
            api_path("/shop/files/a/b", Some("/files/{proxy+}"), two, None),
            "/files/a/b"
        );
    }

    #[test]
    fn without_a_fitting_route_only_the_stage_goes() {
        assert_eq!(api_path("/prod/a/b", None, none, Some("prod")), "/a/b");
        assert_eq!(api_path("/prod", None, none, Some("prod")), "/");
        assert_eq!(
            api_path("/production/a", None, none, Some("prod")),
            "/production/a"
        );
        assert_eq!(api_path("/a/b", None, none, Some("$default")), "/a/b");
        // The path does not end as the route says: the stage rule applies.
        assert_eq!(
            api_path("/prod/x", Some("/orders/{id}"), none, Some("prod")),
            "/x"
        );
        assert_eq!(
            api_path("/prod/a", Some("/{proxy+}"), none, Some("prod")),
            "/a"
        );
    }
}
