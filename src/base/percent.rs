//! Percent-decoding as S3 keys and ALB query strings need it: `%XX` is a byte and `+` a space
//! (the `application/x-www-form-urlencoded` convention both use).
//!
//! Written here rather than taken from a crate because the two callers want different
//! failure modes: S3 keys are strict (a malformed key is an error with its position), query
//! strings are lenient the way browsers are (a stray `%` stays literal), and each is a dozen
//! lines.

use std::borrow::Cow;

/// Where a strict decode failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// A `%` at this byte offset is not followed by two hex digits.
    Escape(usize),
    /// The decoded bytes are not UTF-8; the first bad byte is at this offset of the output.
    Utf8(usize),
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn escape_at(bytes: &[u8], i: usize) -> Option<u8> {
    let hi = hex(*bytes.get(i + 1)?)?;
    let lo = hex(*bytes.get(i + 2)?)?;
    Some(hi << 4 | lo)
}

/// Decodes `%XX` and `+` into bytes; a malformed escape is an error.
pub(crate) fn decode_bytes(input: &str) -> Result<Cow<'_, [u8]>, Malformed> {
    let bytes = input.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(escape_at(bytes, i).ok_or(Malformed::Escape(i))?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(Cow::Owned(out))
}

/// Decodes `%XX` and `+` into a string; a malformed escape or a non-UTF-8 result is an error.
pub(crate) fn decode_str(input: &str) -> Result<Cow<'_, str>, Malformed> {
    match decode_bytes(input)? {
        Cow::Borrowed(_) => Ok(Cow::Borrowed(input)),
        Cow::Owned(bytes) => String::from_utf8(bytes)
            .map(Cow::Owned)
            .map_err(|e| Malformed::Utf8(e.utf8_error().valid_up_to())),
    }
}

/// Decodes `%XX` and `+` as a browser does: a `%` without two hex digits after it stays as it
/// is, and bytes that are not UTF-8 become U+FFFD.
pub(crate) fn decode_lossy(input: &str) -> Cow<'_, str> {
    let bytes = input.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], escape_at(bytes, i)) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Encodes `input` so that [`decode_str`] gives it back: bytes other than ASCII letters,
/// digits and `-._~/` become `%XX`, a space becomes `+`. This is how S3 encodes keys in events.
pub(crate) fn encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_decoding() {
        assert_eq!(decode_str("a+b%2Bc").unwrap(), "a b+c");
        assert_eq!(decode_str("caf%C3%A9").unwrap(), "café");
        assert!(matches!(decode_str("plain"), Ok(Cow::Borrowed("plain"))));
        assert_eq!(decode_str("100%"), Err(Malformed::Escape(3)));
        assert_eq!(decode_str("a%zz"), Err(Malformed::Escape(1)));
        assert_eq!(decode_str("a%4"), Err(Malformed::Escape(1)));
        assert_eq!(decode_str("ok%FF%FE"), Err(Malformed::Utf8(2)));
        assert_eq!(decode_bytes("%FF").unwrap().as_ref(), &[0xFF]);
    }

    #[test]
    fn lossy_decoding_keeps_stray_percents() {
        assert_eq!(decode_lossy("100%"), "100%");
        assert_eq!(decode_lossy("a%zz+b"), "a%zz b");
        assert_eq!(decode_lossy("%FFx"), "\u{FFFD}x");
        assert_eq!(decode_lossy("caf%c3%a9"), "café");
    }

    #[test]
    fn encode_is_the_inverse_of_decode() {
        for s in ["a b+c", "café/😀", "100%", "~a-b_c.d", ""] {
            assert_eq!(decode_str(&encode(s)).unwrap(), s);
        }
        assert_eq!(encode("a b+c"), "a+b%2Bc");
    }
}
