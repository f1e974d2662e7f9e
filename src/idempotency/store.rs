//! Where idempotency records live: the [`Store`] trait, its record, and its error.

use std::fmt;
use std::future::Future;

use crate::error::BoxError;

/// Where a record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// An attempt is running (or crashed; see [`Record::in_progress_until_ms`]).
    InProgress,
    /// An attempt finished; the record holds its response.
    Completed,
}

impl Status {
    /// The name stored: `INPROGRESS` or `COMPLETED`, as Powertools stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "INPROGRESS",
            Status::Completed => "COMPLETED",
        }
    }

    /// Reads a stored name.
    pub fn parse(name: &str) -> Option<Status> {
        match name {
            "INPROGRESS" => Some(Status::InProgress),
            "COMPLETED" => Some(Status::Completed),
            _ => None,
        }
    }
}

/// One idempotency record: what a store saves per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The key: the scope (by default the function's name), `#`, and the SHA-256 of the key part.
    pub key: String,
    /// Where the attempt stands.
    pub status: Status,
    /// When the record stops counting, in seconds since the Unix epoch (a DynamoDB TTL
    /// attribute).
    pub expires_at: u64,
    /// For a record in progress: when the attempt is given up for lost, in milliseconds since the
    /// epoch (the invocation's deadline), so a crashed or timed-out attempt can be retried.
    pub in_progress_until_ms: Option<u64>,
    /// For a completed record: the response, as JSON.
    pub response: Option<String>,
    /// The SHA-256 of the payload part chosen for validation, when one was.
    pub validation: Option<String>,
    /// For a record in progress: the token of the attempt that wrote it, random per attempt.
    /// [`Store::complete`] and [`Store::delete`] write only while the stored record still holds
    /// it, so an attempt whose record lapsed and was taken over cannot touch the new one.
    pub attempt: Option<String>,
}

impl Record {
    /// Whether the record still counts at `now_ms`: not expired, and, in progress, not past its
    /// attempt's deadline.
    pub fn is_live(&self, now_ms: u64) -> bool {
        let unexpired = self.expires_at.saturating_mul(1000) > now_ms;
        unexpired
            && match self.status {
                Status::Completed => true,
                Status::InProgress => self.in_progress_until_ms.is_none_or(|t| t > now_ms),
            }
    }
}

/// Whether a conditional write of [`Store::complete`] or [`Store::delete`] took place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The stored record was this attempt's, and is now replaced (or deleted).
    Done,
    /// The stored record is no longer this attempt's: it lapsed at the attempt's deadline and
    /// another attempt took the key over (or it is gone). Nothing was written.
    Superseded,
}

/// Persistence for idempotency records. Implement it for a store of your own (Redis, a SQL
/// table); lamina ships [`MemoryStore`](super::MemoryStore) and, with `idempotency-dynamodb`, a
/// DynamoDB store.
///
/// What makes it correct is that every write is one atomic conditional write: of two attempts
/// racing on a key, exactly one gets `Ok(None)` from [`begin`](Store::begin), and only the
/// attempt whose token ([`Record::attempt`]) the stored record holds can
/// [`complete`](Store::complete) or [`delete`](Store::delete) it.
pub trait Store: Send + Sync {
    /// Saves `record` (in progress) unless a record with its key is live at `now_ms`
    /// ([`Record::is_live`]), atomically. Returns `None` when it saved the record, and the live
    /// record when there is one.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached or refuses.
    fn begin(
        &self,
        record: &Record,
        now_ms: u64,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Replaces the record of `record.key` with `completed`, if the stored record is still
    /// `in_progress` (the one [`begin`](Store::begin) saved: in progress, with its
    /// [`attempt`](Record::attempt) token), atomically.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached or refuses.
    fn complete(
        &self,
        in_progress: &Record,
        completed: &Record,
    ) -> impl Future<Output = Result<Written, StoreError>> + Send;

    /// Deletes the record of `in_progress.key`, so the next attempt runs, if the stored record
    /// is still `in_progress` (in progress, with its attempt token), atomically.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached or refuses.
    fn delete(
        &self,
        in_progress: &Record,
    ) -> impl Future<Output = Result<Written, StoreError>> + Send;
}

/// A store that could not be reached or refused an operation.
#[derive(Debug)]
pub struct StoreError {
    message: String,
    source: Option<BoxError>,
}

impl StoreError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            source: None,
        }
    }

    /// An error with this message, caused by `source`.
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> StoreError {
        StoreError {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
