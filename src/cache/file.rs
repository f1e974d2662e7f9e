//! File entries: artefacts too large for memory, written by `fetch` straight to a file that the
//! cache then takes over, or hands out unstored.

use std::fs::File;
use std::future::{Future, poll_fn};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::cached_file::{CachedFile, missing, proc_path};
use super::flight::{Flight, Shared};
use super::format::{Corrupt, Header, Kind, ReadError};
use super::index::FileId;
use super::store::{Call, Inner, expiry, now_ms, now_ns};
use super::{Cached, Source, disk, sys};

enum Target {
    /// A temporary file in the cache directory.
    Temp(Written),
    /// An anonymous file in memory, at `/proc/self/fd/N`.
    Memory(File, PathBuf),
    /// Nowhere that works: `fetch` gets this path and will find out.
    Nowhere(Written),
}

impl Target {
    fn path(&self) -> &Path {
        match self {
            Target::Temp(written) | Target::Nowhere(written) => written.path(),
            Target::Memory(_, path) => path,
        }
    }

    /// Runs `fetch`, holding an in-memory target to `limit` bytes. Returns what `fetch` returned,
    /// and the size at which the file was stopped, if it was.
    ///
    /// Each time `fetch` yields, a file grown past the limit is emptied, which gives its memory
    /// back, and sealed against growing, so that `fetch`'s next write fails (`EPERM`) and it
    /// returns its error. The size is only seen between steps of `fetch`; an artefact finished in
    /// the step that passed the limit is served whole, since it was in memory already.
    async fn fill<E>(
        &self,
        fetch: impl Future<Output = Result<(), E>>,
        limit: u64,
    ) -> (Result<(), E>, Option<u64>) {
        let Target::Memory(file, _) = self else {
            return (fetch.await, None);
        };
        let mut fetch = pin!(fetch);
        let mut stopped = None;
        let fetched = poll_fn(|cx| {
            let polled = fetch.as_mut().poll(cx);
            if polled.is_pending() {
                let len = file.metadata().map_or(0, |m| m.len());
                if len > limit {
                    stopped.get_or_insert(len);
                    // Sealed first, so that a write racing the truncation cannot grow it back.
                    let _ = sys::seal_growth(file);
                    let _ = file.set_len(0);
                }
            }
            polled
        })
        .await;
        if stopped.is_some() {
            // A `fetch` that ignored its failed writes returns success; what it left must not
            // pass for the artefact (without the seal, its later writes landed past a hole).
            let _ = file.set_len(0);
        }
        (fetched, stopped)
    }
}

/// A file `fetch` was told to write, deleted when this is dropped unless the cache took it over
/// ([`Written::keep`]). So a fetch that fails, panics or is cancelled (a `tokio::time::timeout`
/// around the get) leaves nothing behind: such a file is outside the budget, and in this
/// process's lifetime nothing else would delete it.
struct Written(PathBuf);

impl Written {
    fn path(&self) -> &Path {
        &self.0
    }

    /// The file was renamed into place: there is nothing left to delete.
    fn keep(mut self) {
        self.0 = PathBuf::new();
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

impl Inner {
    pub(super) async fn get_file<F, Fut, E>(
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
        let boarding = self.flights.board(Kind::File, key);
        let mut fetch = Some(fetch);
        let flown = boarding
            .fly(|| async {
                if let Some(file) = self.file_hit(&mut call) {
                    return Ok((Shared::File { file, stored: true }, Source::Hit));
                }
                let Some(fetch) = fetch.take() else {
                    unreachable!("a flight's initialiser runs at most once per get")
                };
                // Dropped with this future, the target deletes what `fetch` wrote so far.
                let target = self.file_target(&mut call);
                let limit = self.max_in_memory;
                let (fetched, stopped) = target.fill(fetch(target.path().to_owned()), limit).await;
                if let Some(len) = stopped {
                    call.problem(format!(
                        "it grew to {len} bytes, past the {limit} bytes an artefact may take in \
                         memory (`Builder::max_in_memory`, by default a quarter of the \
                         function's memory): it was discarded and fetch's writes to {} fail \
                         (EPERM), so the get returns fetch's error instead of the function \
                         running out of memory; raise the limit, or give the cache a directory \
                         that can take the file",
                        target.path().display(),
                    ));
                }
                fetched?;
                let (file, stored) = self.store_file(&mut call, ttl, target, boarding.flight());
                Ok((Shared::File { file, stored }, Source::Fetched))
            })
            .await;
        match flown {
            Ok((Shared::File { file, stored }, source)) => {
                let (file, stored) = (file.clone(), *stored);
                let len = file.len;
                let source = source.unwrap_or(Source::Joined);
                Ok(self.done(call, file, source, stored, Some(len)))
            }
            Ok((Shared::Blob { .. }, _)) => {
                unreachable!("a file flight only ever holds a file")
            }
            Err(e) => {
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
                Ok((path, _file)) => return Target::Temp(Written(path)),
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
                Target::Nowhere(Written(path))
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
            // Deleted as `written` drops; an open handle keeps the content.
            Target::Nowhere(written) => {
                return match File::open(written.path()) {
                    Ok(file) => (CachedFile::detached(file), false),
                    Err(_) => (missing(written.path().to_owned()), false),
                };
            }
            Target::Temp(written) => written,
        };
        let mut file = match File::open(temp.path()) {
            Ok(file) if file.metadata().is_ok_and(|m| m.is_file()) => file,
            opened => {
                let why = opened.map_or_else(|e| e.to_string(), |_| "not a regular file".into());
                call.problem(format!(
                    "fetch reported success but left no readable file at {} ({why})",
                    temp.path().display()
                ));
                return (missing(temp.path().to_owned()), false);
            }
        };
        // `fetch` may have replaced our private file with one of its own making.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        // From here on the temporary file is deleted on return unless it was renamed into
        // place; a detached artefact is read through its open handle.
        let detach = |call: &mut Call<'_>, file: File, why: String| {
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
            if let Err(e) = disk::publish(temp.path(), &self.dir, &data_name) {
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
                temp.keep();
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
                (CachedFile::detached(file), false)
            }
            Err(why) => detach(call, file, why),
        }
    }
}
