//! Differential tests: lamina's codec against `serde_json`, over generated JSON texts and values.
//!
//! The property for decoding: whenever the fast path yields a value, `serde_json` yields the same
//! value (compared by what `serde_json` writes for both, so `-0.0` and `0.0` differ). When the fast
//! path declines, lamina asks `serde_json`, so that side agrees by construction. The property for
//! encoding: the bytes, or the failure, are `serde_json`'s.
//!
//! Run with `--features serde_json/arbitrary_precision` too (CI does): the same properties must
//! hold when another crate in the build turns that feature on.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{from_slice_fast, to_writer};

// ---- shapes ----------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize)]
struct Flattened {
    id: Option<u64>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Untagged {
    Nothing(()),
    Small(i64),
    Wide(u128),
    Float(f64),
    Flag(bool),
    Text(String),
    List(Vec<Untagged>),
    Map(BTreeMap<String, Untagged>),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
enum Tagged {
    A { x: f64 },
    B { y: Vec<i128> },
    C(BTreeMap<String, Value>),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "body")]
enum Adjacent {
    A(u32),
    B(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct WithRaw {
    id: Option<Value>,
    body: Box<RawValue>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Numbers {
    wide: Option<u128>,
    signed: Option<i128>,
    float: Option<f64>,
    single: Option<f32>,
}

// ---- JSON texts ------------------------------------------------------------------------------

/// A number as JSON text, valid or not: long mantissas, big exponents, `-0`, leading zeros.
fn number_text() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop_oneof![
            Just("0".to_owned()),
            "[1-9][0-9]{0,45}",
            "0[0-9]{1,3}", // invalid: leading zero
        ],
        proptest::option::of("[0-9]{0,30}"), // `Some("")` is invalid: `1.`
        proptest::option::of(("[eE]", "[+-]?", "[0-9]{0,4}")),
    )
        .prop_map(|(negative, int, frac, exp)| {
            let mut text = String::new();
            if negative {
                text.push('-');
            }
            text.push_str(&int);
            if let Some(frac) = frac {
                text.push('.');
                text.push_str(&frac);
            }
            if let Some((e, sign, digits)) = exp {
                text.push_str(&e);
                text.push_str(&sign);
                text.push_str(&digits);
            }
            text.into_bytes()
        })
}

/// A string as JSON text: escapes, surrogate pairs, lone surrogates, raw control characters,
/// multi-byte UTF-8 and invalid UTF-8.
fn string_text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => "[a-zA-Z0-9 $:.]{0,8}".prop_map(String::into_bytes),
        2 => any::<char>().prop_filter("not a quote or backslash", |c| *c != '"' && *c != '\\')
            .prop_map(|c| c.to_string().into_bytes()),
        1 => prop::sample::select(vec![
            "\\n", "\\t", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\u00e9", "\\u0000",
            "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\ud800x", "\\uZZZZ", "\\x", "\\u12",
            "$serde_json::private::RawValue",
        ]).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::sample::select(vec![
            vec![0x01], vec![0x1f], vec![0x7f], vec![0xff], vec![0xc3], vec![0xe2, 0x82],
            vec![0xed, 0xa0, 0x80], vec![0xc0, 0x80], vec![0xf4, 0x90, 0x80, 0x80],
        ]),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|pieces| {
        let mut text = vec![b'"'];
        pieces.iter().for_each(|p| text.extend_from_slice(p));
        text.push(b'"');
        text
    })
}

/// An object key: a few names the typed shapes look for, integers for integer-keyed maps, or
/// any string.
fn key_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "\"type\"", "\"id\"", "\"x\"", "\"y\"", "\"body\"", "\"wide\"", "\"signed\"",
            "\"float\"", "\"single\"", "\"A\"", "\"B\"", "\"C\"", "\"1\"", "\"-5\"", "\"01\"",
            "\"4294967296\"", "\"1.5\"", "\"$serde_json::private::Number\"",
        ]).prop_map(|s| s.as_bytes().to_vec()),
        1 => string_text(),
    ]
}

fn leaf_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => number_text(),
        3 => string_text(),
        1 => prop::sample::select(vec!["null", "true", "false", "\"A\"", "\"B\"", "\"C\""])
            .prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::sample::select(vec!["nul", "tru", "NaN", "Infinity", "-", "+1", ".5", ""])
            .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

fn json_text() -> impl Strategy<Value = Vec<u8>> {
    let space = prop::sample::select(vec!["", "", " ", "\n\t", "\r "]);
    leaf_text().prop_recursive(6, 64, 6, move |inner| {
        let space = space.clone();
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..6), space.clone()).prop_map(|(items, sp)| {
                let mut text = vec![b'['];
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        text.push(b',');
                    }
                    text.extend_from_slice(sp.as_bytes());
                    text.extend_from_slice(item);
                }
                text.push(b']');
                text
            }),
            (prop::collection::vec((key_text(), inner), 0..6), space).prop_map(|(entries, sp)| {
                let mut text = vec![b'{'];
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        text.push(b',');
                    }
                    text.extend_from_slice(key);
                    text.extend_from_slice(sp.as_bytes());
                    text.push(b':');
                    text.extend_from_slice(value);
                }
                text.push(b'}');
                text
            }),
        ]
    })
}

// ---- the properties --------------------------------------------------------------------------

/// If the fast path decodes `text` as `T`, `serde_json` decodes it to the same value.
fn decodes_alike<T: DeserializeOwned + Serialize + Debug>(text: &[u8]) {
    let Some(fast) = from_slice_fast::<T>(text) else {
        return;
    };
    let reference = serde_json::from_slice::<T>(text).unwrap_or_else(|e| {
        panic!(
            "the fast path decoded {:?} as {fast:?}; serde_json refuses it: {e}",
            String::from_utf8_lossy(text)
        )
    });
    assert_eq!(
        serde_json::to_string(&fast).ok(),
        serde_json::to_string(&reference).ok(),
        "{} decoded differently from {:?}",
        std::any::type_name::<T>(),
        String::from_utf8_lossy(text)
    );
}

fn decodes_alike_everywhere(text: &[u8]) {
    decodes_alike::<Value>(text);
    decodes_alike::<Flattened>(text);
    decodes_alike::<Untagged>(text);
    decodes_alike::<Tagged>(text);
    decodes_alike::<Adjacent>(text);
    decodes_alike::<WithRaw>(text);
    decodes_alike::<Box<RawValue>>(text);
    decodes_alike::<Numbers>(text);
    decodes_alike::<u128>(text);
    decodes_alike::<i128>(text);
    decodes_alike::<u64>(text);
    decodes_alike::<i64>(text);
    decodes_alike::<f64>(text);
    decodes_alike::<f32>(text);
    decodes_alike::<String>(text);
    decodes_alike::<char>(text);
    decodes_alike::<Option<Vec<Value>>>(text);
    decodes_alike::<BTreeMap<u32, Value>>(text);
    decodes_alike::<BTreeMap<i64, Value>>(text);
    decodes_alike::<HashMap<bool, Value>>(text);
}

/// `to_writer` writes `serde_json`'s bytes, or fails where `serde_json` fails.
fn encodes_alike<T: Serialize + Debug + ?Sized>(value: &T) {
    let mut fast = Vec::new();
    let fast = to_writer(&mut fast, value).map(|()| fast);
    let reference = serde_json::to_vec(value);
    match (fast, reference) {
        (Ok(fast), Ok(reference)) => assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&reference),
            "{value:?}"
        ),
        (Err(fast), Err(reference)) => assert_eq!(fast.to_string(), reference.to_string()),
        (fast, reference) => panic!("{value:?}: lamina {fast:?}, serde_json {reference:?}"),
    }
}

fn edge_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            5e-324,
            1e21,
            1e-7,
            9007199254740993.0,
        ]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn generated_texts_decode_as_serde_json_decodes_them(text in json_text()) {
        decodes_alike_everywhere(&text);
    }

    #[test]
    fn values_decoded_from_generated_texts_encode_as_serde_json_encodes_them(text in json_text()) {
        if let Ok(value) = serde_json::from_slice::<Value>(&text) {
            encodes_alike(&value);
            encodes_alike(&Flattened { id: Some(1), rest: value.as_object().map(|o| {
                o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            }).unwrap_or_default() });
        }
        if let Ok(raw) = serde_json::from_slice::<Box<RawValue>>(&text) {
            encodes_alike(&raw);
            encodes_alike(&WithRaw { id: None, body: raw });
        }
        if let Ok(tagged) = serde_json::from_slice::<Tagged>(&text) {
            encodes_alike(&tagged);
        }
        if let Ok(untagged) = serde_json::from_slice::<Untagged>(&text) {
            encodes_alike(&untagged);
        }
    }

    #[test]
    fn floats_encode_as_serde_json_encodes_them(x in edge_f64(), y in any::<f32>()) {
        encodes_alike(&x);
        encodes_alike(&y);
        encodes_alike(&vec![x, -x]);
        encodes_alike(&Tagged::A { x });
        encodes_alike(&Untagged::Float(x));
        encodes_alike(&Numbers { wide: None, signed: None, float: Some(x), single: Some(y) });
        // Decoding what serde_json wrote must agree too.
        if let Ok(text) = serde_json::to_vec(&x) {
            decodes_alike::<f64>(&text);
            decodes_alike::<Value>(&text);
        }
    }

    #[test]
    fn wide_integers_encode_as_serde_json_encodes_them(a in any::<u128>(), b in any::<i128>()) {
        encodes_alike(&a);
        encodes_alike(&b);
        encodes_alike(&Numbers { wide: Some(a), signed: Some(b), float: None, single: None });
        encodes_alike(&Untagged::Wide(a));
        encodes_alike(&Tagged::B { y: vec![b, -1, 0] });
        let text = serde_json::to_vec(&(a, b)).unwrap();
        decodes_alike::<(u128, i128)>(&text);
        decodes_alike::<Value>(&text);
        decodes_alike::<Untagged>(&text);
    }

    #[test]
    fn strings_and_keys_encode_as_serde_json_encodes_them(
        s in any::<String>(),
        c in any::<char>(),
        k in any::<i64>(),
    ) {
        encodes_alike(&s);
        encodes_alike(&c);
        encodes_alike(&BTreeMap::from([(k, s.clone())]));
        encodes_alike(&BTreeMap::from([(s.clone(), c)]));
        encodes_alike(&HashMap::from([(c, k)]));
        encodes_alike(&HashMap::from([(k % 2 == 0, k)]));
        encodes_alike(&Adjacent::B(s.clone()));
        encodes_alike(&Adjacent::A(k as u32));
        let text = serde_json::to_vec(&s).unwrap();
        decodes_alike::<String>(&text);
        decodes_alike::<Value>(&text);
    }
}

#[test]
fn maps_with_keys_json_cannot_hold_fail_alike() {
    encodes_alike(&HashMap::from([(vec![1u8], 1)]));
    encodes_alike(&BTreeMap::from([((1, 2), 1)]));
    encodes_alike(&BTreeMap::from([(Some(1), 1)]));
    encodes_alike(&BTreeMap::from([((), 1)]));
}

#[test]
fn bytes_and_units_encode_alike() {
    encodes_alike(&());
    encodes_alike(&Some(()));
    encodes_alike(&((), 1, "x"));
    encodes_alike(&vec![0u8, 255]);
    encodes_alike(&std::ffi::CString::new("bytes").unwrap());
}

/// serde_json refuses `1e400` ("number out of range") and turns `1e-400` into `0.0`.
#[test]
fn out_of_range_numbers_decode_alike() {
    for text in [
        "1e400",
        "-1e400",
        "1e-400",
        "18446744073709551616",
        "-9223372036854775809",
        "340282366920938463463374607431768211456",
        "-0",
        "-0.0",
        "0e0",
        "1E+2",
        "123456789012345678901234567890.5",
        "0.1000000000000000055511151231257827021181583404541015625",
        "2.2250738585072011e-308",
        "2.4703282292062327e-324",
        "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791",
    ] {
        decodes_alike_everywhere(text.as_bytes());
        decodes_alike_everywhere(format!("[{text}]").as_bytes());
        decodes_alike_everywhere(
            format!("{{\"float\":{text},\"x\":{text},\"type\":\"A\"}}").as_bytes(),
        );
    }
}

#[test]
fn raw_values_inside_events_decode_alike() {
    let text = br#"{"id":1,"body":{"b": [1, 2.50, "x"]}}"#;
    decodes_alike_everywhere(text);
    let event: WithRaw = crate::handler::decode(text).unwrap_or_else(|e| panic!("{}", e.message()));
    assert_eq!(event.body.get(), r#"{"b": [1, 2.50, "x"]}"#);
}
