//! JSON string escaping for the documents lamina writes by hand: log lines, EMF metrics
//! documents, idempotency keys. Escapes what JSON requires and nothing more.

use std::fmt::Write;

/// Appends `text` as a JSON string, quotes included.
#[cfg(any(feature = "metrics", feature = "idempotency"))]
pub(crate) fn quoted_into(out: &mut String, text: &str) {
    out.push('"');
    escape_into(out, text);
    out.push('"');
}

/// Appends `text` as the inside of a JSON string.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut done = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[done..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        done = i + 1;
    }
    out.push_str(&text[done..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_through_a_json_parser() {
        let nasty = "quote \" backslash \\ newline \n tab \t cr \r nul \0 bell \u{7} esc \u{1b} del \u{7f} é 日本 🦀";
        let mut out = String::from("\"");
        escape_into(&mut out, nasty);
        out.push('"');
        assert_eq!(serde_json::from_str::<String>(&out).unwrap(), nasty);
        assert!(!out.contains('\n') && !out.contains('\0'), "{out}");
        assert!(out.contains("\\u0000") && out.contains("\\u001b"), "{out}");
    }
}
