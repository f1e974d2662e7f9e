//! Idempotency keys: the SHA-256 of a value's canonical JSON.
//!
//! Canonical so the same value always gives the same key: object members sorted by name (a
//! `HashMap`'s order differs between processes), no whitespace, numbers and strings as serde_json
//! writes them.

use serde::Serialize;
use serde_json::Value;

use super::sha256;
use crate::base::json_escape::quoted_into as quoted_json_into;

/// The hex SHA-256 of `value`'s canonical JSON.
pub(crate) fn hash<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    Ok(sha256::hex_digest(canonical.as_bytes()))
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quoted_json_into(out, name);
                out.push(':');
                write_canonical(member, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(text) => quoted_json_into(out, text),
        other => out.push_str(&other.to_string()),
    }
}

/// A token for one attempt, 32 hex digits: 64 bits drawn once per process (a SipHash, under
/// keys std seeds from the kernel's randomness, of the clock and the process id), then a counter
/// of this process's attempts. Not a secret; it only has to differ from every other attempt's,
/// in this process (the counter) and in any other (the random half).
pub(crate) fn attempt_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU64, Ordering};
    static PROCESS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static ATTEMPTS: AtomicU64 = AtomicU64::new(0);
    let process = *PROCESS.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| t.as_nanos());
        RandomState::new().hash_one((nanos, std::process::id()))
    });
    let attempt = ATTEMPTS.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&process.to_be_bytes());
    bytes[8..].copy_from_slice(&attempt.to_be_bytes());
    sha256::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn the_same_value_gives_the_same_key_whatever_the_member_order() {
        // Two maps with their own random hash seeds: their iteration orders differ.
        let a: HashMap<String, i32> = (0..50).map(|i| (format!("k{i}"), i)).collect();
        let b: HashMap<String, i32> = (0..50).rev().map(|i| (format!("k{i}"), i)).collect();
        assert_eq!(hash(&a).unwrap(), hash(&b).unwrap());
        assert_eq!(
            hash(&serde_json::json!({"b": 1, "a": [true, null, "x\"y"]})).unwrap(),
            sha256::hex_digest(br#"{"a":[true,null,"x\"y"],"b":1}"#)
        );
        assert_ne!(hash("order-1").unwrap(), hash("order-2").unwrap());
        assert_ne!(hash(&1).unwrap(), hash("1").unwrap());
    }

    #[test]
    fn every_attempt_gets_its_own_token() {
        let tokens: std::collections::HashSet<String> = (0..100).map(|_| attempt_token()).collect();
        assert_eq!(tokens.len(), 100);
        assert!(tokens.iter().all(|t| t.len() == 32), "{tokens:?}");
    }

    #[test]
    fn a_value_json_cannot_hold_is_an_error() {
        let map: HashMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
        assert!(hash(&map).is_err());
    }
}
