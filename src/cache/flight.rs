//! One fetch per key at a time: the gets of a key that arrive while it is being fetched wait for
//! that fetch and share its result.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, MutexGuard, PoisonError};

use super::file::CachedFile;
use super::format::Kind;
use super::store::Inner;

pub(super) type Flights = HashMap<(Kind, Box<str>), Arc<Flight>>;

/// A fetch in progress, which other gets of the same key wait for.
pub(super) struct Flight {
    pub(super) result: tokio::sync::OnceCell<Shared>,
    /// Set by `invalidate`: the result is still handed out but must not be stored.
    pub(super) stale: AtomicBool,
}

/// What a fetch hands to the gets that waited for it.
pub(super) enum Shared {
    /// The stored form of the value; `None` when no one was waiting, or it had none.
    Blob {
        bytes: Option<Arc<Vec<u8>>>,
        stored: bool,
    },
    File {
        file: CachedFile,
        stored: bool,
    },
}

impl Inner {
    pub(super) fn flights(&self) -> MutexGuard<'_, Flights> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fetch in progress for `key`, or a new one for this call to lead.
    pub(super) fn flight(&self, kind: Kind, key: &str) -> Arc<Flight> {
        Arc::clone(self.flights().entry((kind, key.into())).or_insert_with(|| {
            Arc::new(Flight {
                result: tokio::sync::OnceCell::new(),
                stale: AtomicBool::new(false),
            })
        }))
    }

    /// Retires a flight once its result is known: later gets go to the index instead.
    pub(super) fn land(&self, kind: Kind, key: &str, flight: &Arc<Flight>) {
        let mut flights = self.flights();
        let id = (kind, Box::<str>::from(key));
        if flights.get(&id).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            flights.remove(&id);
        }
    }

    /// After a failed fetch: retires the flight unless other gets still wait on it (one of
    /// them fetches next), so failing keys do not pile up.
    pub(super) fn abandon(&self, kind: Kind, key: &str, flight: &Arc<Flight>) {
        // The map's reference and ours.
        if Arc::strong_count(flight) <= 2 {
            self.land(kind, key, flight);
        }
    }
}
