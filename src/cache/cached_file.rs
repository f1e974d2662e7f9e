//! [`CachedFile`]: what a file get hands out, a path with a handle that keeps it readable.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file from [`Cache::get_or_fetch_file`]: where its content is, kept readable while this
/// value lives.
///
/// [`CachedFile::path`] is the entry's file in the cache directory. It stays there until the
/// entry is evicted or invalidated; treat it as read-only, since the cache trusts it not to
/// change. [`CachedFile::open`] goes through a handle this value holds, so it works even after
/// the entry was evicted. When the artefact could not be stored (see [`Cached::is_stored`](super::Cached::is_stored)), the
/// path is `/proc/self/fd/N`, a name for that handle, valid in this process while this value (or a
/// clone) lives; hand a child process a copy of the content, not that path.
///
/// [`Cache::get_or_fetch_file`]: super::Cache::get_or_fetch_file
#[derive(Debug, Clone)]
pub struct CachedFile {
    pub(super) path: PathBuf,
    /// Keeps the content reachable after eviction, and a detached file alive at all.
    pub(super) handle: Option<Arc<File>>,
    pub(super) len: u64,
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
    /// # let cache = lamina::cache::Cache::builder().dir(&dir).min_free(0).open()?; // the host's disk may be fuller than Lambda's /tmp
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
    pub(super) fn detached(file: File) -> CachedFile {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        CachedFile {
            path: proc_path(&file),
            handle: Some(Arc::new(file)),
            len,
        }
    }
}

pub(super) fn proc_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// What `fetch` said it wrote but did not: a path with nothing behind it, which the user's own
/// open will report.
pub(super) fn missing(path: PathBuf) -> CachedFile {
    CachedFile {
        path,
        handle: None,
        len: 0,
    }
}
