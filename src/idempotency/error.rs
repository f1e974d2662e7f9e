//! Why an idempotent call did not run, or its result could not be kept.

use std::fmt;
use std::time::Duration;

use super::store::StoreError;
use crate::error::Error;

/// Why [`Call::run`](super::Call::run) did not run the work, or could not keep its result.
///
/// `run` returns it inside a [`lamina::Error`](Error) whose `errorType` is
/// [`error_type`](IdempotencyError::error_type); [`IdempotencyError::of`] finds it again.
///
/// New variants may be added in minor releases.
#[derive(Debug)]
#[non_exhaustive]
pub enum IdempotencyError {
    /// Another attempt with the same key is running (or crashed and has not reached its deadline
    /// yet). Retryable: fail this attempt and let Lambda (or the batch) deliver it again.
    AlreadyInProgress {
        /// The key.
        key: String,
        /// How long until the other attempt's deadline, after which a retry runs.
        retry_in: Duration,
    },
    /// A completed record has this key, but its payload validation hash differs: the same key
    /// was used for another payload.
    PayloadMismatch {
        /// The key.
        key: String,
    },
    /// The store could not be reached or refused: nothing was run (or, after the work, its result
    /// was not recorded as completed).
    Store(StoreError),
    /// The key part (or validation part) does not serialize as JSON.
    Key(serde_json::Error),
    /// The work's response does not serialize as JSON.
    Response {
        /// The key.
        key: String,
        /// What serde_json said.
        source: serde_json::Error,
    },
    /// A stored response does not decode into the response type (the type changed since it was
    /// stored). Says where and into which type, never what the stored response holds: it goes
    /// to the caller and the logs, and may carry data they must not see.
    StoredResponse {
        /// The key.
        key: String,
        /// Where in the stored JSON decoding stopped: line and column, from 1.
        line: usize,
        /// See `line`.
        column: usize,
        /// The type it was decoded into.
        type_name: &'static str,
    },
}

impl IdempotencyError {
    /// The `errorType` Lambda reports: `Idempotency.AlreadyInProgress`,
    /// `Idempotency.PayloadMismatch`, `Idempotency.StoreUnavailable`, `Idempotency.InvalidKey`
    /// or `Idempotency.InvalidResponse`.
    pub fn error_type(&self) -> &'static str {
        match self {
            IdempotencyError::AlreadyInProgress { .. } => "Idempotency.AlreadyInProgress",
            IdempotencyError::PayloadMismatch { .. } => "Idempotency.PayloadMismatch",
            IdempotencyError::Store(_) => "Idempotency.StoreUnavailable",
            IdempotencyError::Key(_) => "Idempotency.InvalidKey",
            IdempotencyError::Response { .. } | IdempotencyError::StoredResponse { .. } => {
                "Idempotency.InvalidResponse"
            }
        }
    }

    /// The idempotency error inside `err`, if `err` is one.
    ///
    /// ```
    /// use lamina::idempotency::IdempotencyError;
    ///
    /// fn retryable(err: &lamina::Error) -> bool {
    ///     matches!(IdempotencyError::of(err), Some(IdempotencyError::AlreadyInProgress { .. }))
    /// }
    /// # assert!(!retryable(&lamina::Error::new("X", "y")));
    /// ```
    pub fn of(err: &Error) -> Option<&IdempotencyError> {
        match err {
            Error::Handler(e) => e.source().downcast_ref::<IdempotencyError>(),
            _ => None,
        }
    }

    pub(crate) fn into_error(self) -> Error {
        Error::with_type(self.error_type(), self)
    }
}

impl fmt::Display for IdempotencyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdempotencyError::AlreadyInProgress { key, retry_in } => write!(
                f,
                "another attempt with idempotency key {key} is in progress; retry after it ends \
                 (at the latest in {} ms, its deadline)",
                retry_in.as_millis()
            ),
            IdempotencyError::PayloadMismatch { key } => write!(
                f,
                "idempotency key {key} was used before for a different payload (the validation \
                 hashes differ); the key part must identify the payload, or the caller reused a \
                 key"
            ),
            IdempotencyError::Store(e) => write!(
                f,
                "the idempotency store failed, so the work was not run or its result not \
                 recorded: {e}"
            ),
            IdempotencyError::Key(e) => write!(
                f,
                "the idempotency key part does not serialize as JSON: {e}"
            ),
            IdempotencyError::Response { key, source } => write!(
                f,
                "the response of idempotency key {key} does not round-trip through JSON ({source}); \
                 if the response type changed, the stored responses expire with their records"
            ),
            IdempotencyError::StoredResponse {
                key,
                line,
                column,
                type_name,
            } => write!(
                f,
                "the stored response of idempotency key {key} does not decode into `{type_name}` \
                 (line {line}, column {column}); if the response type changed, the stored \
                 responses expire with their records"
            ),
        }
    }
}

impl std::error::Error for IdempotencyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IdempotencyError::Store(e) => Some(e),
            IdempotencyError::Key(e) | IdempotencyError::Response { source: e, .. } => Some(e),
            _ => None,
        }
    }
}
