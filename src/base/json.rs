//! The JSON codec for events and responses.
//!
//! With the `simd-json` feature (on by default) payloads are parsed and written by `sonic-rs`,
//! which drives the same `serde` impls as `serde_json` with SIMD scanning. `serde_json` is the
//! reference: lamina never writes bytes `serde_json` would not write, never decodes an event to a
//! value `serde_json` would not decode, and every error, and its message, is `serde_json`'s.
//!
//! Where `sonic-rs` differs from `serde_json`, and what lamina does about each (the property
//! tests found all but the first):
//!
//! - `serde_json::value::RawValue` and, when any crate in the build turns on `serde_json`'s
//!   `arbitrary_precision` feature, every `serde_json::Number`, serialize as a struct with a
//!   reserved name (`$serde_json::private::…`) that `serde_json`'s writer recognises and
//!   `sonic-rs` writes as an ordinary one-key object. Every such write leaves that reserved
//!   name in the output, so the output is searched for it (memchr's SIMD search: a few
//!   thousand instructions for 100 KB) and, if it is there, written again by `serde_json`. A
//!   string of the user's that happens to contain the name costs one more write, nothing else.
//! - With `arbitrary_precision` on, `serde_json` keeps a number's digits as written (`1.10`,
//!   `123456789012345678901234567890`) where `sonic-rs` hands serde a rounded `f64`. That feature
//!   is detected once per process, and where it is on `serde_json` alone decodes and encodes.
//! - `sonic-rs` reads every negative zero (`-0`, `-0.0`, `-0e7`) as `0.0`; `serde_json` keeps the
//!   sign. A text that could hold one (`-0` followed by what may end a number, or by `.` and
//!   zeros) is read by `serde_json`. Dates and ids (`2026-01-05`, `…-0a3f…`) do not match, so a
//!   typical event pays only the SIMD search for `-0`.
//! - `serde_json` rounds a decimal with more than about 17 significant digits, or near the ends
//!   of `f64`'s range, to a neighbour of the nearest `f64` unless its `float_roundtrip` feature
//!   is on; `sonic-rs` always rounds to the nearest. The `simd-json` feature turns
//!   `float_roundtrip` on, so both read every number to the same, correctly rounded, `f64`.
//! - Skipping a value the target type does not read (an unknown field), `sonic-rs` takes any
//!   four bytes after `\u`; `serde_json` wants four hex digits. A text with a `\u` not followed
//!   by four hex digits is read by `serde_json`.
//! - Reading a `RawValue`, `sonic-rs` fails (it does not speak the protocol), and `serde_json`
//!   redoes the work: slower, never different.
//!
//! One difference is left, on purpose: `serde_json` refuses documents nested deeper than 127
//! arrays or objects, `sonic-rs` deeper than 254, and finding the depth would cost a pass over
//! every event. An event nested 128 to 254 levels deep decodes instead of failing.
//!
//! `src/base/json/differential.rs` holds the property tests that pin all of this against
//! `serde_json`.

use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(all(test, feature = "simd-json"))]
mod differential;

/// The start of the names `serde_json` reserves for its private serialization protocol.
#[cfg(feature = "simd-json")]
const SERDE_JSON_PRIVATE: &[u8] = b"\"$serde_json::private::";

/// Decodes `bytes`, or says nothing: the caller asks `serde_json` why.
pub(crate) fn from_slice_fast<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    #[cfg(feature = "simd-json")]
    if fast_codec_agrees() && !may_hold_negative_zero(bytes) && !may_hold_bad_escape(bytes) {
        return sonic_rs::from_slice(bytes).ok();
    }
    serde_json::from_slice(bytes).ok()
}

/// The searches the fast path makes, built once: building a finder costs more than running it
/// over a small event.
#[cfg(feature = "simd-json")]
struct Finders {
    private: memchr::memmem::Finder<'static>,
    escape: memchr::memmem::Finder<'static>,
    negative_zero: memchr::memmem::Finder<'static>,
}

#[cfg(feature = "simd-json")]
fn finders() -> &'static Finders {
    static FINDERS: std::sync::OnceLock<Finders> = std::sync::OnceLock::new();
    FINDERS.get_or_init(|| Finders {
        private: memchr::memmem::Finder::new(SERDE_JSON_PRIVATE),
        escape: memchr::memmem::Finder::new(b"\\u"),
        negative_zero: memchr::memmem::Finder::new(b"-0"),
    })
}

/// Whether `bytes` may hold a `\u` escape without four hex digits, which `sonic-rs` skips
/// without a look. False positives (`"C:\\users"`) only cost a `serde_json` parse.
#[cfg(feature = "simd-json")]
fn may_hold_bad_escape(bytes: &[u8]) -> bool {
    finders().escape.find_iter(bytes).any(|at| {
        bytes
            .get(at + 2..at + 6)
            .is_none_or(|hex| !hex.iter().all(u8::is_ascii_hexdigit))
    })
}

/// Whether `bytes` may hold a JSON number that is a negative zero, which `sonic-rs` reads as
/// `0.0`. False positives (a string holding `build-0`) only cost a `serde_json` parse.
#[cfg(feature = "simd-json")]
fn may_hold_negative_zero(bytes: &[u8]) -> bool {
    finders().negative_zero.find_iter(bytes).any(|at| {
        let mut rest = bytes[at + 2..].iter().copied();
        match rest.next() {
            // `-0.5` is not zero.
            Some(b'.') => !matches!(rest.find(|&b| b != b'0'), Some(b'1'..=b'9')),
            // What may follow a number's last digit (or its exponent).
            None | Some(b'e' | b'E' | b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') => true,
            // `-01` is not JSON, and `-0a3f` is part of an id in a string.
            Some(_) => false,
        }
    })
}

/// Encodes `value` onto `out`, exactly as `serde_json` would, with `serde_json`'s error if it
/// cannot be encoded.
pub(crate) fn to_writer<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), serde_json::Error> {
    #[cfg(feature = "simd-json")]
    if fast_codec_agrees() {
        let start = out.len();
        if sonic_rs::to_writer(&mut *out, value).is_ok()
            && finders().private.find(&out[start..]).is_none()
        {
            return Ok(());
        }
        out.truncate(start);
    }
    serde_json::to_writer(out, value)
}

/// Whether `sonic-rs` may be used at all: not when `serde_json`'s `arbitrary_precision` feature
/// is on in this build, which no `cfg` of lamina's can see. Asked once, then one relaxed load.
#[cfg(feature = "simd-json")]
fn fast_codec_agrees() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    const UNKNOWN: u8 = 0;
    const AGREES: u8 = 1;
    const DIFFERS: u8 = 2;
    static VERDICT: AtomicU8 = AtomicU8::new(UNKNOWN);
    match VERDICT.load(Ordering::Relaxed) {
        AGREES => true,
        DIFFERS => false,
        _ => {
            let agrees = !serde_json_keeps_number_text();
            VERDICT.store(if agrees { AGREES } else { DIFFERS }, Ordering::Relaxed);
            agrees
        }
    }
}

/// `arbitrary_precision` keeps a number's text: `1.10` stays `1.10` instead of becoming `1.1`.
#[cfg(feature = "simd-json")]
fn serde_json_keeps_number_text() -> bool {
    serde_json::from_str::<serde_json::Number>("1.10").is_ok_and(|n| n.to_string() == "1.10")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The fast codec must write byte for byte what `serde_json` writes.
    #[test]
    fn output_matches_serde_json() {
        let values = [
            json!(null),
            json!([true, false, 0, -1, u64::MAX, i64::MIN]),
            json!([
                0.1,
                1.0,
                -2.5e-8,
                1e100,
                123456789.125,
                f64::MAX,
                f64::MIN_POSITIVE
            ]),
            json!(
                "quote \" backslash \\ slash / newline \n tab \t nul \u{0} bell \u{7} del \u{7f}"
            ),
            json!("unicode é 中 😀 \u{2028} \u{2029}"),
            json!({"nested": {"a": [1, {"b": "c"}], "empty": {}, "list": []}}),
        ];
        for value in values {
            let mut fast = Vec::new();
            to_writer(&mut fast, &value).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                serde_json::to_string(&value).unwrap(),
                "{value:?}"
            );
        }
    }

    /// Issue 12, item 1: a handler returning `Box<RawValue>` holding `{"a":1}` answered
    /// `{"$serde_json::private::RawValue":"{\"a\":1}"}`.
    #[test]
    fn raw_value_response_is_written_as_serde_json_writes_it() {
        let raw = serde_json::value::RawValue::from_string(r#"{"a":1}"#.to_owned()).unwrap();
        let mut out = Vec::new();
        to_writer(&mut out, &raw).unwrap();
        assert_eq!(out, br#"{"a":1}"#);

        #[derive(Serialize)]
        struct Envelope<'a> {
            id: u32,
            body: &'a serde_json::value::RawValue,
        }
        let mut out = Vec::new();
        to_writer(&mut out, &Envelope { id: 7, body: &raw }).unwrap();
        assert_eq!(out, br#"{"id":7,"body":{"a":1}}"#);
    }

    /// A user's string that spells the reserved name is written unchanged.
    #[test]
    fn a_string_holding_the_reserved_name_is_kept() {
        let value = json!({"$serde_json::private::RawValue": "not raw"});
        let mut out = Vec::new();
        to_writer(&mut out, &value).unwrap();
        assert_eq!(out, serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn input_agrees_with_serde_json() {
        let good = [
            r#"{"a":[1,2.5,"x",null,true],"b":{"c":"\u00e9\ud83d\ude00"}}"#,
            " [ 1 , 2 ] ",
            r#""esc \" \\ \/ \b \f \n \r \t""#,
        ];
        for text in good {
            let fast: Value = from_slice_fast(text.as_bytes()).expect(text);
            let reference: Value = serde_json::from_slice(text.as_bytes()).unwrap();
            assert_eq!(fast, reference, "{text}");
        }
        for bad in [
            "[1,2",
            "{\"a\":1} trailing",
            "[1,]",
            "nul",
            "\"\u{1}\"",
            "{\"a\" 1}",
            "",
        ] {
            assert!(
                from_slice_fast::<Value>(bad.as_bytes()).is_none(),
                "{bad:?}"
            );
            assert!(
                serde_json::from_slice::<Value>(bad.as_bytes()).is_err(),
                "{bad:?}"
            );
        }
    }
}
