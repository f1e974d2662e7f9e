//! What a cache entry looks like on disk, and how a key becomes a file name.
//!
//! Every entry starts with a fixed 56-byte header, then its key, then (for bytes and JSON) the
//! payload. A file entry keeps its payload in a sidecar file, so the path handed to the user holds
//! exactly the artefact, and the header lives alone in the `.entry` file. All integers are
//! little-endian.
//!
//! ```text
//!  0  magic "LAMCACHE"        24  written at, unix ms
//!  8  format version (u16)    32  expires at, unix ms (u64::MAX: never)
//! 10  kind (u8), 11: zero     40  XXH64 of the payload
//! 12  key length (u32)        48  XXH64 of bytes 0..48 and the key
//! 16  payload length (u64)    56  key (UTF-8), then the payload
//! ```
//!
//! The lengths catch truncation with one `fstat`, before anything is read; the header checksum
//! means a damaged length or expiry is never trusted; the payload checksum catches the rest. The
//! key is stored so that a hash collision, or a file copied under another name, reads as a miss
//! instead of as someone else's value.

use std::fmt;
use std::io::{self, Read};

use super::hash::{Xxh64, xxh64};

const MAGIC: [u8; 8] = *b"LAMCACHE";
const VERSION: u16 = 1;
/// The fixed part of the header.
pub(crate) const FIXED_LEN: usize = 56;
/// The bytes the header checksum covers before the key.
const SUMMED_LEN: usize = 48;
const NEVER: u64 = u64::MAX;

const PAYLOAD_SEED: u64 = 0;
const HEADER_SEED: u64 = 0x6C61_6D69_6E61_6864; // "laminahd"
const NAME_SEEDS: [u64; 2] = [0x6C61_6D69_6E61_6E31, 0x6C61_6D69_6E61_6E32];

/// What an entry holds; a lookup only accepts the kind it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Bytes = 1,
    Json = 2,
    File = 3,
}

impl Kind {
    fn from_u8(byte: u8) -> Option<Kind> {
        match byte {
            1 => Some(Kind::Bytes),
            2 => Some(Kind::Json),
            3 => Some(Kind::File),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Bytes => "bytes",
            Kind::Json => "JSON",
            Kind::File => "file",
        }
    }
}

/// The header of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) kind: Kind,
    pub(crate) key: String,
    pub(crate) payload_len: u64,
    pub(crate) written_ms: u64,
    pub(crate) expires_ms: Option<u64>,
    pub(crate) payload_sum: u64,
}

impl Header {
    /// The header for `payload`, checksum included.
    pub(crate) fn new(
        kind: Kind,
        key: &str,
        payload: &[u8],
        written_ms: u64,
        expires_ms: Option<u64>,
    ) -> Self {
        Header::with_sum(
            kind,
            key,
            payload.len() as u64,
            payload_sum(payload),
            written_ms,
            expires_ms,
        )
    }

    /// The header for a payload already summed (a file checksummed as it was read).
    pub(crate) fn with_sum(
        kind: Kind,
        key: &str,
        payload_len: u64,
        payload_sum: u64,
        written_ms: u64,
        expires_ms: Option<u64>,
    ) -> Self {
        Header {
            kind,
            key: key.to_owned(),
            payload_len,
            written_ms,
            expires_ms,
            payload_sum,
        }
    }

    /// The fixed header followed by the key.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED_LEN + self.key.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(self.kind as u8);
        out.push(0);
        out.extend_from_slice(&(self.key.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.payload_len.to_le_bytes());
        out.extend_from_slice(&self.written_ms.to_le_bytes());
        out.extend_from_slice(&self.expires_ms.unwrap_or(NEVER).to_le_bytes());
        out.extend_from_slice(&self.payload_sum.to_le_bytes());
        let sum = header_sum(&out[..SUMMED_LEN], self.key.as_bytes());
        out.extend_from_slice(&sum.to_le_bytes());
        out.extend_from_slice(self.key.as_bytes());
        out
    }

    /// The header's own length on disk: the fixed part and the key.
    pub(crate) fn len(&self) -> u64 {
        (FIXED_LEN + self.key.len()) as u64
    }

    /// How long the `.entry` file must be: the header, plus the payload unless it lives in a
    /// sidecar file.
    pub(crate) fn entry_len(&self) -> u64 {
        match self.kind {
            Kind::File => self.len(),
            Kind::Bytes | Kind::Json => self.len().saturating_add(self.payload_len),
        }
    }

    /// Whether the entry's time to live has run out at `now_ms`.
    pub(crate) fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_ms.is_some_and(|at| now_ms >= at)
    }

    /// Reads and checks a header from the start of an entry file that is `file_len` bytes long.
    ///
    /// Checks everything the header can vouch for by itself (magic, version, header checksum,
    /// and that the file is exactly as long as the header says); the payload checksum is the
    /// caller's, since only it reads the payload.
    pub(crate) fn read_from(reader: &mut impl Read, file_len: u64) -> Result<Header, ReadError> {
        let mut fixed = [0u8; FIXED_LEN];
        read_exact(reader, &mut fixed)?;
        if fixed[..8] != MAGIC {
            return Err(Corrupt::NotAnEntry.into());
        }
        let version = u16::from_le_bytes([fixed[8], fixed[9]]);
        if version != VERSION {
            return Err(Corrupt::Version(version).into());
        }
        let key_len = u32::from_le_bytes(word(&fixed[12..16])) as u64;
        // Checked before allocating: a damaged length must not become a huge allocation.
        if key_len > file_len.saturating_sub(FIXED_LEN as u64) {
            return Err(Corrupt::HeaderChecksum.into());
        }
        let mut key = vec![0u8; key_len as usize];
        read_exact(reader, &mut key)?;
        let stored_sum = u64::from_le_bytes(word(&fixed[48..56]));
        if header_sum(&fixed[..SUMMED_LEN], &key) != stored_sum {
            return Err(Corrupt::HeaderChecksum.into());
        }
        // Only now, with the checksum vouching for them, are the fields worth reading.
        let kind = Kind::from_u8(fixed[10]).ok_or(Corrupt::HeaderChecksum)?;
        let key = String::from_utf8(key).map_err(|_| Corrupt::HeaderChecksum)?;
        let expires = u64::from_le_bytes(word(&fixed[32..40]));
        let header = Header {
            kind,
            key,
            payload_len: u64::from_le_bytes(word(&fixed[16..24])),
            written_ms: u64::from_le_bytes(word(&fixed[24..32])),
            expires_ms: (expires != NEVER).then_some(expires),
            payload_sum: u64::from_le_bytes(word(&fixed[40..48])),
        };
        if header.entry_len() != file_len {
            return Err(Corrupt::Length {
                expected: header.entry_len(),
                found: file_len,
            }
            .into());
        }
        Ok(header)
    }
}

/// The checksum stored for a payload.
pub(crate) fn payload_sum(payload: &[u8]) -> u64 {
    xxh64(payload, PAYLOAD_SEED)
}

/// A payload checksum computed piece by piece, for files read in chunks.
pub(crate) fn payload_hasher() -> Xxh64 {
    Xxh64::new(PAYLOAD_SEED)
}

fn header_sum(fixed: &[u8], key: &[u8]) -> u64 {
    let mut h = Xxh64::new(HEADER_SEED);
    h.update(fixed);
    h.update(key);
    h.finish()
}

fn word<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(bytes);
    out
}

fn read_exact(reader: &mut impl Read, buf: &mut [u8]) -> Result<(), ReadError> {
    reader.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ReadError::Corrupt(Corrupt::Truncated)
        } else {
            ReadError::Io(e)
        }
    })
}

/// Why an entry on disk cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Corrupt {
    NotAnEntry,
    Version(u16),
    HeaderChecksum,
    Truncated,
    Length {
        expected: u64,
        found: u64,
    },
    PayloadChecksum,
    /// The entry belongs to another key (a hash collision, or a file copied under a wrong name).
    OtherKey,
    OtherKind {
        found: Kind,
        wanted: Kind,
    },
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corrupt::NotAnEntry => f.write_str("it is not a lamina cache entry"),
            Corrupt::Version(v) => write!(f, "it was written in cache format {v}, not {VERSION}"),
            Corrupt::HeaderChecksum => f.write_str("its header checksum does not match"),
            Corrupt::Truncated => f.write_str("it is truncated"),
            Corrupt::Length { expected, found } => {
                write!(
                    f,
                    "it is {found} bytes long, not {expected} (truncated or torn)"
                )
            }
            Corrupt::PayloadChecksum => f.write_str("its content checksum does not match"),
            Corrupt::OtherKey => f.write_str("it holds another key"),
            Corrupt::OtherKind { found, wanted } => write!(
                f,
                "it holds {} and {} was asked for",
                found.as_str(),
                wanted.as_str()
            ),
        }
    }
}

/// Reading an entry failed: the file system refused, or the bytes are not a valid entry.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    Corrupt(Corrupt),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl From<Corrupt> for ReadError {
    fn from(c: Corrupt) -> Self {
        ReadError::Corrupt(c)
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "reading it failed ({e})"),
            ReadError::Corrupt(c) => fmt::Display::fmt(c, f),
        }
    }
}

/// The file name of a key: 128 bits of two seeded XXH64s, as 32 hex digits.
///
/// Hex is safe in every file system and never `.`/`..`; hashing bounds the length whatever the
/// key; the key itself, stored in the header, settles the rare collision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Name(u128);

impl Name {
    pub(crate) fn of(key: &str) -> Name {
        let hi = xxh64(key.as_bytes(), NAME_SEEDS[0]);
        let lo = xxh64(key.as_bytes(), NAME_SEEDS[1]);
        Name(u128::from(hi) << 64 | u128::from(lo))
    }

    /// The name in a file stem, if it is one (exactly 32 lower-case hex digits).
    pub(crate) fn parse(stem: &str) -> Option<Name> {
        if stem.len() != 32
            || !stem
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        u128::from_str_radix(stem, 16).ok().map(Name)
    }

    /// `<name>.entry`: the header, and the payload of bytes and JSON entries.
    pub(crate) fn entry_file(self) -> String {
        format!("{self}.{ENTRY_EXT}")
    }

    /// `<name>.file`: the content of a file entry.
    pub(crate) fn data_file(self) -> String {
        format!("{self}.{DATA_EXT}")
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

pub(crate) const ENTRY_EXT: &str = "entry";
pub(crate) const DATA_EXT: &str = "file";

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: Kind, key: &str, payload: &[u8]) -> Header {
        Header::new(
            kind,
            key,
            payload,
            1_700_000_000_000,
            Some(1_700_000_060_000),
        )
    }

    fn entry_bytes(h: &Header, payload: &[u8]) -> Vec<u8> {
        let mut bytes = h.encode();
        bytes.extend_from_slice(payload);
        bytes
    }

    fn read(bytes: &[u8]) -> Result<Header, ReadError> {
        Header::read_from(&mut &bytes[..], bytes.len() as u64)
    }

    fn corrupt(bytes: &[u8]) -> Corrupt {
        match read(bytes) {
            Err(ReadError::Corrupt(c)) => c,
            other => panic!("expected a corrupt entry, got {other:?}"),
        }
    }

    #[test]
    fn header_round_trips() {
        for (kind, key, payload) in [
            (Kind::Bytes, "model", &b"weights"[..]),
            (Kind::Json, "", &b"{}"[..]),
            (Kind::Bytes, "ключ/../\0 with spaces", &[][..]),
        ] {
            let h = header(kind, key, payload);
            let bytes = entry_bytes(&h, payload);
            assert_eq!(bytes.len() as u64, h.entry_len());
            assert_eq!(read(&bytes).unwrap(), h);
            assert_eq!(&bytes[h.len() as usize..], payload);
            assert_eq!(payload_sum(payload), h.payload_sum);
        }
        let never = Header::new(Kind::Bytes, "k", b"v", 5, None);
        assert_eq!(read(&entry_bytes(&never, b"v")).unwrap().expires_ms, None);
    }

    #[test]
    fn a_file_entry_is_its_header_alone() {
        let h = Header::with_sum(Kind::File, "artefact", 1 << 30, 7, 1, None);
        let bytes = h.encode();
        assert_eq!(h.entry_len(), bytes.len() as u64);
        assert_eq!(read(&bytes).unwrap(), h);
    }

    #[test]
    fn the_layout_is_pinned() {
        let h = Header::new(Kind::Json, "k", b"[1]", 2, Some(3));
        let bytes = h.encode();
        assert_eq!(&bytes[..8], b"LAMCACHE");
        assert_eq!(&bytes[8..12], &[1, 0, 2, 0]);
        assert_eq!(&bytes[12..16], &1u32.to_le_bytes());
        assert_eq!(&bytes[16..24], &3u64.to_le_bytes());
        assert_eq!(&bytes[24..32], &2u64.to_le_bytes());
        assert_eq!(&bytes[32..40], &3u64.to_le_bytes());
        assert_eq!(&bytes[40..48], &payload_sum(b"[1]").to_le_bytes());
        assert_eq!(&bytes[56..], b"k");
    }

    #[test]
    fn every_damaged_header_byte_is_detected() {
        let payload = b"some payload";
        let good = entry_bytes(&header(Kind::Bytes, "key", payload), payload);
        // Flipping any bit of the header or key fails the read; none is silently accepted.
        for i in 0..FIXED_LEN + 3 {
            for bit in [0x01, 0x80] {
                let mut bad = good.clone();
                bad[i] ^= bit;
                assert!(read(&bad).is_err(), "byte {i} bit {bit:#x} went unnoticed");
            }
        }
    }

    #[test]
    fn truncation_and_extension_are_detected() {
        let payload = vec![7u8; 100];
        let good = entry_bytes(&header(Kind::Bytes, "key", &payload), &payload);
        assert_eq!(corrupt(&good[..10]), Corrupt::Truncated);
        assert_eq!(corrupt(&good[..FIXED_LEN + 1]), Corrupt::HeaderChecksum);
        assert_eq!(
            corrupt(&good[..good.len() - 1]),
            Corrupt::Length {
                expected: good.len() as u64,
                found: good.len() as u64 - 1
            }
        );
        let mut longer = good.clone();
        longer.push(0);
        assert!(matches!(corrupt(&longer), Corrupt::Length { .. }));
        assert_eq!(corrupt(&[]), Corrupt::Truncated);
    }

    #[test]
    fn foreign_files_and_versions_are_refused() {
        let mut other = vec![0u8; 200];
        other[..8].copy_from_slice(b"NOTCACHE");
        assert_eq!(corrupt(&other), Corrupt::NotAnEntry);
        let mut future = header(Kind::Bytes, "k", b"").encode();
        future[8] = 2;
        assert_eq!(corrupt(&future), Corrupt::Version(2));
    }

    #[test]
    fn a_damaged_payload_changes_its_checksum() {
        let payload = b"0123456789abcdef0123456789abcdef0123456789";
        let sum = payload_sum(payload);
        for i in 0..payload.len() {
            let mut bad = payload.to_vec();
            bad[i] ^= 1;
            assert_ne!(payload_sum(&bad), sum, "byte {i}");
        }
        let mut pieces = payload_hasher();
        pieces.update(&payload[..5]);
        pieces.update(&payload[5..]);
        assert_eq!(pieces.finish(), sum);
    }

    #[test]
    fn expiry_is_inclusive() {
        let h = header(Kind::Bytes, "k", b"");
        assert!(!h.is_expired(1_700_000_059_999));
        assert!(h.is_expired(1_700_000_060_000));
        assert!(!Header::new(Kind::Bytes, "k", b"", 0, None).is_expired(u64::MAX));
    }

    #[test]
    fn names_are_fixed_safe_and_distinct() {
        // Pinned: a change would orphan every entry written by an earlier build.
        assert_eq!(
            Name::of("model").to_string(),
            "955903b271a0dcfc782b9ed102be65a4"
        );
        let keys = [
            "",
            "a",
            "b",
            "model",
            "Model",
            "../../etc/passwd",
            "/",
            ".",
            "..",
            "a\0b",
            "ключ",
            "🙂",
            &"x".repeat(10_000),
        ];
        let mut seen = std::collections::HashSet::new();
        for key in keys {
            let name = Name::of(key).to_string();
            assert_eq!(name.len(), 32, "{key:?}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert_eq!(Name::parse(&name), Some(Name::of(key)));
            assert!(seen.insert(name), "{key:?} collides");
        }
        assert_eq!(
            Name::of("k").entry_file(),
            format!("{}.entry", Name::of("k"))
        );
        assert_eq!(Name::of("k").data_file(), format!("{}.file", Name::of("k")));
    }

    #[test]
    fn only_canonical_names_parse() {
        let name = Name::of("k").to_string();
        assert_eq!(Name::parse(&name.to_uppercase()), None);
        assert_eq!(Name::parse(&name[1..]), None);
        assert_eq!(Name::parse(&format!("{name}0")), None);
        assert_eq!(Name::parse(".tmp-1-2"), None);
        assert_eq!(Name::parse("+0000000000000000000000000000000"), None);
    }
}
