//! One fetch per key at a time: the gets of a key that arrive while it is being fetched wait for
//! that fetch and share its result.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::cached_file::CachedFile;
use super::format::Kind;

/// The fetches in progress, by kind and key: a bytes get never waits for a file fetch.
#[derive(Default)]
pub(super) struct Flights(Mutex<FlightMap>);

type FlightMap = HashMap<(Kind, Box<str>), Arc<Flight>>;

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

impl Flights {
    pub(super) fn lock(&self) -> MutexGuard<'_, FlightMap> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Boards the fetch in progress for `key`, or a new one for this get to lead.
    pub(super) fn board<'a>(&'a self, kind: Kind, key: &'a str) -> Boarding<'a> {
        let flight = Arc::clone(self.lock().entry((kind, key.into())).or_insert_with(|| {
            Arc::new(Flight {
                result: tokio::sync::OnceCell::new(),
                stale: AtomicBool::new(false),
            })
        }));
        Boarding {
            flights: self,
            kind,
            key,
            flight,
            landed: AtomicBool::new(false),
        }
    }

    /// Retires a flight once its result is known: later gets go to the index instead.
    fn land(&self, kind: Kind, key: &str, flight: &Arc<Flight>) {
        let mut flights = self.lock();
        let id = (kind, Box::<str>::from(key));
        if flights.get(&id).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            flights.remove(&id);
        }
    }
}

/// One get's place on a flight: the leader's or a joiner's, which only [`Boarding::fly`] tells.
///
/// Dropping it before the flight has a result (the fetch failed, or the get was cancelled)
/// retires the flight unless other gets still wait on it (one of them leads next), so keys whose
/// fetches fail or time out do not pile up in the map.
pub(super) struct Boarding<'a> {
    flights: &'a Flights,
    kind: Kind,
    key: &'a str,
    flight: Arc<Flight>,
    landed: AtomicBool,
}

impl Boarding<'_> {
    /// Runs `lead` unless another get is already running its own for this key, and shares the
    /// result: the one `lead` returned, or the one this get waited for. If the get waited for
    /// fails or is cancelled, a waiting get runs its `lead` instead, so none waits forever.
    ///
    /// `lead` returns what it shares with the gets that wait, and what only this get keeps;
    /// the latter is `Some` when this get led.
    pub(super) async fn fly<M, Fut, E>(
        &self,
        lead: impl FnOnce() -> Fut,
    ) -> Result<(&Shared, Option<M>), E>
    where
        Fut: Future<Output = Result<(Shared, M), E>>,
    {
        let mut mine = None;
        let shared = self
            .flight
            .result
            .get_or_try_init(|| async {
                let (shared, kept) = lead().await?;
                self.land();
                mine = Some(kept);
                Ok(shared)
            })
            .await?;
        Ok((shared, mine))
    }

    /// The flight, for its `stale` flag.
    pub(super) fn flight(&self) -> &Flight {
        &self.flight
    }

    /// Retires the flight now that its result is known; once is enough.
    pub(super) fn land(&self) {
        if !self.landed.swap(true, Ordering::AcqRel) {
            self.flights.land(self.kind, self.key, &self.flight);
        }
    }

    /// Whether gets other than this one wait for the result. Exact once the flight has landed:
    /// no get can join it after that.
    pub(super) fn is_awaited(&self) -> bool {
        Arc::strong_count(&self.flight) > 1
    }
}

impl Drop for Boarding<'_> {
    fn drop(&mut self) {
        if self.flight.result.initialized() || self.landed.load(Ordering::Acquire) {
            return;
        }
        // The map's reference and ours: no one else waits for this flight.
        if Arc::strong_count(&self.flight) <= 2 {
            self.land();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::io;
    use std::pin::pin;
    use std::task::Poll;

    use super::super::Cache;

    /// Polls `get` once, as a `tokio::time::timeout` that fires at once would, then drops it.
    async fn cancel_after_first_poll<T>(get: impl Future<Output = T>) {
        let mut get = pin!(get);
        let first = std::future::poll_fn(|cx| Poll::Ready(get.as_mut().poll(cx).is_pending()));
        assert!(first.await, "the fetch never ends");
    }

    #[test]
    fn cancelled_gets_leave_no_flight_and_no_reserved_space_behind() {
        let dir = std::env::temp_dir().join(format!("lamina-cache-cancel-{}", std::process::id()));
        let cache = Cache::builder().dir(&dir).min_free(0).open().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            for key in ["a", "b", "c"] {
                cancel_after_first_poll(cache.get_or_fetch_bytes(key, None, || {
                    std::future::pending::<io::Result<Vec<u8>>>()
                }))
                .await;
                cancel_after_first_poll(
                    cache
                        .get_or_fetch_file(key, None, |_| std::future::pending::<io::Result<()>>()),
                )
                .await;
            }
        });
        assert_eq!(
            cache.inner.flights.lock().len(),
            0,
            "retired with their gets"
        );
        let index = cache.inner.index();
        assert_eq!((index.used(), index.stored()), (0, 0));
        drop(index);
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Managed Instances: gets of one key from worker threads, each on its own current-thread
    /// runtime as lamina's workers are, share one fetch.
    #[test]
    fn gets_from_several_threads_share_one_fetch() {
        let dir = std::env::temp_dir().join(format!("lamina-cache-threads-{}", std::process::id()));
        let cache = Cache::builder().dir(&dir).min_free(0).open().unwrap();
        let fetches = std::sync::atomic::AtomicUsize::new(0);
        let barrier = std::sync::Barrier::new(4);
        let values: Vec<Vec<u8>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_time()
                            .build()
                            .unwrap();
                        barrier.wait();
                        runtime.block_on(async {
                            cache
                                .get_or_fetch_bytes("shared", None, || async {
                                    fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                                    Ok::<_, io::Error>(b"once".to_vec())
                                })
                                .await
                                .unwrap()
                                .into_inner()
                        })
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert!(values.iter().all(|v| v == b"once"));
        assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
