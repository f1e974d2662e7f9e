//! A cache in `/tmp` that keeps what a function fetched for the next invocations, and never
//! fails one.
//!
//! Lambda keeps an execution environment's `/tmp` (512 MB by default, up to 10 GB) while the
//! environment stays warm, and across a restart of the function's process in it. A model, a data
//! set or an asset fetched once can be served from there for hours. Doing that by hand means
//! solving the same problems every time: a half-written file after a crash or a timeout, a full
//! disk, a corrupted entry, two requests downloading the same thing at once, files another
//! process (a layer, an extension) can read. This module solves them once.
//!
//! ```no_run
//! use std::time::Duration;
//! use lamina::cache::Cache;
//! use lamina::{Context, Error};
//!
//! struct App { cache: Cache }
//!
//! async fn init() -> Result<App, Error> {
//!     Ok(App { cache: Cache::builder().namespace("models").open()? })
//! }
//!
//! # async fn download(_url: &str, _to: &std::path::Path) -> Result<(), Error> { Ok(()) }
//! #[lamina::handler(init = init)]
//! async fn classify(event: serde_json::Value, _ctx: Context, app: &App) -> Result<u64, Error> {
//!     // The first invocation downloads; the next ones (and a restarted process) find the file.
//!     let model = app
//!         .cache
//!         .get_or_fetch_file("model-v3", Duration::from_secs(24 * 3600), |path| async move {
//!             download("https://example.invalid/model-v3.onnx", &path).await
//!         })
//!         .await?;
//!     Ok(model.len())
//! }
//! ```
//!
//! # What it promises
//!
//! - **Get or fetch.** [`Cache::get_or_fetch_bytes`], [`Cache::get_or_fetch_json`] and
//!   [`Cache::get_or_fetch_file`] return what is stored under a key, or run your async `fetch`,
//!   store its result and return it. An entry may have a time to live; [`Cache::invalidate`]
//!   removes one at once.
//! - **The cache never fails a call.** A full file system, a read-only or missing `/tmp`, a
//!   directory it may not write, a truncated or corrupted entry, another process replacing or
//!   deleting an entry: each is one `WARN` log line, and the call goes on as a miss (your `fetch`
//!   runs and its value is returned, stored or not). The only error a get returns is your
//!   `fetch`'s own (for a file, that includes its own writes: see [`Cache::get_or_fetch_file`]).
//! - **Atomic entries.** Entries are written to a temporary file and renamed into place; a
//!   crash leaves nothing that reads as valid, and a `fetch` that fails or is cancelled (a
//!   timeout around the get) deletes what it wrote. Each entry carries its key, its length and
//!   an XXH64 checksum, checked on every read (a file entry's content is checked once per
//!   process, then re-checked only if the file changes).
//! - **Survives restarts.** [`Builder::open`] rebuilds the index from the entries' headers
//!   alone, without reading their content, and deletes what dead writers left half done.
//! - **Bounded.** A byte budget, by default half the file system, with least-recently-used
//!   eviction; and a free-space floor, by default a tenth of the file system, so the cache gives
//!   way to your other files instead of filling `/tmp`. Space is counted in the file system's
//!   blocks, as it is really taken. A file kept in memory because `/tmp` cannot take it is held
//!   to a quarter of the function's memory ([`Builder::max_in_memory`]).
//! - **One fetch per key at a time.** Concurrent gets of one key in the process wait for a
//!   single fetch and share its result, on any async runtime and across threads.
//! - **Private.** Files are mode 0600 in a 0700 directory of the process's own user,
//!   `/tmp/lamina-cache/<namespace>` by default; a directory owned by another user, a symbolic
//!   link or one left open to others (and not fixable) is not used. Extensions run as the
//!   function's own user, so the namespace keeps their entries apart by name, not permission.
//! - **Observable.** [`Cache::stats`] counts hits, misses, evictions and bytes, and every get
//!   logs one `DEBUG` line with its outcome and those totals.
//!
//! # Least recently used
//!
//! The order is kept in memory: a hit does not write to disk (it would cost a system call per
//! hit, and fail on a read-only file system). When the cache is opened, each entry starts at the
//! time it was written, so after a restart eviction goes by write time until entries are used.
//!
//! # Blocking
//!
//! Reads and writes of `/tmp` are made directly, not on a thread pool: lamina runs handlers on a
//! single-threaded runtime in an environment that serves one invocation at a time, where a local
//! file read is cheaper than a hop to another thread. Your `fetch` runs as ordinary async code.
//! On a multi-threaded runtime the cache is just as correct; a large entry then occupies a worker
//! while it is read.

mod cached_file;
mod disk;
mod file;
mod flight;
mod format;
mod hash;
mod index;
mod store;
mod sys;
mod value;

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use cached_file::CachedFile;
use store::Inner;
use value::{JsonValue, RawBytes};

/// The directory under the system's temporary directory that holds every namespace.
const ROOT_DIR: &str = "lamina-cache";
const DEFAULT_NAMESPACE: &str = "default";
/// Used when the file system cannot say its size.
pub(crate) const FALLBACK_BUDGET: u64 = 256 * 1024 * 1024;
pub(crate) const FALLBACK_BLOCK: u64 = 4096;

/// A cache of bytes, JSON values and files in a directory that outlives the invocation.
///
/// Build one in your `init` and keep it in your state; it is cheap to clone (clones share one
/// index) and it is `Send + Sync`.
///
/// ```no_run
/// use lamina::cache::Cache;
///
/// # fn main() -> Result<(), lamina::cache::OpenError> {
/// // /tmp/lamina-cache/default, with the default budget and free-space floor.
/// let cache = Cache::open()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

/// Options for a [`Cache`]; from [`Cache::builder`].
///
/// ```
/// use lamina::cache::Cache;
///
/// # let dir = std::env::temp_dir().join(format!("lamina-doc-builder-{}", std::process::id()));
/// let cache = Cache::builder()
///     .dir(&dir)                      // default: /tmp/lamina-cache
///     .namespace("thumbnails")        // default: "default"
///     .budget(64 * 1024 * 1024)       // default: half the file system
///     .min_free(16 * 1024 * 1024)     // default: a tenth of the file system
///     .max_in_memory(32 * 1024 * 1024) // default: a quarter of the function's memory
///     .open()?;
/// assert_eq!(cache.dir(), dir.join("thumbnails"));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), lamina::cache::OpenError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Builder {
    dir: Option<PathBuf>,
    namespace: Option<String>,
    budget: Option<u64>,
    min_free: Option<u64>,
    max_in_memory: Option<u64>,
}

impl Builder {
    /// The directory that holds the namespaces. Default: `lamina-cache` in the system's
    /// temporary directory (`$TMPDIR`, else `/tmp`), created if need be.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// The subdirectory this cache keeps its entries in: 1 to 64 ASCII letters, digits, `-`,
    /// `_` or `.`. Default: `default`.
    ///
    /// Give a layer's or an extension's code a namespace of its own: they share `/tmp` with the
    /// function (and its user, so files are kept apart by name, not by permissions). Two caches
    /// with different namespaces also have separate budgets.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// At most this many bytes on disk, counted in the file system's blocks. Default: half the
    /// size of the file system the directory is on (256 MiB when that cannot be read).
    ///
    /// Storing beyond it evicts expired entries, then the least recently used.
    pub fn budget(mut self, bytes: u64) -> Self {
        self.budget = Some(bytes);
        self
    }

    /// Evict, or skip storing, rather than leave less than this many bytes free on the file
    /// system. Default: a tenth of its size. `0` turns the floor off: then only the budget and
    /// the file system itself (`ENOSPC`) limit the cache.
    pub fn min_free(mut self, bytes: u64) -> Self {
        self.min_free = Some(bytes);
        self
    }

    /// The most a file from [`Cache::get_or_fetch_file`] may take in memory, where it goes when
    /// the cache directory cannot take it. Default: a quarter of the function's memory
    /// (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`); outside Lambda, a quarter of the machine's.
    ///
    /// Running out of memory is the one failure a function cannot handle: Lambda kills it, and
    /// the invocation gets no error of yours. So an artefact that outgrows this limit is
    /// discarded and `fetch`'s writes to it fail, and the get returns `fetch`'s error. The
    /// default leaves three quarters for everything else the function holds, including what it
    /// loads from the artefact (a model parsed from its file is about as large again).
    pub fn max_in_memory(mut self, bytes: u64) -> Self {
        self.max_in_memory = Some(bytes);
        self
    }

    /// Opens the cache: creates its directory (mode 0700) if need be, deletes temporary files
    /// left by processes that no longer run, and indexes the entries already there from their
    /// headers (one `open`, read and `fstat` per entry). Do it once, in `init`, and keep the
    /// [`Cache`].
    ///
    /// A directory that cannot be used (a read-only or missing file system, no permission, a
    /// directory of another user's) does not make this fail: it is logged once as a warning, and
    /// every get then fetches, as if the cache were empty. Entries that are truncated or corrupt
    /// are deleted and logged in one warning.
    ///
    /// # Errors
    ///
    /// Only for options no directory could satisfy: an [`OpenError::InvalidNamespace`] or an
    /// [`OpenError::ZeroBudget`].
    pub fn open(self) -> Result<Cache, OpenError> {
        let namespace = self
            .namespace
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        if !is_valid_namespace(&namespace) {
            return Err(OpenError::InvalidNamespace { namespace });
        }
        if self.budget == Some(0) {
            return Err(OpenError::ZeroBudget);
        }
        let dir = self
            .dir
            .unwrap_or_else(|| std::env::temp_dir().join(ROOT_DIR))
            .join(&namespace);
        Ok(Cache {
            inner: Arc::new(Inner::open(
                dir,
                self.budget,
                self.min_free,
                self.max_in_memory,
            )),
        })
    }
}

fn is_valid_namespace(namespace: &str) -> bool {
    (1..=64).contains(&namespace.len())
        && namespace != "."
        && namespace != ".."
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The options given to [`Builder`] cannot work, whatever the file system.
///
/// New variants may be added in minor releases, so a `match` needs a `_` arm.
///
/// ```
/// use lamina::cache::{Cache, OpenError};
///
/// let err = Cache::builder().namespace("../etc").open().unwrap_err();
/// assert!(matches!(err, OpenError::InvalidNamespace { .. }));
/// assert_eq!(
///     err.to_string(),
///     "the cache namespace `../etc` is not a plain directory name; use 1 to 64 ASCII letters, \
///      digits, `-`, `_` or `.`, such as `models`"
/// );
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The namespace is not a plain directory name.
    InvalidNamespace {
        /// The namespace as given.
        namespace: String,
    },
    /// A budget of zero bytes was given.
    ZeroBudget,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::InvalidNamespace { namespace } => write!(
                f,
                "the cache namespace `{namespace}` is not a plain directory name; use 1 to 64 \
                 ASCII letters, digits, `-`, `_` or `.`, such as `models`"
            ),
            OpenError::ZeroBudget => f.write_str(
                "a cache budget of 0 bytes can hold nothing; give a budget of at least one \
                 entry's size, or leave it out for half the file system",
            ),
        }
    }
}

impl std::error::Error for OpenError {}

/// A value from the cache, with where it came from. Dereferences to the value.
///
/// ```
/// # use lamina::cache::{Cache, Source};
/// # let dir = std::env::temp_dir().join(format!("lamina-doc-cached-{}", std::process::id()));
/// # let cache = Cache::builder().dir(&dir).min_free(0).open()?; // the host's disk may be fuller than Lambda's /tmp
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let greeting = cache
///     .get_or_fetch_bytes("greeting", None, || async { Ok::<_, std::io::Error>(b"hi".to_vec()) })
///     .await?;
/// assert_eq!(&greeting[..], b"hi");          // through `Deref`
/// assert_eq!(greeting.source(), Source::Fetched);
/// assert!(greeting.is_stored());
/// let again = cache
///     .get_or_fetch_bytes("greeting", None, || async { Ok::<_, std::io::Error>(Vec::new()) })
///     .await?;
/// assert!(again.is_hit());
/// assert_eq!(again.into_inner(), b"hi");
/// # Ok::<(), std::io::Error>(()) })?;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cached<T> {
    value: T,
    source: Source,
    stored: bool,
}

impl<T> Cached<T> {
    /// Where the value came from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Whether no `fetch` ran for this call: the value was stored, or another call fetched it.
    pub fn is_hit(&self) -> bool {
        self.source != Source::Fetched
    }

    /// Whether the value is in the cache now, for the next calls. `false` when it could not be
    /// stored (the reason was logged as a warning), or it was invalidated while being fetched.
    pub fn is_stored(&self) -> bool {
        self.stored
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for Cached<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Where a [`Cached`] value came from.
///
/// New variants may be added in minor releases, so a `match` needs a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// Read from the cache.
    Hit,
    /// This call ran its `fetch`.
    Fetched,
    /// Another call was fetching the same key; this one waited and shares its result.
    Joined,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Hit => "hit",
            Source::Fetched => "miss",
            Source::Joined => "joined",
        })
    }
}

/// A snapshot of a cache's counters, from [`Cache::stats`]. Counts start when the cache is opened.
///
/// Its `Display` is one line, as the cache's `DEBUG` log lines show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Gets served from the cache.
    pub hits: u64,
    /// Gets that ran their `fetch`.
    pub misses: u64,
    /// Gets that waited for another get's `fetch` of the same key.
    pub joined: u64,
    /// Entries removed to stay within the budget or the free-space floor, or because the file
    /// system was full.
    pub evictions: u64,
    /// Entries removed because their time to live ran out.
    pub expirations: u64,
    /// Problems the cache worked around, each logged as a warning: an entry that could not be
    /// read or stored, a directory that could not be used.
    pub errors: u64,
    /// Entries in the cache.
    pub entries: u64,
    /// The space they take, in bytes, counted in whole blocks of the file system.
    pub bytes: u64,
    /// The most `bytes` may reach.
    pub budget: u64,
}

impl fmt::Display for CacheStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} hits, {} misses, {} joined, {} evicted, {} expired, {} errors; {} of {} bytes in \
             {} entries",
            self.hits,
            self.misses,
            self.joined,
            self.evictions,
            self.expirations,
            self.errors,
            self.bytes,
            self.budget,
            self.entries
        )
    }
}

impl Cache {
    /// Options for a cache: directory, namespace, budget.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Opens the cache with the default options: `/tmp/lamina-cache/default`, a budget of half
    /// the file system, a tenth of it kept free. See [`Builder::open`].
    ///
    /// # Errors
    ///
    /// None with the default options; the `Result` is [`Builder::open`]'s.
    pub fn open() -> Result<Cache, OpenError> {
        Builder::default().open()
    }

    /// The directory entries are kept in: the builder's directory joined with the namespace.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The counters so far.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("lamina-doc-stats-{}", std::process::id()));
    /// let cache = lamina::cache::Cache::builder().dir(&dir).budget(1 << 20).open()?;
    /// let stats = cache.stats();
    /// assert_eq!((stats.hits, stats.misses, stats.budget), (0, 0, 1 << 20));
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), lamina::cache::OpenError>(())
    /// ```
    pub fn stats(&self) -> CacheStats {
        self.inner.stats()
    }

    /// The bytes stored under `key`, or else those `fetch` returns, stored for next time.
    ///
    /// `ttl` is how long the stored bytes may be served: a [`Duration`], or `None` for as long
    /// as the budget allows. While one call fetches a key, other calls for it wait and share the
    /// result (their `fetch` is not run, unless the first one fails or is cancelled).
    ///
    /// Keep entries small enough to hold in memory a few times over; for artefacts of many
    /// megabytes use [`Cache::get_or_fetch_file`], which never loads them.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let dir = std::env::temp_dir().join(format!("lamina-doc-bytes-{}", std::process::id()));
    /// # let cache = lamina::cache::Cache::builder().dir(&dir).min_free(0).open()?; // the host's disk may be fuller than Lambda's /tmp
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let page = cache
    ///     .get_or_fetch_bytes("https://example.invalid/", Duration::from_secs(60), || async {
    ///         Ok::<_, std::io::Error>(b"<html>...</html>".to_vec()) // an HTTP GET, say
    ///     })
    ///     .await?;
    /// assert!(page.starts_with(b"<html>"));
    /// # Ok::<(), std::io::Error>(()) })?;
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Only `fetch`'s error, when it ran and failed; nothing is stored then. Problems of the
    /// cache itself are logged and worked around, never returned.
    pub async fn get_or_fetch_bytes<F, Fut, E>(
        &self,
        key: &str,
        ttl: impl Into<Option<Duration>>,
        fetch: F,
    ) -> Result<Cached<Vec<u8>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, E>>,
    {
        self.inner
            .get_blob::<Vec<u8>, RawBytes, F, Fut, E>(key, ttl.into(), fetch)
            .await
    }

    /// The value stored under `key`, or else the one `fetch` returns, stored (as JSON) for next
    /// time.
    ///
    /// Like [`Cache::get_or_fetch_bytes`], for any type serde can write and read back. A stored
    /// value that no longer decodes as `T` (the type changed) counts as a corrupt entry: it is
    /// replaced by a fresh fetch, with a warning.
    ///
    /// ```
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize)]
    /// struct Rates { eur_usd: f64 }
    ///
    /// # let dir = std::env::temp_dir().join(format!("lamina-doc-json-{}", std::process::id()));
    /// # let cache = lamina::cache::Cache::builder().dir(&dir).min_free(0).open()?; // the host's disk may be fuller than Lambda's /tmp
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let rates = cache
    ///     .get_or_fetch_json("rates", std::time::Duration::from_secs(300), || async {
    ///         Ok::<_, std::io::Error>(Rates { eur_usd: 1.08 })
    ///     })
    ///     .await?;
    /// assert_eq!(rates.eur_usd, 1.08);
    /// # Ok::<(), std::io::Error>(()) })?;
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Only `fetch`'s error, when it ran and failed.
    pub async fn get_or_fetch_json<T, F, Fut, E>(
        &self,
        key: &str,
        ttl: impl Into<Option<Duration>>,
        fetch: F,
    ) -> Result<Cached<T>, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.inner
            .get_blob::<T, JsonValue, F, Fut, E>(key, ttl.into(), fetch)
            .await
    }

    /// The file stored under `key`, or else the one `fetch` writes, stored for next time.
    ///
    /// For artefacts too large to hold in memory: `fetch` is given a path to write the content
    /// to (an empty, private file in the cache directory, which it may also replace), and the
    /// content never passes through the cache's memory. The first time this process hands out a
    /// stored file, its checksum is verified; afterwards only when the file changed.
    ///
    /// If the cache directory cannot take a new file (read-only, missing, not permitted, or its
    /// file system has not one block free), `fetch` is given `/proc/self/fd/N`, an anonymous
    /// in-memory file, so the call still succeeds; the returned [`CachedFile`] keeps it alive. If
    /// the artefact turns out larger than the budget or the free space allows, it is not stored
    /// and is served from the deleted file the same way.
    ///
    /// Memory is bounded by [`Builder::max_in_memory`] (a quarter of the function's memory by
    /// default), because running out of it kills the function instead of failing the call. Each
    /// time `fetch` yields (awaits), the cache looks at the in-memory file; once it has grown
    /// past the limit, the cache empties it, giving the memory back, and seals it, so that
    /// `fetch`'s next write fails with `EPERM` ([`io::ErrorKind::PermissionDenied`]) and the get
    /// returns `fetch`'s error, with a warning that names the limit. The cache cannot look
    /// inside one step of `fetch`: an artefact written in one step (a single `write`, or
    /// `tokio::fs::write`) is whole before it can be seen, and is served, since it was in memory
    /// already. A download written chunk by chunk, as a streamed body is, is stopped within a
    /// chunk of the limit.
    ///
    /// The size is unknown until `fetch` is done, so a file system that fills up *while* `fetch`
    /// writes fails `fetch`'s own write, and that is its error to return. Before `fetch` starts,
    /// the cache evicts down to its free-space floor, so the space it takes is never the reason.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("lamina-doc-file-{}", std::process::id()));
    /// # let cache = lamina::cache::Cache::builder().dir(&dir).min_free(0).open()?; // the host's disk may be fuller than Lambda's /tmp
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let model = cache
    ///     .get_or_fetch_file("model-v3", None, |path| async move {
    ///         // A real function streams a download into `path`.
    ///         std::fs::write(&path, vec![0u8; 4096])
    ///     })
    ///     .await?;
    /// assert_eq!(model.len(), 4096);
    /// assert_eq!(std::fs::read(model.path())?.len(), 4096);
    /// # Ok::<(), std::io::Error>(()) })?;
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Only `fetch`'s error, when it ran and failed; what it wrote is deleted. Its writes may fail
    /// because of the file system it writes to, or the in-memory limit above.
    ///
    /// [`io::ErrorKind::PermissionDenied`]: std::io::ErrorKind::PermissionDenied
    pub async fn get_or_fetch_file<F, Fut, E>(
        &self,
        key: &str,
        ttl: impl Into<Option<Duration>>,
        fetch: F,
    ) -> Result<Cached<CachedFile>, E>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        self.inner.get_file(key, ttl.into(), fetch).await
    }

    /// Removes the entry for `key`, if there is one; returns whether there was.
    ///
    /// A fetch of `key` already running when this is called still returns its value to the
    /// calls waiting for it, but does not store it. If the file system refuses the deletion
    /// (it is read-only), this process stops serving the entry and a warning is logged.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("lamina-doc-inval-{}", std::process::id()));
    /// # let cache = lamina::cache::Cache::builder().dir(&dir).min_free(0).open()?; // the host's disk may be fuller than Lambda's /tmp
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// cache.get_or_fetch_bytes("config", None, || async { Ok::<_, std::io::Error>(vec![1]) }).await?;
    /// assert!(cache.invalidate("config"));
    /// assert!(!cache.invalidate("config"));
    /// # Ok::<(), std::io::Error>(()) })?;
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn invalidate(&self, key: &str) -> bool {
        self.inner.invalidate(key)
    }

    /// Removes every entry; returns how many there were. Like [`Cache::invalidate`] for each.
    pub fn clear(&self) -> usize {
        self.inner.clear()
    }
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("dir", &self.inner.dir)
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: T) {}

    #[test]
    fn the_cache_and_its_futures_cross_threads() {
        let dir = std::env::temp_dir().join(format!("lamina-cache-send-{}", std::process::id()));
        let cache = Cache::builder().dir(&dir).open().unwrap();
        assert_send_sync(&cache);
        // With a `Send` fetch, every get is a `Send` future: fine for `tokio::spawn` on a
        // multi-threaded runtime.
        assert_send(cache.get_or_fetch_bytes("k", None, || async { Ok::<_, io::Error>(vec![]) }));
        assert_send(cache.get_or_fetch_json("k", None, || async { Ok::<_, io::Error>(1u8) }));
        assert_send(cache.get_or_fetch_file("k", None, |_| async { Ok::<_, io::Error>(()) }));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn namespaces_are_plain_names() {
        for good in ["default", "models", "a", "v1.2_x-y", &"n".repeat(64)] {
            assert!(is_valid_namespace(good), "{good:?}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "ünï", &"n".repeat(65)] {
            assert!(!is_valid_namespace(bad), "{bad:?}");
        }
        let zero = Cache::builder().budget(0).open().unwrap_err();
        assert!(matches!(zero, OpenError::ZeroBudget));
        assert_eq!(
            zero.to_string(),
            "a cache budget of 0 bytes can hold nothing; give a budget of at least one entry's \
             size, or leave it out for half the file system"
        );
    }

    #[test]
    fn stats_read_as_one_line() {
        let stats = CacheStats {
            hits: 3,
            misses: 1,
            joined: 2,
            evictions: 0,
            expirations: 1,
            errors: 0,
            entries: 2,
            bytes: 8192,
            budget: 1 << 20,
        };
        assert_eq!(
            stats.to_string(),
            "3 hits, 1 misses, 2 joined, 0 evicted, 1 expired, 0 errors; 8192 of 1048576 bytes in \
             2 entries"
        );
    }
}
