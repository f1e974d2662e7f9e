//! X-Ray ids: trace ids (`1-<8 hex epoch seconds>-<24 hex random>`) and segment ids (16 hex).
//!
//! The random parts come from a small PRNG (splitmix64) per thread, seeded once from std's
//! per-process random hasher keys, the clock, the process id and a stack address. X-Ray needs
//! ids that do not collide, not ids an attacker cannot guess, so no `rand` dependency.

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The id of a trace: `1-5759e988-bd862e3fe1be46a994272793`.
///
/// ```
/// let id: lamina::xray::TraceId = "1-5759e988-bd862e3fe1be46a994272793".parse().unwrap();
/// assert_eq!(id.epoch_seconds(), 0x5759e988);
/// assert_eq!(id.to_string(), "1-5759e988-bd862e3fe1be46a994272793");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId {
    epoch: u32,
    random: [u8; 12],
}

/// The id of a segment or subsegment: 16 lower-case hex digits, never all zeros.
///
/// ```
/// let id = lamina::xray::SegmentId::new();
/// assert_eq!(id.to_string().len(), 16);
/// assert_eq!(id.to_string().parse::<lamina::xray::SegmentId>().unwrap(), id);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentId(u64);

/// A string that is not a well-formed [`TraceId`] or [`SegmentId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdError {
    what: &'static str,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.what {
            "trace" => f.write_str(
                "not an X-Ray trace id: expected `1-` then 8 and 24 hex digits, as in `1-5759e988-bd862e3fe1be46a994272793`",
            ),
            _ => f.write_str(
                "not an X-Ray segment id: expected 16 hex digits, not all zero, as in `53995c3f42cd8ad8`",
            ),
        }
    }
}

impl std::error::Error for IdError {}

impl TraceId {
    /// A new trace id: the current time and 96 random bits.
    #[allow(clippy::new_without_default)] // a default id would be a random one: say so by name
    pub fn new() -> Self {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        let mut random = [0; 12];
        random[..8].copy_from_slice(&next_u64().to_be_bytes());
        random[8..].copy_from_slice(&(next_u64() as u32).to_be_bytes());
        TraceId { epoch, random }
    }

    /// When the trace started, in seconds since the Unix epoch, as its id records it.
    pub fn epoch_seconds(&self) -> u32 {
        self.epoch
    }
}

impl SegmentId {
    /// A new random segment id.
    #[allow(clippy::new_without_default)] // a default id would be a random one: say so by name
    pub fn new() -> Self {
        loop {
            let id = next_u64();
            if id != 0 {
                return SegmentId(id);
            }
        }
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl FromStr for TraceId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let err = IdError { what: "trace" };
        let b = s.as_bytes();
        if b.len() != 35 || &b[..2] != b"1-" || b[10] != b'-' {
            return Err(err);
        }
        let epoch = hex_u64(&b[2..10]).ok_or(err.clone())? as u32;
        let high = hex_u64(&b[11..27]).ok_or(err.clone())?;
        let low = hex_u64(&b[27..35]).ok_or(err)? as u32;
        let mut random = [0; 12];
        random[..8].copy_from_slice(&high.to_be_bytes());
        random[8..].copy_from_slice(&low.to_be_bytes());
        Ok(TraceId { epoch, random })
    }
}

impl FromStr for SegmentId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        match hex_u64(s.as_bytes()) {
            Some(id) if s.len() == 16 && id != 0 => Ok(SegmentId(id)),
            _ => Err(IdError { what: "segment" }),
        }
    }
}

impl TraceId {
    /// The id's text, written without `fmt`: the log sink writes it for every sampled
    /// invocation.
    fn to_ascii(self) -> [u8; 35] {
        let mut out = *b"1-00000000-000000000000000000000000";
        hex_into(&mut out[2..10], &self.epoch.to_be_bytes());
        hex_into(&mut out[11..], &self.random);
        out
    }

    /// Appends the id's text to `out`.
    pub(crate) fn push_to(self, out: &mut String) {
        let ascii = self.to_ascii();
        out.push_str(std::str::from_utf8(&ascii).unwrap_or_default());
    }
}

/// Lower-case hex digits of `bytes` into `out`, two per byte.
fn hex_into(out: &mut [u8], bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 15)];
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ascii = self.to_ascii();
        f.write_str(std::str::from_utf8(&ascii).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentId({self})")
    }
}

impl serde::Serialize for SegmentId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl serde::Serialize for TraceId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Hex digits (either case) as a number; `None` for an empty string, more than 16 digits or a
/// non-hex byte.
fn hex_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    // A table, not `char::to_digit`: every trace header Lambda sends has 48 of these digits.
    const INVALID: u8 = 0xff;
    const VALUES: [u8; 256] = {
        let mut table = [INVALID; 256];
        let mut i = 0;
        while i < 10 {
            table[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            table[b'a' as usize + i] = 10 + i as u8;
            table[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        table
    };
    let mut acc = 0u64;
    let mut invalid = 0u8;
    for &b in digits {
        let v = VALUES[usize::from(b)];
        invalid |= v & 0xf0;
        acc = acc << 4 | u64::from(v & 0x0f);
    }
    (invalid == 0).then_some(acc)
}

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let local = 0u8;
    hasher.write_usize(&local as *const u8 as usize);
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// splitmix64: one add and three multiply-xorshifts per number.
fn next_u64() -> u64 {
    STATE.with(|state| {
        let s = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_round_trip_and_carry_the_time() {
        let id = TraceId::new();
        let text = id.to_string();
        assert_eq!(text.len(), 35);
        assert!(text.starts_with("1-"), "{text}");
        assert_eq!(text.parse::<TraceId>().unwrap(), id);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as u32;
        assert!(now - id.epoch_seconds() < 5);
        assert_ne!(TraceId::new(), id);
    }

    #[test]
    fn segment_ids_are_16_hex_and_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| SegmentId::new().to_string()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            assert_eq!(id.len(), 16);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "1-5759e988-bd862e3fe1be46a99427279",
            "2-5759e988-bd862e3fe1be46a994272793",
            "1-5759e988_bd862e3fe1be46a994272793",
            "1-5759e98g-bd862e3fe1be46a994272793",
            "1-5759e988-bd862e3fe1be46a99427279z",
        ] {
            assert!(bad.parse::<TraceId>().is_err(), "{bad}");
        }
        for bad in [
            "",
            "53995c3f42cd8ad",
            "53995c3f42cd8ad8a",
            "0000000000000000",
            "53995c3f42cd8adx",
            "+3995c3f42cd8ad8",
        ] {
            assert!(bad.parse::<SegmentId>().is_err(), "{bad}");
        }
        assert_eq!(
            "53995C3F42CD8AD8".parse::<SegmentId>().unwrap().to_string(),
            "53995c3f42cd8ad8"
        );
    }
}
