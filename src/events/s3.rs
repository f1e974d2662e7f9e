//! S3 event notifications, with the object key decoded.
//!
//! S3 puts object keys into events URL-encoded, with `+` for a space: the object
//! `reports/Q1 2026+draft.pdf` arrives as `reports/Q1+2026%2Bdraft.pdf`. Passing the raw key to
//! `GetObject` fails with `NoSuchKey` for exactly the keys that have spaces or punctuation in
//! them, which is why every S3 handler needs the decoding; [`S3RecordExt::key`] does it, and
//! says clearly when a key cannot be decoded instead of panicking.
//!
//! ```no_run
//! use lamina::events::s3::{EventCategory, S3Event, S3RecordExt};
//! use lamina::{Context, Error};
//!
//! #[lamina::handler]
//! async fn thumbnails(event: S3Event, _ctx: Context) -> Result<(), Error> {
//!     for record in event.records.iter().filter(|r| r.category() == EventCategory::Created) {
//!         println!("new object s3://{}/{}", record.bucket().unwrap_or_default(), record.key()?);
//!     }
//!     Ok(())
//! }
//! ```

use std::borrow::Cow;
use std::fmt;

pub use aws_lambda_events::event::s3::{
    S3Bucket, S3Entity, S3Event, S3EventRecord, S3Object, S3RequestParameters, S3UserIdentity,
};

use crate::base::percent::{self, Malformed};

/// Decodes an object key as S3 writes it into events: `%XX` escapes and `+` for a space.
///
/// Use it for keys that reach you by other routes (an S3 event forwarded through SNS or
/// EventBridge); for a record, [`S3RecordExt::key`] calls it.
///
/// ```
/// use lamina::events::s3::decode_key;
/// assert_eq!(decode_key("photos/summer+2026/caf%C3%A9%2Bbar.jpg")?, "photos/summer 2026/café+bar.jpg");
/// # Ok::<(), lamina::events::s3::KeyError>(())
/// ```
///
/// # Errors
/// [`KeyError::InvalidEscape`] when a `%` is not followed by two hex digits, and
/// [`KeyError::NotUtf8`] when the decoded bytes are not UTF-8 (use [`decode_key_bytes`] for
/// those).
pub fn decode_key(raw: &str) -> Result<Cow<'_, str>, KeyError> {
    percent::decode_str(raw).map_err(|m| KeyError::from_malformed(raw, m))
}

/// Decodes an object key into bytes, for the rare keys that are not UTF-8 once decoded.
///
/// # Errors
/// [`KeyError::InvalidEscape`] when a `%` is not followed by two hex digits.
pub fn decode_key_bytes(raw: &str) -> Result<Cow<'_, [u8]>, KeyError> {
    percent::decode_bytes(raw).map_err(|m| KeyError::from_malformed(raw, m))
}

/// Encodes an object key the way S3 writes it into events (`+` for a space, `%XX` for bytes
/// other than ASCII letters, digits and `-._~/`): the inverse of [`decode_key`], for building
/// test events.
///
/// ```
/// use lamina::events::s3::encode_key;
/// assert_eq!(encode_key("Q1 2026/1+1.txt"), "Q1+2026/1%2B1.txt");
/// ```
pub fn encode_key(key: &str) -> String {
    percent::encode(key)
}

/// An object key that could not be decoded.
///
/// New variants may be added in minor releases.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The record has no `s3.object.key`.
    Missing,
    /// A `%` in the key is not followed by two hex digits.
    InvalidEscape {
        /// The key as it arrived.
        raw: String,
        /// Byte offset of the `%` in `raw`.
        at: usize,
    },
    /// The decoded key is not UTF-8.
    NotUtf8 {
        /// The key as it arrived.
        raw: String,
        /// Byte offset of the first invalid byte in the decoded key.
        at: usize,
    },
}

impl KeyError {
    fn from_malformed(raw: &str, malformed: Malformed) -> Self {
        match malformed {
            Malformed::Escape(at) => KeyError::InvalidEscape {
                raw: raw.to_owned(),
                at,
            },
            Malformed::Utf8(at) => KeyError::NotUtf8 {
                raw: raw.to_owned(),
                at,
            },
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Missing => f.write_str(
                "the S3 record has no `s3.object.key`; S3 always sends one, so check what \
                 produced this event",
            ),
            KeyError::InvalidEscape { raw, at } => write!(
                f,
                "the S3 object key `{raw}` has a `%` at byte {at} that is not followed by two hex \
                 digits; S3 sends keys URL-encoded, so the key was changed on the way: pass the \
                 event on unmodified"
            ),
            KeyError::NotUtf8 { raw, at } => write!(
                f,
                "the S3 object key `{raw}` decodes to bytes that are not UTF-8 (byte {at} of the \
                 decoded key); read it with `key_bytes()` instead"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// What kind of event a record reports, from its `eventName` (`ObjectCreated:Put` is
/// [`Created`](EventCategory::Created)).
///
/// The categories are those of S3's event notification types. New variants may be added in
/// minor releases; an event type lamina does not know yet is [`Other`](EventCategory::Other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventCategory {
    /// `ObjectCreated:*`: `Put`, `Post`, `Copy`, `CompleteMultipartUpload`.
    Created,
    /// `ObjectRemoved:*`: `Delete`, `DeleteMarkerCreated`.
    Removed,
    /// `ObjectRestore:*`: `Post` (restore started), `Completed`, `Delete` (restored copy expired).
    Restore,
    /// `Replication:*`: failed, missed the threshold, replicated after it, or not tracked.
    Replication,
    /// `LifecycleExpiration:*`: `Delete`, `DeleteMarkerCreated`.
    LifecycleExpiration,
    /// `LifecycleTransition`: moved to another storage class.
    LifecycleTransition,
    /// `IntelligentTiering`: moved to an archive access tier.
    IntelligentTiering,
    /// `ObjectTagging:*`: `Put`, `Delete`.
    Tagging,
    /// `ObjectAcl:Put`.
    Acl,
    /// `ReducedRedundancyLostObject`.
    ReducedRedundancyLostObject,
    /// Missing, or an event type lamina does not know.
    Other,
}

impl EventCategory {
    /// The category of an `eventName`, with or without the `s3:` prefix that notification
    /// configurations use.
    ///
    /// ```
    /// use lamina::events::s3::EventCategory;
    /// assert_eq!(EventCategory::from_event_name("ObjectCreated:Put"), EventCategory::Created);
    /// assert_eq!(EventCategory::from_event_name("s3:ObjectRemoved:*"), EventCategory::Removed);
    /// assert_eq!(EventCategory::from_event_name("ObjectLocked:Put"), EventCategory::Other);
    /// ```
    pub fn from_event_name(name: &str) -> Self {
        let name = name.strip_prefix("s3:").unwrap_or(name);
        let family = name.split(':').next().unwrap_or(name);
        match family {
            "ObjectCreated" => EventCategory::Created,
            "ObjectRemoved" => EventCategory::Removed,
            "ObjectRestore" => EventCategory::Restore,
            "Replication" => EventCategory::Replication,
            "LifecycleExpiration" => EventCategory::LifecycleExpiration,
            "LifecycleTransition" => EventCategory::LifecycleTransition,
            "IntelligentTiering" => EventCategory::IntelligentTiering,
            "ObjectTagging" => EventCategory::Tagging,
            "ObjectAcl" => EventCategory::Acl,
            "ReducedRedundancyLostObject" => EventCategory::ReducedRedundancyLostObject,
            _ => EventCategory::Other,
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::S3EventRecord {}
}

/// What lamina adds to an [`S3EventRecord`]: the decoded key and short accessors.
///
/// Sealed: implemented for [`S3EventRecord`] only.
pub trait S3RecordExt: sealed::Sealed {
    /// The bucket's name.
    fn bucket(&self) -> Option<&str>;

    /// The object key, decoded (`%XX` escapes and `+` for a space).
    ///
    /// # Errors
    /// A [`KeyError`] when the record has no key or it does not decode to UTF-8.
    fn key(&self) -> Result<Cow<'_, str>, KeyError>;

    /// The object key decoded into bytes, for keys that are not UTF-8.
    ///
    /// # Errors
    /// A [`KeyError`] when the record has no key or a `%` escape is malformed.
    fn key_bytes(&self) -> Result<Cow<'_, [u8]>, KeyError>;

    /// The object key exactly as it arrived, still URL-encoded.
    fn raw_key(&self) -> Option<&str>;

    /// The object's size in bytes; S3 sends none for removals.
    fn size(&self) -> Option<u64>;

    /// The object's version id, in a bucket with versioning enabled.
    fn version_id(&self) -> Option<&str>;

    /// The object's ETag.
    fn etag(&self) -> Option<&str>;

    /// The `eventName`, as `ObjectCreated:Put`.
    fn event_name(&self) -> Option<&str>;

    /// The category of `eventName`.
    fn category(&self) -> EventCategory;
}

impl S3RecordExt for S3EventRecord {
    fn bucket(&self) -> Option<&str> {
        self.s3.bucket.name.as_deref()
    }

    fn key(&self) -> Result<Cow<'_, str>, KeyError> {
        decode_key(self.raw_key().ok_or(KeyError::Missing)?)
    }

    fn key_bytes(&self) -> Result<Cow<'_, [u8]>, KeyError> {
        decode_key_bytes(self.raw_key().ok_or(KeyError::Missing)?)
    }

    fn raw_key(&self) -> Option<&str> {
        self.s3.object.key.as_deref()
    }

    fn size(&self) -> Option<u64> {
        self.s3.object.size.and_then(|s| u64::try_from(s).ok())
    }

    fn version_id(&self) -> Option<&str> {
        self.s3.object.version_id.as_deref()
    }

    fn etag(&self) -> Option<&str> {
        self.s3.object.e_tag.as_deref()
    }

    fn event_name(&self) -> Option<&str> {
        self.event_name.as_deref()
    }

    fn category(&self) -> EventCategory {
        self.event_name
            .as_deref()
            .map_or(EventCategory::Other, EventCategory::from_event_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEYS: &str = include_str!("../../tests/integration/fixtures/events/s3-keys.json");
    const REMOVED: &str = include_str!("../../tests/integration/fixtures/events/s3-removed.json");

    fn round_trip(json: &str) -> S3Event {
        let parsed: S3Event = serde_json::from_str(json).unwrap();
        let again: S3Event =
            serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(parsed, again);
        parsed
    }

    #[test]
    fn fixture_keys_decode() {
        let event = round_trip(KEYS);
        let keys: Vec<_> = event.records.iter().map(|r| r.key()).collect();
        assert_eq!(
            keys,
            vec![
                Ok("reports/Q1 2026.pdf".into()),
                Ok("math/1+1=2.txt".into()),
                Ok("photos/café/日本 😀.jpg".into()),
                Ok("literal/a%2Bb means a+b".into()),
                Err(KeyError::InvalidEscape {
                    raw: "broken/100%.txt".into(),
                    at: 10
                }),
                Err(KeyError::NotUtf8 {
                    raw: "latin1/caf%E9.txt".into(),
                    at: 10
                }),
            ]
        );
        let first = &event.records[0];
        assert_eq!(first.bucket(), Some("lamina-reports"));
        assert_eq!(first.size(), Some(1024));
        assert_eq!(first.version_id(), Some("096fKKXTRTtl3on89fVO.nfljtsv6qko"));
        assert_eq!(first.etag(), Some("d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(first.category(), EventCategory::Created);
        assert_eq!(first.raw_key(), Some("reports/Q1+2026.pdf"));
        assert_eq!(
            event.records[5].key_bytes().unwrap().as_ref(),
            b"latin1/caf\xE9.txt"
        );
    }

    #[test]
    fn fixture_removal_has_no_size() {
        let event = round_trip(REMOVED);
        let record = &event.records[0];
        assert_eq!(record.category(), EventCategory::Removed);
        assert_eq!(record.size(), None);
        assert_eq!(record.key().unwrap(), "old/report.csv");
    }

    #[test]
    fn categories() {
        for (name, category) in [
            (
                "ObjectCreated:CompleteMultipartUpload",
                EventCategory::Created,
            ),
            ("ObjectRemoved:DeleteMarkerCreated", EventCategory::Removed),
            ("ObjectRestore:Completed", EventCategory::Restore),
            (
                "Replication:OperationFailedReplication",
                EventCategory::Replication,
            ),
            (
                "LifecycleExpiration:Delete",
                EventCategory::LifecycleExpiration,
            ),
            ("LifecycleTransition", EventCategory::LifecycleTransition),
            ("IntelligentTiering", EventCategory::IntelligentTiering),
            ("ObjectTagging:Put", EventCategory::Tagging),
            ("ObjectAcl:Put", EventCategory::Acl),
            (
                "ReducedRedundancyLostObject",
                EventCategory::ReducedRedundancyLostObject,
            ),
            ("", EventCategory::Other),
        ] {
            assert_eq!(EventCategory::from_event_name(name), category, "{name}");
        }
        assert_eq!(S3EventRecord::default().category(), EventCategory::Other);
        assert_eq!(S3EventRecord::default().key(), Err(KeyError::Missing));
    }

    #[test]
    fn key_error_messages() {
        assert_eq!(
            decode_key("a%g1").unwrap_err().to_string(),
            "the S3 object key `a%g1` has a `%` at byte 1 that is not followed by two hex \
             digits; S3 sends keys URL-encoded, so the key was changed on the way: pass the \
             event on unmodified"
        );
        assert_eq!(
            decode_key("%C3").unwrap_err().to_string(),
            "the S3 object key `%C3` decodes to bytes that are not UTF-8 (byte 0 of the \
             decoded key); read it with `key_bytes()` instead"
        );
    }

    proptest! {
        /// Any key S3 can hold survives S3's encoding and lamina's decoding.
        #[test]
        fn any_key_round_trips(key in "\\PC{0,40}") {
            let encoded = encode_key(&key);
            prop_assert_eq!(decode_key(&encoded).unwrap().into_owned(), key);
        }

        /// Decoding never panics: any input gives a key or a `KeyError`.
        #[test]
        fn decoding_never_panics(raw in "[%+a-fA-F0-9zé ]{0,24}") {
            match decode_key(&raw) {
                Ok(key) => {
                    let encoded = encode_key(&key);
                    prop_assert_eq!(decode_key(&encoded).unwrap().into_owned(), key.into_owned());
                }
                Err(KeyError::InvalidEscape { at, .. }) => prop_assert_eq!(raw.as_bytes()[at], b'%'),
                Err(KeyError::NotUtf8 { .. }) => prop_assert!(raw.contains('%')),
                Err(other) => prop_assert!(false, "{other}"),
            }
        }

        /// The bytes form agrees with the string form whenever the string form succeeds.
        #[test]
        fn bytes_agree_with_str(raw in "[%+a-fA-F0-9 ]{0,24}") {
            if let Ok(key) = decode_key(&raw) {
                let bytes = decode_key_bytes(&raw).unwrap().into_owned();
                prop_assert_eq!(bytes, key.as_bytes().to_vec());
            }
        }
    }
}
