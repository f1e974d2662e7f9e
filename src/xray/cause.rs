//! The X-Ray error cause Lambda records on the function's segment when an invocation fails: the
//! `Lambda-Runtime-Function-XRay-Error-Cause` header of the `/error` call, as the AWS runtime
//! interface clients send it:
//!
//! ```json
//! {"working_directory":"/var/task","exceptions":[{"type":"OrderNotFound","message":"…"}],"paths":[]}
//! ```
//!
//! It is built from the error's type and message alone, the two strings that also cross the C
//! ABI in layer mode, and is written in ASCII (anything else as `\u` escapes) so it is a valid
//! header value whatever the message holds.

use std::sync::OnceLock;

/// The header's name.
pub(crate) const HEADER: &str = "Lambda-Runtime-Function-XRay-Error-Cause";

/// The most the header carries. The AWS clients allow up to 1 MiB; a header that size is a
/// burden on every proxy in between for a message nobody reads past its start.
pub(crate) const MAX_CAUSE: usize = 8 * 1024;

/// The cause for a failed invocation, or `None` when the invocation is not sampled (no or a
/// malformed trace header, or `Sampled` other than `1`).
pub(crate) fn for_invocation(
    trace_header: Option<&str>,
    error_type: &str,
    message: &str,
) -> Option<String> {
    let header = crate::base::trace_header::from_lambda(trace_header)?;
    header.is_sampled().then(|| document(error_type, message))
}

/// `{"working_directory":…,"exceptions":[{"type":…,"message":…}],"paths":[]}`, at most
/// [`MAX_CAUSE`] bytes: the type is cut to 256 bytes and the message to what is left, marked
/// with `...`.
pub(crate) fn document(error_type: &str, message: &str) -> String {
    let mut out = String::with_capacity(128 + message.len().min(MAX_CAUSE));
    out.push_str("{\"working_directory\":");
    push_ascii_json(&mut out, working_directory(), 1024);
    out.push_str(",\"exceptions\":[{\"type\":");
    push_ascii_json(&mut out, error_type, 256);
    out.push_str(",\"message\":");
    const TAIL: &str = "}],\"paths\":[]}";
    let budget = MAX_CAUSE.saturating_sub(out.len() + TAIL.len());
    push_ascii_json(&mut out, message, budget);
    out.push_str(TAIL);
    out
}

/// The process's working directory (`/var/task` under Lambda), read once.
pub(crate) fn working_directory() -> &'static str {
    static CWD: OnceLock<String> = OnceLock::new();
    CWD.get_or_init(|| {
        std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

/// Appends `s` as a JSON string of at most `max` bytes (quotes included), escaping everything
/// outside printable ASCII; a cut string ends in `...`.
fn push_ascii_json(out: &mut String, s: &str, max: usize) {
    use std::fmt::Write;
    let mut escaped = String::with_capacity(s.len().min(max) + 8);
    // Where each character's escape starts, to take whole ones back after a cut.
    let mut starts = Vec::new();
    let mut cut = false;
    let mut buf = [0u16; 2];
    for c in s.chars() {
        starts.push(escaped.len());
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            ' '..='~' => escaped.push(c),
            _ => {
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(escaped, "\\u{unit:04x}");
                }
            }
        }
        if escaped.len() + 2 > max {
            cut = true;
            break;
        }
    }
    if cut {
        while escaped.len() + 2 + 3 > max {
            match starts.pop() {
                Some(start) => escaped.truncate(start),
                None => break,
            }
        }
        escaped.push_str("...");
    }
    out.push('"');
    out.push_str(&escaped);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn the_document_has_the_shape_the_aws_clients_send() {
        let cause = for_invocation(Some(SAMPLED), "OrderNotFound", "order \"42\" is gone").unwrap();
        let v: serde_json::Value = serde_json::from_str(&cause).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "working_directory": working_directory(),
                "exceptions": [{"type": "OrderNotFound", "message": "order \"42\" is gone"}],
                "paths": []
            })
        );
    }

    #[test]
    fn only_sampled_invocations_get_one() {
        assert!(for_invocation(None, "T", "m").is_none());
        assert!(for_invocation(Some(&SAMPLED.replace("=1", "=0")), "T", "m").is_none());
        assert!(for_invocation(Some("Root=garbage;Sampled=1"), "T", "m").is_none());
    }

    #[test]
    fn it_is_ascii_and_bounded_whatever_the_message() {
        let message = "é\u{1F600}\r\n\u{7}".repeat(5000);
        let cause = document("Handler.Error", &message);
        assert!(cause.len() <= MAX_CAUSE, "{}", cause.len());
        assert!(cause.bytes().all(|b| (b' '..=b'~').contains(&b)), "{cause}");
        let v: serde_json::Value = serde_json::from_str(&cause).unwrap();
        let kept = v["exceptions"][0]["message"].as_str().unwrap();
        assert!(kept.ends_with("..."));
        assert!(message.starts_with(kept.trim_end_matches("...")));
        assert!(
            kept.len() > 1000,
            "most of the budget is used: {}",
            kept.len()
        );

        // A message that fits exactly is not marked.
        let short = document("T", "just right");
        assert!(short.contains("\"just right\""), "{short}");
        let huge_type = document(&"T".repeat(1000), "m");
        let v: serde_json::Value = serde_json::from_str(&huge_type).unwrap();
        assert!(v["exceptions"][0]["type"].as_str().unwrap().len() <= 256);
    }
}
