//! The cache proper: the index and the directory kept in step, what every kind of entry shares
//! (making room, writing temporary files, committing, invalidating), and each get's log lines.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::flight::Flight;
use super::flight::Flights;
use super::format::{Header, Kind, Name, ReadError};
use super::index::{Counters, Entry, FileId, Index};
use super::{CacheStats, Cached, FALLBACK_BLOCK, FALLBACK_BUDGET, Source, disk, sys};

/// The cache proper, shared by every clone of a [`Cache`].
pub(super) struct Inner {
    pub(super) dir: PathBuf,
    /// Why the directory must not be used at all, when it must not.
    pub(super) unusable: Option<String>,
    pub(super) budget: u64,
    pub(super) min_free: u64,
    pub(super) block: u64,
    /// The most a file artefact may take in memory when the directory cannot take it.
    pub(super) max_in_memory: u64,
    pub(super) index: Mutex<Index>,
    /// Fetches in progress.
    pub(super) flights: Flights,
}

/// One get, for its log lines: what went wrong on the way is collected, then logged as one
/// warning when the get ends.
pub(super) struct Call<'a> {
    pub(super) key: &'a str,
    pub(super) kind: Kind,
    pub(super) name: Name,
    pub(super) started: Instant,
    pub(super) problems: Vec<String>,
}

impl<'a> Call<'a> {
    pub(super) fn new(key: &'a str, kind: Kind) -> Self {
        Call {
            key,
            kind,
            name: Name::of(key),
            started: Instant::now(),
            problems: Vec::new(),
        }
    }

    pub(super) fn problem(&mut self, text: String) {
        self.problems.push(text);
    }
}

impl Inner {
    pub(super) fn open(
        dir: PathBuf,
        budget: Option<u64>,
        min_free: Option<u64>,
        max_in_memory: Option<u64>,
    ) -> Inner {
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
            max_in_memory: max_in_memory.unwrap_or_else(sys::default_max_in_memory),
            index: Mutex::new(Index::default()),
            flights: Flights::default(),
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

    pub(super) fn index(&self) -> MutexGuard<'_, Index> {
        // A panic while the lock was held leaves the index consistent enough: every change to
        // it is a single step. Carry on rather than fail every later get.
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn stats(&self) -> CacheStats {
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

    pub(super) fn round(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.block).saturating_mul(self.block)
    }

    /// The space an entry takes: its `.entry` file, and a file entry's content.
    pub(super) fn disk_size(&self, header: &Header) -> u64 {
        let entry = self.round(header.entry_len());
        match header.kind {
            Kind::File => entry.saturating_add(self.round(header.payload_len)),
            Kind::Bytes | Kind::Json => entry,
        }
    }

    /// Ends a get: counts it, logs its warning (if anything went wrong) and its debug line.
    pub(super) fn finish(&self, call: Call<'_>, outcome: Option<(Source, u64)>) {
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

    pub(super) fn done<T>(
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

    /// Whether the index holds a live entry of this key and kind; drops an expired one.
    pub(super) fn is_current(&self, call: &Call<'_>) -> bool {
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

    pub(super) fn expire(&self, name: Name) {
        let mut index = self.index();
        if index.remove(name).is_some() {
            index.counters.expirations += 1;
        }
        let _ = disk::remove(&self.dir, name);
    }

    /// Removes an entry from the index and the disk, quietly.
    pub(super) fn forget(&self, name: Name) {
        let mut index = self.index();
        index.remove(name);
        let _ = disk::remove(&self.dir, name);
    }

    pub(super) fn unreadable(&self, call: &mut Call<'_>, e: &ReadError) {
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

    /// Puts an entry written to temporary files in place (`publish`, which renames them) and
    /// indexes it, in the space `make_room` reserved. Returns `Ok(false)`, publishing nothing,
    /// if the key was invalidated meanwhile.
    ///
    /// The index lock is held throughout, as it is by every change to the names in the
    /// directory: `invalidate` marks flights stale under it, so an invalidated fetch can never
    /// rename its result over a newer entry, and the index and the directory change together.
    pub(super) fn commit(
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
    pub(super) fn make_room(&self, name: Name, disk: u64) -> Result<(), String> {
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
    pub(super) fn in_dir<T>(&self, create: impl Fn() -> io::Result<T>) -> io::Result<T> {
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
    pub(super) fn space(&self) -> Option<sys::FsSpace> {
        File::open(&self.dir)
            .ok()
            .and_then(|dir| sys::fs_space(&dir).ok())
    }

    /// Deletes evicted entries' files. Called with the index lock held (see `commit`).
    pub(super) fn delete(&self, victims: &[(Name, Entry)]) {
        for (name, _) in victims {
            let _ = disk::remove(&self.dir, *name);
        }
    }

    /// Writes `parts` to a new temporary file in the directory, working around a directory
    /// deleted under us (recreated) and a full file system (evicting as much as the entry needs,
    /// once). The error says why nothing was stored.
    pub(super) fn write_temp(&self, parts: &[&[u8]], disk: u64) -> Result<PathBuf, String> {
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

    // ---- invalidation ----

    pub(super) fn invalidate(&self, key: &str) -> bool {
        let name = Name::of(key);
        // Under the index lock, like every change to the directory (see `commit`).
        let mut index = self.index();
        {
            let mut flights = self.flights.lock();
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

    pub(super) fn clear(&self) -> usize {
        let mut index = self.index();
        for (_, flight) in self.flights.lock().drain() {
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

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(super) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

pub(super) fn expiry(now_ms: u64, ttl: Option<Duration>) -> Option<u64> {
    ttl.map(|ttl| now_ms.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)))
}
