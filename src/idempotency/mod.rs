//! Exactly-once effects under retries and duplicates: the first call with a key runs, and every
//! later one gets its stored response without running.
//!
//! SQS, Kinesis and DynamoDB Streams deliver at least once, and asynchronous invocations are
//! retried: a function that charges a card or sends an email must notice the duplicate itself.
//! [`Idempotency`] does it as Powertools for AWS Lambda does, with the same record layout:
//!
//! - The key is the SHA-256 of a part of the event you choose (an order id, or the whole event),
//!   under a scope (by default the function's name).
//! - The first call saves an `INPROGRESS` record with one conditional write, runs the work, and
//!   stores the response (`COMPLETED`, kept for an hour by default).
//! - A duplicate of a completed call gets the stored response; the work does not run.
//! - A duplicate while the first is still running fails with
//!   [`IdempotencyError::AlreadyInProgress`] (`Idempotency.AlreadyInProgress`), which is
//!   retryable. The in-progress record lapses at the first attempt's deadline, so an attempt
//!   that crashed or timed out does not block its retries for longer.
//! - When the work fails, the record is deleted, so the retry runs.
//! - With [`Call::validate`], a duplicate whose chosen payload part differs fails with
//!   [`IdempotencyError::PayloadMismatch`] instead of getting another payload's response.
//! - When the store is down, the call fails ([`IdempotencyError::Store`]) without running the
//!   work: nothing runs that could not be recorded.
//!
//! ```no_run
//! use lamina::idempotency::{Idempotency, MemoryStore};
//! use lamina::{Context, Error};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Payment { payment_id: String, cents: u64 }
//!
//! #[derive(Serialize, Deserialize)]
//! struct Receipt { charged: u64 }
//!
//! async fn init() -> Result<Idempotency<MemoryStore>, Error> {
//!     // Deployed, use the DynamoDB store (feature `idempotency-dynamodb`).
//!     Ok(Idempotency::new(MemoryStore::default()))
//! }
//!
//! #[lamina::handler(init = init)]
//! async fn charge(
//!     payment: Payment,
//!     ctx: Context,
//!     idempotency: &Idempotency<MemoryStore>,
//! ) -> Result<Receipt, Error> {
//!     idempotency
//!         .key(&payment.payment_id)
//!         .validate(&payment.cents)
//!         .run(&ctx, || async {
//!             // charge the card once
//!             Ok::<_, Error>(Receipt { charged: payment.cents })
//!         })
//!         .await
//! }
//! ```
//!
//! Inside the SQS, Kinesis and DynamoDB Streams batch helpers, call it per message: a duplicate
//! message is skipped (its stored result stands), an in-progress one fails alone and is
//! delivered again; the rest of the batch is unaffected.

#[cfg(feature = "idempotency-dynamodb")]
pub mod dynamodb;
mod error;
mod key;
mod local_cache;
mod memory;
mod sha256;
mod store;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::{Error, IntoError};
use local_cache::LocalCache;

pub use error::IdempotencyError;
pub use memory::MemoryStore;
pub use store::{Record, Status, Store, StoreError, Written};

/// `POWERTOOLS_IDEMPOTENCY_DISABLED`: `true` or `1` runs every call without a record, as
/// Powertools does (for local tests without a store).
pub const DISABLED_VAR: &str = "POWERTOOLS_IDEMPOTENCY_DISABLED";

/// How long a completed record counts by default: one hour, as in Powertools.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(3600);

/// How many completed records [`Idempotency::local_cache`] keeps by default: 256, as in
/// Powertools.
pub const DEFAULT_CACHE: usize = 256;

/// The shortest time an in-progress record is held when the invocation has no deadline ahead
/// (a local run).
const MIN_IN_PROGRESS: Duration = Duration::from_secs(1);

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Idempotent calls backed by a [`Store`]: build one in `init` and share it.
pub struct Idempotency<S> {
    store: S,
    expires_after: Duration,
    scope: Option<String>,
    cache: Option<Mutex<LocalCache>>,
    disabled: bool,
    clock: Clock,
}

impl<S: Store> Idempotency<S> {
    /// Idempotent calls recorded in `store`, expiring after [`DEFAULT_EXPIRY`], with no local
    /// cache. `POWERTOOLS_IDEMPOTENCY_DISABLED` turns recording off.
    pub fn new(store: S) -> Self {
        let disabled = std::env::var(DISABLED_VAR)
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1");
        Idempotency {
            store,
            expires_after: DEFAULT_EXPIRY,
            scope: None,
            cache: None,
            disabled,
            clock: Arc::new(crate::context::epoch_ms_now),
        }
    }

    /// How long a completed call's response is replayed to duplicates (rounded down to whole
    /// seconds, at least one).
    pub fn expires_after(mut self, expiry: Duration) -> Self {
        self.expires_after = expiry.max(Duration::from_secs(1));
        self
    }

    /// The prefix of every key, instead of the function's name: calls in different scopes never
    /// match, calls in the same scope (several functions sharing records) do.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Keeps up to `capacity` completed records in this process, so a duplicate that reaches
    /// the same execution environment is answered without the store (0 turns it off).
    pub fn local_cache(mut self, capacity: usize) -> Self {
        self.cache = (capacity > 0).then(|| Mutex::new(LocalCache::new(capacity)));
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// A call keyed by `part`: the SHA-256 of its canonical JSON. Pass what identifies the
    /// request (an order id, a message's body, the whole event).
    pub fn key<K: Serialize + ?Sized>(&self, part: &K) -> Call<'_, S> {
        Call {
            idempotency: self,
            key: key::hash(part),
            validation: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    #[cfg(test)]
    pub(crate) fn enabled(mut self) -> Self {
        self.disabled = false;
        self
    }

    fn cached(&self, key: &str, now_ms: u64) -> Option<Record> {
        let cache = self.cache.as_ref()?;
        cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key, now_ms)
    }

    fn remember(&self, record: Record) {
        if let Some(cache) = &self.cache {
            cache.lock().unwrap_or_else(|p| p.into_inner()).put(record);
        }
    }
}

/// One idempotent call: [`Idempotency::key`], optionally [`Call::validate`], then
/// [`Call::run`].
#[must_use = "nothing runs until `run` is awaited"]
pub struct Call<'a, S> {
    idempotency: &'a Idempotency<S>,
    key: Result<String, serde_json::Error>,
    validation: Option<Result<String, serde_json::Error>>,
}

impl<S: Store> Call<'_, S> {
    /// Also records the SHA-256 of `part`, and refuses a duplicate whose `part` differs
    /// ([`IdempotencyError::PayloadMismatch`]): for a key that is an id the caller chooses,
    /// so a reused id does not return another payload's response.
    pub fn validate<V: Serialize + ?Sized>(mut self, part: &V) -> Self {
        self.validation = Some(key::hash(part));
        self
    }

    /// Runs `work` unless a call with the same key completed (its stored response is returned)
    /// or is in progress (an error); records the outcome.
    ///
    /// `ctx` gives the deadline the in-progress record lapses at, and the function's name for
    /// the default scope.
    ///
    /// # Errors
    /// `work`'s own error (the record is then deleted, so a retry runs), or an
    /// [`IdempotencyError`] under its `errorType`.
    ///
    /// # Cancel safety
    /// When the future is dropped while `work` runs (the deadline guard, a panic), the record
    /// stays in progress until `ctx`'s deadline and then lapses.
    pub fn run<R, F, Fut, E>(self, ctx: &Context, work: F) -> impl Future<Output = Result<R, Error>>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
        E: IntoError,
    {
        // Boxed: inline, the call's state machine made the handler's future large enough that
        // moving it when the invocation starts cost more than this allocation (the bench's
        // Powertools rows).
        Box::pin(self.run_inline(ctx, work))
    }

    async fn run_inline<R, F, Fut, E>(self, ctx: &Context, work: F) -> Result<R, Error>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
        E: IntoError,
    {
        let idempotency = self.idempotency;
        if idempotency.disabled {
            return work().await.map_err(IntoError::into_error);
        }
        let hash = self
            .key
            .map_err(|e| IdempotencyError::Key(e).into_error())?;
        let validation = self
            .validation
            .transpose()
            .map_err(|e| IdempotencyError::Key(e).into_error())?;
        let scope = idempotency
            .scope
            .as_deref()
            .unwrap_or_else(|| ctx.function_name());
        let mut key = String::with_capacity(scope.len() + 1 + hash.len());
        key.push_str(scope);
        key.push('#');
        key.push_str(&hash);
        let now = (idempotency.clock)();
        if let Some(hit) = idempotency.cached(&key, now) {
            return replay(hit, validation.as_deref(), now);
        }
        let expires_at = |now_ms: u64| now_ms / 1000 + idempotency.expires_after.as_secs();
        let record = Record {
            key,
            status: Status::InProgress,
            expires_at: expires_at(now),
            in_progress_until_ms: Some(
                ctx.deadline_ms()
                    .max(now + MIN_IN_PROGRESS.as_millis() as u64),
            ),
            response: None,
            validation,
            attempt: Some(key::attempt_token()),
        };
        let existing = idempotency
            .store
            .begin(&record, now)
            .await
            .map_err(|e| IdempotencyError::Store(e).into_error())?;
        if let Some(existing) = existing {
            let result = replay(existing.clone(), record.validation.as_deref(), now);
            if result.is_ok() {
                idempotency.remember(existing);
            }
            return result;
        }
        let response = match work().await {
            Ok(response) => response,
            Err(err) => {
                let err = err.into_error();
                match idempotency.store.delete(&record).await {
                    Ok(Written::Done) => {}
                    Ok(Written::Superseded) => superseded(&record.key, "deleted"),
                    Err(store_err) => tracing::warn!(
                        key = %record.key,
                        error = %store_err,
                        "the work failed and its idempotency record could not be deleted; \
                         retries fail as in progress until the invocation's deadline"
                    ),
                }
                return Err(err);
            }
        };
        let json = match serde_json::to_string(&response) {
            Ok(json) => json,
            Err(source) => {
                let _ = idempotency.store.delete(&record).await;
                return Err(IdempotencyError::Response {
                    key: record.key,
                    source,
                }
                .into_error());
            }
        };
        let done = Record {
            status: Status::Completed,
            expires_at: expires_at((idempotency.clock)()),
            in_progress_until_ms: None,
            response: Some(json),
            key: record.key.clone(),
            validation: record.validation.clone(),
            attempt: None,
        };
        let written = idempotency
            .store
            .complete(&record, &done)
            .await
            .map_err(|e| IdempotencyError::Store(e).into_error())?;
        match written {
            Written::Done => idempotency.remember(done),
            Written::Superseded => superseded(&record.key, "completed"),
        }
        Ok(response)
    }
}

/// Logs that an attempt outlived its record: its deadline passed, another attempt took the key
/// over, and this one's write was refused so as not to clobber the other's record.
fn superseded(key: &str, write: &str) {
    tracing::warn!(
        key,
        "this attempt ran past its deadline and another attempt took its idempotency record \
         over, so the record was not {write}: the other attempt's outcome stands for the key"
    );
}

/// What a duplicate gets: the stored response, or why not.
fn replay<R: DeserializeOwned>(
    existing: Record,
    validation: Option<&str>,
    now_ms: u64,
) -> Result<R, Error> {
    // Not a let chain: those need Rust 1.88, and the crate's rust-version is 1.85.
    let mismatch = matches!(
        (existing.validation.as_deref(), validation),
        (Some(stored), Some(given)) if stored != given
    );
    if mismatch {
        return Err(IdempotencyError::PayloadMismatch { key: existing.key }.into_error());
    }
    match existing.status {
        Status::InProgress => {
            let until = existing.in_progress_until_ms.unwrap_or(now_ms);
            Err(IdempotencyError::AlreadyInProgress {
                key: existing.key,
                retry_in: Duration::from_millis(until.saturating_sub(now_ms)),
            }
            .into_error())
        }
        Status::Completed => {
            let json = existing.response.as_deref().unwrap_or("null");
            serde_json::from_str(json).map_err(|source| {
                IdempotencyError::StoredResponse {
                    key: existing.key,
                    line: source.line(),
                    column: source.column(),
                    type_name: std::any::type_name::<R>(),
                }
                .into_error()
            })
        }
    }
}

#[cfg(test)]
mod tests;
