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
//!   crash leaves nothing that reads as valid. Each entry carries its key, its length and an XXH64
//!   checksum, checked on every read (a file entry's content is checked once per process, then
//!   re-checked only if the file changes).
//! - **Survives restarts.** [`Builder::open`] rebuilds the index from the entries' headers
//!   alone, without reading their content, and deletes what dead writers left half done.
//! - **Bounded.** A byte budget, by default half the file system, with least-recently-used
//!   eviction; and a free-space floor, by default a tenth of the file system, so the cache gives
//!   way to your other files instead of filling `/tmp`. Space is counted in the file system's
//!   blocks, as it is really taken.
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

mod disk;
mod format;
mod hash;
mod index;
mod sys;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io;
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

use format::{Corrupt, Header, Kind, Name, ReadError};
use index::{Counters, Entry, FileId, Index};

/// The directory under the system's temporary directory that holds every namespace.
const ROOT_DIR: &str = "lamina-cache";
const DEFAULT_NAMESPACE: &str = "default";
/// Used when the file system cannot say its size.
const FALLBACK_BUDGET: u64 = 256 * 1024 * 1024;
const FALLBACK_BLOCK: u64 = 4096;

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
            inner: Arc::new(Inner::open(dir, self.budget, self.min_free)),
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
/// # let cache = Cache::builder().dir(&dir).open()?;
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

/// A file from [`Cache::get_or_fetch_file`]: where its content is, kept readable while this
/// value lives.
///
/// [`CachedFile::path`] is the entry's file in the cache directory. It stays there until the
/// entry is evicted or invalidated; treat it as read-only, since the cache trusts it not to
/// change. [`CachedFile::open`] goes through a handle this value holds, so it works even after
/// the entry was evicted. When the artefact could not be stored (see [`Cached::is_stored`]), the
/// path is `/proc/self/fd/N`, a name for that handle, valid in this process while this value (or a
/// clone) lives; hand a child process a copy of the content, not that path.
#[derive(Debug, Clone)]
pub struct CachedFile {
    path: PathBuf,
    /// Keeps the content reachable after eviction, and a detached file alive at all.
    handle: Option<Arc<File>>,
    len: u64,
}

impl CachedFile {
    /// Where the content is, for APIs and tools that take a path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the content for reading, with a read position of its own.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("lamina-doc-open-{}", std::process::id()));
    /// # let cache = lamina::cache::Cache::builder().dir(&dir).open()?;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::io::Read;
    ///
    /// let notes = cache
    ///     .get_or_fetch_file("notes", None, |path| async move { std::fs::write(path, "hello") })
    ///     .await?;
    /// cache.invalidate("notes"); // gone from the cache, still readable here
    /// let mut text = String::new();
    /// notes.open()?.read_to_string(&mut text)?;
    /// assert_eq!(text, "hello");
    /// # Ok::<(), std::io::Error>(()) })?;
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When the file system refuses to open it (out of file descriptors, say), or, for a
    /// `fetch` that reported success without writing its file, because there is nothing to open.
    pub fn open(&self) -> io::Result<File> {
        if let Some(handle) = &self.handle {
            if let Ok(file) = File::open(proc_path(handle)) {
                return Ok(file);
            }
        }
        File::open(&self.path)
    }

    /// The content's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A file that could not be stored: its handle stands in for the path.
    fn detached(file: File) -> CachedFile {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        CachedFile {
            path: proc_path(&file),
            handle: Some(Arc::new(file)),
            len,
        }
    }
}

fn proc_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
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
    /// # let cache = lamina::cache::Cache::builder().dir(&dir).open()?;
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
    /// # let cache = lamina::cache::Cache::builder().dir(&dir).open()?;
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
    /// The size is unknown until `fetch` is done, so a file system that fills up *while* `fetch`
    /// writes fails `fetch`'s own write, and that is its error to return. Before `fetch` starts,
    /// the cache evicts down to its free-space floor, so the space it takes is never the reason.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("lamina-doc-file-{}", std::process::id()));
    /// # let cache = lamina::cache::Cache::builder().dir(&dir).open()?;
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
    /// Only `fetch`'s error, when it ran and failed; what it wrote is deleted.
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
    /// # let cache = lamina::cache::Cache::builder().dir(&dir).open()?;
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

/// How values of one kind become bytes and back.
trait Codec<T> {
    const KIND: Kind;
    fn encode(value: &T) -> Result<Cow<'_, [u8]>, String>;
    fn decode(bytes: &[u8]) -> Result<T, String>;
    /// The same, taking the buffer: bytes are returned as they are, without a copy.
    fn decode_vec(bytes: Vec<u8>) -> Result<T, String> {
        Self::decode(&bytes)
    }
}

struct RawBytes;

impl Codec<Vec<u8>> for RawBytes {
    const KIND: Kind = Kind::Bytes;
    fn encode(value: &Vec<u8>) -> Result<Cow<'_, [u8]>, String> {
        Ok(Cow::Borrowed(value))
    }
    fn decode(bytes: &[u8]) -> Result<Vec<u8>, String> {
        Ok(bytes.to_vec())
    }
    fn decode_vec(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(bytes)
    }
}

struct JsonValue;

impl<T: Serialize + DeserializeOwned> Codec<T> for JsonValue {
    const KIND: Kind = Kind::Json;
    fn encode(value: &T) -> Result<Cow<'_, [u8]>, String> {
        serde_json::to_vec(value)
            .map(Cow::Owned)
            .map_err(|e| format!("the value could not be written as JSON ({e})"))
    }
    fn decode(bytes: &[u8]) -> Result<T, String> {
        serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "it does not decode as `{}` ({e})",
                crate::error::short_type_name::<T>()
            )
        })
    }
}

/// The cache proper, shared by every clone of a [`Cache`].
struct Inner {
    dir: PathBuf,
    /// Why the directory must not be used at all, when it must not.
    unusable: Option<String>,
    budget: u64,
    min_free: u64,
    block: u64,
    index: Mutex<Index>,
    /// Fetches in progress, by kind and key: a bytes get never waits for a file fetch.
    flights: Mutex<Flights>,
}

type Flights = HashMap<(Kind, Box<str>), Arc<Flight>>;

/// A fetch in progress, which other gets of the same key wait for.
struct Flight {
    result: tokio::sync::OnceCell<Shared>,
    /// Set by `invalidate`: the result is still handed out but must not be stored.
    stale: AtomicBool,
}

/// What a fetch hands to the gets that waited for it.
enum Shared {
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

/// One get, for its log lines: what went wrong on the way is collected, then logged as one
/// warning when the get ends.
struct Call<'a> {
    key: &'a str,
    kind: Kind,
    name: Name,
    started: Instant,
    problems: Vec<String>,
}

impl<'a> Call<'a> {
    fn new(key: &'a str, kind: Kind) -> Self {
        Call {
            key,
            kind,
            name: Name::of(key),
            started: Instant::now(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, text: String) {
        self.problems.push(text);
    }
}

enum Target {
    /// A temporary file in the cache directory.
    Temp(PathBuf),
    /// An anonymous file in memory, at `/proc/self/fd/N`.
    Memory(File, PathBuf),
    /// Nowhere that works: `fetch` gets this path and will find out.
    Nowhere(PathBuf),
}

impl Target {
    fn path(&self) -> &Path {
        match self {
            Target::Temp(path) | Target::Memory(_, path) | Target::Nowhere(path) => path,
        }
    }

    fn discard(self) {
        if let Target::Temp(path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Inner {
    fn open(dir: PathBuf, budget: Option<u64>, min_free: Option<u64>) -> Inner {
        let mut unusable = None;
        let mut warnings = Vec::new();
        let handle = match disk::prepare(&dir) {
            Ok(handle) => Some(handle),
            Err(disk::DirError::Unsafe(why)) => {
                unusable = Some(why);
                None
            }
            Err(disk::DirError::Io(e)) => {
                warnings.push(format!(
                    "the cache directory {} cannot be used ({e}); every get will fetch until it \
                     can be written",
                    dir.display()
                ));
                None
            }
        };
        let space = handle.as_ref().and_then(|h| sys::fs_space(h).ok());
        let budget = budget.unwrap_or_else(|| space.map_or(FALLBACK_BUDGET, |s| s.total / 2));
        let min_free = min_free.unwrap_or_else(|| space.map_or(0, |s| s.total / 10));
        let block = space.map_or(FALLBACK_BLOCK, |s| s.block);
        let inner = Inner {
            dir,
            unusable,
            budget: budget.max(1),
            min_free,
            block,
            index: Mutex::new(Index::default()),
            flights: Mutex::new(HashMap::new()),
        };
        if let Some(why) = &inner.unusable {
            warnings.push(format!("the cache is off: {why}"));
        } else if handle.is_some() {
            inner.load(&mut warnings);
        }
        let mut index = inner.index();
        index.counters.errors += warnings.len() as u64;
        drop(index);
        for warning in warnings {
            tracing::warn!("lamina cache: {warning}");
        }
        tracing::debug!(
            "lamina cache opened at {}: {}",
            inner.dir.display(),
            inner.stats()
        );
        inner
    }

    /// Indexes what is already in the directory.
    fn load(&self, warnings: &mut Vec<String>) {
        let scan = match disk::scan(&self.dir) {
            Ok(scan) => scan,
            Err(e) => {
                warnings.push(format!(
                    "the cache directory {} cannot be listed ({e}); starting empty",
                    self.dir.display()
                ));
                return;
            }
        };
        if !scan.discarded.is_empty() {
            warnings.push(format!(
                "{} unusable entries in {} were dropped: {}",
                scan.discarded.len(),
                self.dir.display(),
                scan.discarded.join(", ")
            ));
        }
        let now = now_ms();
        let mut index = self.index();
        let mut expired = Vec::new();
        for found in scan.found {
            if found.header.is_expired(now) {
                expired.push(found.name);
                continue;
            }
            let entry = Entry {
                disk: self.disk_size(&found.header),
                key: found.header.key.into_boxed_str(),
                kind: found.header.kind,
                payload_len: found.header.payload_len,
                expires_ms: found.header.expires_ms,
                last_used: u64::try_from(found.mtime_ns.max(0)).unwrap_or(u64::MAX),
                verified: None,
            };
            index.insert(found.name, entry);
        }
        index.counters.expirations += expired.len() as u64;
        // A smaller budget than the last process had: trim to it now.
        let budget = self.budget;
        let victims = index.evict_until(now, |used| used <= budget);
        drop(index);
        for name in expired
            .into_iter()
            .chain(victims.into_iter().map(|(n, _)| n))
        {
            let _ = disk::remove(&self.dir, name);
        }
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        // A panic while the lock was held leaves the index consistent enough: every change to
        // it is a single step. Carry on rather than fail every later get.
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn flights(&self) -> MutexGuard<'_, Flights> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stats(&self) -> CacheStats {
        let index = self.index();
        let Counters {
            hits,
            misses,
            joined,
            evictions,
            expirations,
            errors,
        } = index.counters;
        CacheStats {
            hits,
            misses,
            joined,
            evictions,
            expirations,
            errors,
            entries: index.len() as u64,
            bytes: index.stored(),
            budget: self.budget,
        }
    }

    fn round(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.block).saturating_mul(self.block)
    }

    /// The space an entry takes: its `.entry` file, and a file entry's content.
    fn disk_size(&self, header: &Header) -> u64 {
        let entry = self.round(header.entry_len());
        match header.kind {
            Kind::File => entry.saturating_add(self.round(header.payload_len)),
            Kind::Bytes | Kind::Json => entry,
        }
    }

    /// Ends a get: counts it, logs its warning (if anything went wrong) and its debug line.
    fn finish(&self, call: Call<'_>, outcome: Option<(Source, u64)>) {
        {
            let mut index = self.index();
            match outcome {
                Some((Source::Hit, _)) => index.counters.hits += 1,
                Some((Source::Joined, _)) => index.counters.joined += 1,
                Some((Source::Fetched, _)) | None => index.counters.misses += 1,
            }
            // One warning line per get, however many things went wrong in it.
            index.counters.errors += u64::from(!call.problems.is_empty());
        }
        if !call.problems.is_empty() {
            tracing::warn!(
                "lamina cache, {} key {:?}: {}",
                call.kind.as_str(),
                call.key,
                call.problems.join("; ")
            );
        }
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        let stats = self.stats();
        match outcome {
            Some((source, len)) => tracing::debug!(
                "lamina cache {source}: {} key {:?}, {len} bytes, {:?} ({stats})",
                call.kind.as_str(),
                call.key,
                call.started.elapsed()
            ),
            None => tracing::debug!(
                "lamina cache miss: {} key {:?}, fetch failed after {:?} ({stats})",
                call.kind.as_str(),
                call.key,
                call.started.elapsed()
            ),
        }
    }

    // ---- single flight ----

    /// The fetch in progress for `key`, or a new one for this call to lead.
    fn flight(&self, kind: Kind, key: &str) -> Arc<Flight> {
        Arc::clone(self.flights().entry((kind, key.into())).or_insert_with(|| {
            Arc::new(Flight {
                result: tokio::sync::OnceCell::new(),
                stale: AtomicBool::new(false),
            })
        }))
    }

    /// Retires a flight once its result is known: later gets go to the index instead.
    fn land(&self, kind: Kind, key: &str, flight: &Arc<Flight>) {
        let mut flights = self.flights();
        let id = (kind, Box::<str>::from(key));
        if flights.get(&id).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            flights.remove(&id);
        }
    }

    /// After a failed fetch: retires the flight unless other gets still wait on it (one of
    /// them fetches next), so failing keys do not pile up.
    fn abandon(&self, kind: Kind, key: &str, flight: &Arc<Flight>) {
        // The map's reference and ours.
        if Arc::strong_count(flight) <= 2 {
            self.land(kind, key, flight);
        }
    }

    // ---- bytes and JSON ----

    async fn get_blob<T, C, F, Fut, E>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        fetch: F,
    ) -> Result<Cached<T>, E>
    where
        C: Codec<T>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut call = Call::new(key, C::KIND);
        if let Some(bytes) = self.read_hit(&mut call) {
            let len = bytes.len() as u64;
            match C::decode_vec(bytes) {
                Ok(value) => return Ok(self.done(call, value, Source::Hit, true, Some(len))),
                Err(why) => self.drop_undecodable(&mut call, why),
            }
        }

        let flight = self.flight(C::KIND, key);
        let mut fetch = Some(fetch);
        let mut mine: Option<(T, Source, bool, u64)> = None;
        let led = {
            let (call, fetch, mine, flight_ref) = (&mut call, &mut fetch, &mut mine, &flight);
            flight
                .result
                .get_or_try_init(|| async move {
                    // A get that finished between our lookup and now may have stored it.
                    if let Some(bytes) = self.read_hit(call) {
                        match C::decode(&bytes) {
                            Ok(value) => {
                                self.land(C::KIND, key, flight_ref);
                                *mine = Some((value, Source::Hit, true, bytes.len() as u64));
                                return Ok(Shared::Blob {
                                    bytes: Some(Arc::new(bytes)),
                                    stored: true,
                                });
                            }
                            Err(why) => self.drop_undecodable(call, why),
                        }
                    }
                    let Some(fetch) = fetch.take() else {
                        unreachable!("a flight's initialiser runs at most once per get")
                    };
                    let value = fetch().await?;
                    let encoded = C::encode(&value);
                    let stored = self.store_encoded(call, &encoded, ttl, flight_ref);
                    self.land(C::KIND, key, flight_ref);
                    // Only gets that joined before `land` can still read the result; without
                    // them, a copy of the value for it would be waste.
                    let waiting = Arc::strong_count(flight_ref) > 1;
                    let len = encoded.as_ref().map_or(0, |b| b.len() as u64);
                    let bytes = match encoded {
                        Ok(bytes) if waiting => Some(Arc::new(bytes.into_owned())),
                        _ => None,
                    };
                    *mine = Some((value, Source::Fetched, stored, len));
                    Ok(Shared::Blob { bytes, stored })
                })
                .await
        };
        let shared = match led {
            Ok(shared) => shared,
            Err(e) => {
                self.abandon(C::KIND, key, &flight);
                self.finish(call, None);
                return Err(e);
            }
        };
        if let Some((value, source, stored, len)) = mine {
            return Ok(self.done(call, value, source, stored, Some(len)));
        }
        if let Shared::Blob {
            bytes: Some(bytes),
            stored,
        } = shared
        {
            if let Ok(value) = C::decode(bytes) {
                let len = bytes.len() as u64;
                return Ok(self.done(call, value, Source::Joined, *stored, Some(len)));
            }
        }
        // The fetch we waited for left nothing this get can use (its value could not be
        // encoded, or it is another type under the same key): fetch our own.
        let Some(fetch) = fetch.take() else {
            unreachable!("this get's fetch was not used by the flight it joined")
        };
        match fetch().await {
            Ok(value) => {
                let encoded = C::encode(&value);
                let stored = self.store_encoded(&mut call, &encoded, ttl, &flight);
                drop(encoded);
                Ok(self.done(call, value, Source::Fetched, stored, None))
            }
            Err(e) => {
                self.finish(call, None);
                Err(e)
            }
        }
    }

    fn done<T>(
        &self,
        call: Call<'_>,
        value: T,
        source: Source,
        stored: bool,
        len: Option<u64>,
    ) -> Cached<T> {
        self.finish(call, Some((source, len.unwrap_or(0))));
        Cached {
            value,
            source,
            stored,
        }
    }

    fn drop_undecodable(&self, call: &mut Call<'_>, why: String) {
        call.problem(format!(
            "the stored entry is unusable ({why}); deleted it and fetching again"
        ));
        self.forget(call.name);
    }

    /// Stores a fetched value's encoding; returns whether it is stored.
    fn store_encoded(
        &self,
        call: &mut Call<'_>,
        encoded: &Result<Cow<'_, [u8]>, String>,
        ttl: Option<Duration>,
        flight: &Flight,
    ) -> bool {
        match encoded {
            Ok(bytes) => self.store_blob(call, bytes, ttl, flight),
            Err(why) => {
                call.problem(format!("not stored: {why}"));
                false
            }
        }
    }

    /// The payload of a usable entry for this get, if there is one. An entry that cannot be
    /// used is deleted, and why is noted for the get's warning.
    fn read_hit(&self, call: &mut Call<'_>) -> Option<Vec<u8>> {
        if self.unusable.is_some() || !self.is_current(call) {
            return None;
        }
        match disk::read_blob(&self.dir, call.name, call.key, call.kind) {
            Ok((header, payload)) => {
                if header.is_expired(now_ms()) {
                    // Another process stored it with an expiry our index did not know.
                    self.expire(call.name);
                    return None;
                }
                let disk = self.disk_size(&header);
                let mut index = self.index();
                // It may have been rewritten by another process since we indexed it.
                index.update(call.name, |entry| {
                    entry.expires_ms = header.expires_ms;
                    entry.payload_len = header.payload_len;
                    entry.disk = disk;
                });
                index.touch(call.name, now_ns());
                Some(payload)
            }
            Err(e) => {
                self.unreadable(call, &e);
                None
            }
        }
    }

    /// Whether the index holds a live entry of this key and kind; drops an expired one.
    fn is_current(&self, call: &Call<'_>) -> bool {
        let index = self.index();
        let Some(entry) = index.get(call.name) else {
            return false;
        };
        // Another key under the same name, or another kind: a miss, and the store replaces it.
        if *entry.key != *call.key || entry.kind != call.kind {
            return false;
        }
        if entry.is_expired(now_ms()) {
            drop(index);
            self.expire(call.name);
            return false;
        }
        true
    }

    fn expire(&self, name: Name) {
        let mut index = self.index();
        if index.remove(name).is_some() {
            index.counters.expirations += 1;
        }
        let _ = disk::remove(&self.dir, name);
    }

    /// Removes an entry from the index and the disk, quietly.
    fn forget(&self, name: Name) {
        let mut index = self.index();
        index.remove(name);
        let _ = disk::remove(&self.dir, name);
    }

    fn unreadable(&self, call: &mut Call<'_>, e: &ReadError) {
        let text = match e {
            ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound => {
                if self.index().get(call.name).is_none() {
                    // Evicted or invalidated in this process since we looked: a plain miss.
                    return;
                }
                "the stored entry vanished (another process deleted it?); fetching again".to_owned()
            }
            ReadError::Corrupt(c) => {
                format!("the stored entry is unusable ({c}); deleted it and fetching again")
            }
            ReadError::Io(e) => format!("reading the stored entry failed ({e}); fetching again"),
        };
        call.problem(text);
        self.forget(call.name);
    }

    /// Writes an entry; returns whether it is stored. Never fails the get: what goes wrong is
    /// noted for its warning.
    fn store_blob(
        &self,
        call: &mut Call<'_>,
        payload: &[u8],
        ttl: Option<Duration>,
        flight: &Flight,
    ) -> bool {
        if let Some(why) = &self.unusable {
            call.problem(format!("not stored, the cache is off: {why}"));
            return false;
        }
        if flight.stale.load(Ordering::Acquire) {
            return false;
        }
        let now = now_ms();
        let header = Header::new(call.kind, call.key, payload, now, expiry(now, ttl));
        let disk = self.disk_size(&header);
        if let Err(why) = self.make_room(call.name, disk) {
            call.problem(why);
            return false;
        }
        let temp = match self.write_temp(&[&header.encode(), payload], disk) {
            Ok(temp) => temp,
            Err(why) => {
                self.index().release(disk);
                call.problem(why);
                return false;
            }
        };
        let committed = self.commit(call, &header, disk, None, flight, || {
            disk::publish(&temp, &self.dir, &call.name.entry_file())
                .map_err(|e| format!("not stored: renaming it into place failed ({e})"))
        });
        match committed {
            Ok(true) => true,
            Ok(false) => {
                let _ = std::fs::remove_file(&temp);
                false
            }
            Err(why) => {
                call.problem(why);
                false
            }
        }
    }

    /// Puts an entry written to temporary files in place (`publish`, which renames them) and
    /// indexes it, in the space `make_room` reserved. Returns `Ok(false)`, publishing nothing,
    /// if the key was invalidated meanwhile.
    ///
    /// The index lock is held throughout, as it is by every change to the names in the
    /// directory: `invalidate` marks flights stale under it, so an invalidated fetch can never
    /// rename its result over a newer entry, and the index and the directory change together.
    fn commit(
        &self,
        call: &Call<'_>,
        header: &Header,
        disk: u64,
        verified: Option<FileId>,
        flight: &Flight,
        publish: impl FnOnce() -> Result<(), String>,
    ) -> Result<bool, String> {
        let mut index = self.index();
        index.release(disk);
        if flight.stale.load(Ordering::Acquire) {
            return Ok(false);
        }
        publish()?;
        let last_used = index.stamp(now_ns());
        index.insert(
            call.name,
            Entry {
                key: call.key.into(),
                kind: call.kind,
                payload_len: header.payload_len,
                disk,
                expires_ms: header.expires_ms,
                last_used,
                verified,
            },
        );
        Ok(true)
    }

    /// Makes room for `disk` more bytes within the budget and above the free-space floor, by
    /// evicting, and reserves them. The error says why it cannot.
    fn make_room(&self, name: Name, disk: u64) -> Result<(), String> {
        if disk > self.budget {
            return Err(format!(
                "not stored: it takes {disk} bytes on disk, more than the cache's budget of {} \
                 bytes; raise it with `Builder::budget`",
                self.budget
            ));
        }
        let now = now_ms();
        let budget = self.budget;
        {
            let mut index = self.index();
            // The entry being replaced gives its space back (a content file it had goes now).
            if index.remove(name).is_some_and(|old| old.kind == Kind::File) {
                let _ = std::fs::remove_file(self.dir.join(name.data_file()));
            }
            let victims = index.evict_until(now, |used| used.saturating_add(disk) <= budget);
            self.delete(&victims);
            index.reserve(disk);
        }
        if self.min_free == 0 {
            return Ok(());
        }
        let Some(space) = self.space() else {
            return Ok(());
        };
        let wanted = disk.saturating_add(self.min_free);
        if space.available >= wanted {
            return Ok(());
        }
        let short = wanted - space.available;
        let mut index = self.index();
        // Evicting is only worth it if it can make enough room; else keep what is there.
        if index.stored() < short {
            index.release(disk);
            return Err(format!(
                "not stored: it takes {disk} bytes, the file system has {} free, and the cache \
                 leaves at least {} free for other files (`Builder::min_free`)",
                space.available, self.min_free
            ));
        }
        let victims = index.evict_bytes(short, now);
        self.delete(&victims);
        Ok(())
    }

    /// Runs `create` (which makes a file in the directory); if the directory is gone (deleted
    /// under us, or never made), makes it again and retries once. The error is the one that
    /// explains the failure: the directory's, when it could not be made.
    fn in_dir<T>(&self, create: impl Fn() -> io::Result<T>) -> io::Result<T> {
        match create() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => match disk::prepare(&self.dir) {
                Ok(_) => create(),
                Err(disk::DirError::Io(e)) => Err(e),
                Err(disk::DirError::Unsafe(why)) => Err(io::Error::other(why)),
            },
            other => other,
        }
    }

    /// The free space of the directory's file system, if it can be read.
    fn space(&self) -> Option<sys::FsSpace> {
        File::open(&self.dir)
            .ok()
            .and_then(|dir| sys::fs_space(&dir).ok())
    }

    /// Deletes evicted entries' files. Called with the index lock held (see `commit`).
    fn delete(&self, victims: &[(Name, Entry)]) {
        for (name, _) in victims {
            let _ = disk::remove(&self.dir, *name);
        }
    }

    /// Writes `parts` to a new temporary file in the directory, working around a directory
    /// deleted under us (recreated) and a full file system (evicting as much as the entry needs,
    /// once). The error says why nothing was stored.
    fn write_temp(&self, parts: &[&[u8]], disk: u64) -> Result<PathBuf, String> {
        let mut evicted = None;
        loop {
            let e = match self.in_dir(|| disk::write_temp(&self.dir, parts)) {
                Ok(temp) => return Ok(temp),
                Err(e) => e,
            };
            if disk::is_full(&e) && evicted.is_none() {
                // With the file system full, only entries adding up to this one's size can make
                // room for it; fewer would be thrown away for nothing.
                let mut index = self.index();
                let victims = if index.stored() >= disk {
                    index.evict_bytes(disk, now_ms())
                } else {
                    Vec::new()
                };
                self.delete(&victims);
                drop(index);
                evicted = Some(victims.len());
                if !victims.is_empty() {
                    continue;
                }
            }
            let after = match evicted {
                Some(n) if n > 0 => format!(", even after evicting {n} entries"),
                _ => String::new(),
            };
            return Err(format!(
                "not stored: writing to {} failed ({e}){after}",
                self.dir.display()
            ));
        }
    }

    // ---- files ----

    async fn get_file<F, Fut, E>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        fetch: F,
    ) -> Result<Cached<CachedFile>, E>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let mut call = Call::new(key, Kind::File);
        if let Some(file) = self.file_hit(&mut call) {
            let len = file.len;
            return Ok(self.done(call, file, Source::Hit, true, Some(len)));
        }
        let flight = self.flight(Kind::File, key);
        let mut fetch = Some(fetch);
        let mut source = Source::Joined;
        let led = {
            let (call, fetch, source, flight_ref) = (&mut call, &mut fetch, &mut source, &flight);
            flight
                .result
                .get_or_try_init(|| async move {
                    if let Some(file) = self.file_hit(call) {
                        self.land(Kind::File, key, flight_ref);
                        *source = Source::Hit;
                        return Ok(Shared::File { file, stored: true });
                    }
                    let Some(fetch) = fetch.take() else {
                        unreachable!("a flight's initialiser runs at most once per get")
                    };
                    let target = self.file_target(call);
                    if let Err(e) = fetch(target.path().to_owned()).await {
                        target.discard();
                        return Err(e);
                    }
                    let (file, stored) = self.store_file(call, ttl, target, flight_ref);
                    self.land(Kind::File, key, flight_ref);
                    *source = Source::Fetched;
                    Ok(Shared::File { file, stored })
                })
                .await
        };
        match led {
            Ok(Shared::File { file, stored }) => {
                let len = file.len;
                Ok(self.done(call, file.clone(), source, *stored, Some(len)))
            }
            Ok(Shared::Blob { .. }) => {
                unreachable!("a file flight only ever holds a file")
            }
            Err(e) => {
                self.abandon(Kind::File, key, &flight);
                self.finish(call, None);
                Err(e)
            }
        }
    }

    /// A stored file for this get, checked; an unusable one is deleted and noted.
    fn file_hit(&self, call: &mut Call<'_>) -> Option<CachedFile> {
        if self.unusable.is_some() || !self.is_current(call) {
            return None;
        }
        let verified = self.index().get(call.name)?.verified;
        let path = self.dir.join(call.name.data_file());
        let checked = File::open(&path)
            .map_err(ReadError::Io)
            .and_then(|mut file| {
                let meta = file.metadata()?;
                let id = FileId::of(&meta);
                if verified == Some(id) {
                    return Ok((file, meta.len(), None));
                }
                // New to this process, or changed since it was checked: check it against its
                // header, read again from disk in case both were replaced.
                let (header, _) = disk::read_header(&self.dir.join(call.name.entry_file()))?;
                if header.key != call.key {
                    return Err(Corrupt::OtherKey.into());
                }
                if header.kind != Kind::File {
                    return Err(Corrupt::OtherKind {
                        found: header.kind,
                        wanted: Kind::File,
                    }
                    .into());
                }
                if meta.len() != header.payload_len {
                    return Err(Corrupt::Length {
                        expected: header.payload_len,
                        found: meta.len(),
                    }
                    .into());
                }
                let (_, sum) = disk::checksum_file(&mut file)?;
                if sum != header.payload_sum {
                    return Err(Corrupt::PayloadChecksum.into());
                }
                Ok((file, meta.len(), Some((id, header))))
            });
        match checked {
            Ok((_, _, Some((_, header)))) if header.is_expired(now_ms()) => {
                // Replaced by another process with an expiry our index did not know.
                self.expire(call.name);
                None
            }
            Ok((file, len, newly_verified)) => {
                let mut index = self.index();
                if let Some((id, header)) = newly_verified {
                    let disk = self.disk_size(&header);
                    index.update(call.name, |entry| {
                        entry.verified = Some(id);
                        entry.expires_ms = header.expires_ms;
                        entry.payload_len = header.payload_len;
                        entry.disk = disk;
                    });
                }
                index.touch(call.name, now_ns());
                Some(CachedFile {
                    path,
                    handle: Some(Arc::new(file)),
                    len,
                })
            }
            Err(e) => {
                self.unreadable(call, &e);
                None
            }
        }
    }

    /// Where `fetch` writes a file: a private temporary file in the cache directory, or else an
    /// anonymous file in memory.
    ///
    /// The size is not known until `fetch` is done, so room is made beforehand only down to the
    /// free-space floor. A file system with not one block free gets nothing to write to; then
    /// memory is the only place the artefact can go.
    fn file_target(&self, call: &mut Call<'_>) -> Target {
        let full = self.unusable.is_none() && self.free_up_to_floor();
        let reason = match &self.unusable {
            Some(why) => format!("the cache is off: {why}"),
            None if full => format!(
                "the file system of {} is full, even with every entry the cache could evict gone",
                self.dir.display()
            ),
            None => match self.in_dir(|| disk::create_temp(&self.dir)) {
                Ok((path, _file)) => return Target::Temp(path),
                Err(e) => format!(
                    "the cache directory {} cannot take a new file ({e})",
                    self.dir.display()
                ),
            },
        };
        match sys::memory_file() {
            Ok(file) => {
                let path = proc_path(&file);
                call.problem(format!(
                    "{reason}; the artefact is not stored, and is kept in memory at {}",
                    path.display()
                ));
                Target::Memory(file, path)
            }
            Err(e) => {
                let path = self.dir.join(format!(".uncached-{}", std::process::id()));
                call.problem(format!(
                    "{reason}, and no in-memory file could be made either ({e}); fetch was \
                     given {}",
                    path.display()
                ));
                Target::Nowhere(path)
            }
        }
    }

    /// Evicts until the free-space floor holds, or nothing is left to evict. Returns whether the
    /// file system is full (less than one block free) even so.
    fn free_up_to_floor(&self) -> bool {
        let Some(space) = self.space() else {
            return false;
        };
        let wanted = self.min_free.max(self.block);
        if space.available >= wanted {
            return false;
        }
        let mut index = self.index();
        let victims = index.evict_bytes(wanted - space.available, now_ms());
        self.delete(&victims);
        drop(index);
        let freed: u64 = victims.iter().map(|(_, e)| e.disk).sum();
        space.available.saturating_add(freed) < self.block
    }

    /// Takes the file `fetch` wrote into the cache, or hands it out detached if it cannot be
    /// stored. Returns the file and whether it is stored.
    fn store_file(
        &self,
        call: &mut Call<'_>,
        ttl: Option<Duration>,
        target: Target,
        flight: &Flight,
    ) -> (CachedFile, bool) {
        let temp = match target {
            Target::Memory(file, _) => return (CachedFile::detached(file), false),
            Target::Nowhere(path) => {
                let opened = File::open(&path);
                let _ = std::fs::remove_file(&path);
                return match opened {
                    Ok(file) => (CachedFile::detached(file), false),
                    Err(_) => (missing(path), false),
                };
            }
            Target::Temp(path) => path,
        };
        let mut file = match File::open(&temp) {
            Ok(file) if file.metadata().is_ok_and(|m| m.is_file()) => file,
            opened => {
                let why = opened.map_or_else(|e| e.to_string(), |_| "not a regular file".into());
                call.problem(format!(
                    "fetch reported success but left no readable file at {} ({why})",
                    temp.display()
                ));
                let _ = std::fs::remove_file(&temp);
                return (missing(temp), false);
            }
        };
        // `fetch` may have replaced our private file with one of its own making.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        let detach = |call: &mut Call<'_>, file: File, why: String| {
            let _ = std::fs::remove_file(&temp);
            let detached = CachedFile::detached(file);
            call.problem(format!(
                "{why}; the artefact is served from a deleted file at {} that lasts as long as \
                 the returned `CachedFile`",
                detached.path.display()
            ));
            (detached, false)
        };
        let (len, sum) = match disk::checksum_file(&mut file) {
            Ok(summed) => summed,
            Err(e) => {
                return detach(
                    call,
                    file,
                    format!("not stored: reading it back failed ({e})"),
                );
            }
        };
        if self.unusable.is_some() || flight.stale.load(Ordering::Acquire) {
            let _ = std::fs::remove_file(&temp);
            return (CachedFile::detached(file), false);
        }
        let now = now_ms();
        let header = Header::with_sum(Kind::File, call.key, len, sum, now, expiry(now, ttl));
        let disk = self.disk_size(&header);
        if let Err(why) = self.make_room(call.name, disk) {
            return detach(call, file, why);
        }
        let header_temp = match self.write_temp(&[&header.encode()], self.round(header.len())) {
            Ok(path) => path,
            Err(why) => {
                self.index().release(disk);
                return detach(call, file, why);
            }
        };
        // The content keeps its inode through the rename: this is what a hit will compare.
        let id = file.metadata().ok().map(|m| FileId::of(&m));
        let entry_name = call.name.entry_file();
        let data_name = call.name.data_file();
        let committed = self.commit(call, &header, disk, id, flight, || {
            // The old header goes first, so that no header ever describes other content.
            let _ = std::fs::remove_file(self.dir.join(&entry_name));
            if let Err(e) = disk::publish(&temp, &self.dir, &data_name) {
                let _ = std::fs::remove_file(&header_temp);
                return Err(format!("not stored: renaming it into place failed ({e})"));
            }
            disk::publish(&header_temp, &self.dir, &entry_name).map_err(|e| {
                let _ = std::fs::remove_file(self.dir.join(&data_name));
                format!("not stored: renaming its header into place failed ({e})")
            })
        });
        match committed {
            Ok(true) => {
                let cached = CachedFile {
                    path: self.dir.join(data_name),
                    handle: Some(Arc::new(file)),
                    len,
                };
                (cached, true)
            }
            // Invalidated while it was being fetched: handed out, not stored.
            Ok(false) => {
                let _ = std::fs::remove_file(&header_temp);
                let _ = std::fs::remove_file(&temp);
                (CachedFile::detached(file), false)
            }
            Err(why) => detach(call, file, why),
        }
    }

    // ---- invalidation ----

    fn invalidate(&self, key: &str) -> bool {
        let name = Name::of(key);
        // Under the index lock, like every change to the directory (see `commit`).
        let mut index = self.index();
        {
            let mut flights = self.flights();
            for kind in [Kind::Bytes, Kind::Json, Kind::File] {
                if let Some(flight) = flights.remove(&(kind, key.into())) {
                    flight.stale.store(true, Ordering::Release);
                }
            }
        }
        let indexed = match index.get(name) {
            // Another key's entry under the same name: not ours to remove.
            Some(entry) if *entry.key != *key => return false,
            Some(_) => index.remove(name).is_some(),
            None => false,
        };
        if self.unusable.is_some() {
            return indexed;
        }
        // Not indexed, it may still be on disk: written by another process since we opened.
        let on_disk = !indexed
            && disk::read_header(&self.dir.join(name.entry_file()))
                .is_ok_and(|(header, _)| header.key == key);
        if !indexed && !on_disk {
            return false;
        }
        if let Err(e) = disk::remove(&self.dir, name) {
            index.counters.errors += 1;
            drop(index);
            tracing::warn!(
                "lamina cache, key {key:?}: the entry could not be deleted ({e}); this process \
                 no longer serves it, but a process started later may"
            );
        }
        true
    }

    fn clear(&self) -> usize {
        let mut index = self.index();
        for (_, flight) in self.flights().drain() {
            flight.stale.store(true, Ordering::Release);
        }
        let entries = index.drain();
        let mut failed = None;
        for (name, _) in &entries {
            if let Err(e) = disk::remove(&self.dir, *name) {
                failed.get_or_insert(e);
            }
        }
        if let Some(e) = failed {
            index.counters.errors += 1;
            drop(index);
            tracing::warn!(
                "lamina cache: not every entry in {} could be deleted ({e}); this process no \
                 longer serves them, but a process started later may",
                self.dir.display()
            );
        }
        entries.len()
    }
}

/// What `fetch` said it wrote but did not: a path with nothing behind it, which the user's own
/// open will report.
fn missing(path: PathBuf) -> CachedFile {
    CachedFile {
        path,
        handle: None,
        len: 0,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn expiry(now_ms: u64, ttl: Option<Duration>) -> Option<u64> {
    ttl.map(|ttl| now_ms.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
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
