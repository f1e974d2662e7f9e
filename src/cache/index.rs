//! The in-memory index: which entries are on disk, how much space they take, and which to evict.
//!
//! Least recently used is decided by a stamp kept here, never written to disk: writing access
//! times would cost a system call on every hit, and fail on a read-only file system. At open, an
//! entry's stamp is the modification time of its file (when it was written), so after a restart
//! the order is by write time until the entries are used again. Stamps are nanoseconds since the
//! epoch, bumped to stay strictly increasing, so two uses within one clock tick still order.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use super::format::{Kind, Name};

/// One entry the cache knows is on disk.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: Box<str>,
    pub(crate) kind: Kind,
    pub(crate) payload_len: u64,
    /// The space its files take, rounded up to the file system's block.
    pub(crate) disk: u64,
    pub(crate) expires_ms: Option<u64>,
    pub(crate) last_used: u64,
    /// For a file entry: the file as it was when its checksum last matched in this process.
    pub(crate) verified: Option<FileId>,
}

impl Entry {
    pub(crate) fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_ms.is_some_and(|at| now_ms >= at)
    }
}

/// What identifies one version of a file without reading it: if none of these changed, neither
/// did the content (nothing in the cache writes a file in place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

impl FileId {
    pub(crate) fn of(meta: &Metadata) -> Self {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: mtime_ns(meta),
        }
    }
}

/// A file's modification time in nanoseconds since the epoch.
pub(crate) fn mtime_ns(meta: &Metadata) -> i128 {
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}

/// Running totals since the cache was opened.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counters {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) joined: u64,
    pub(crate) evictions: u64,
    pub(crate) expirations: u64,
    pub(crate) errors: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    entries: HashMap<Name, Entry>,
    /// The space taken by indexed entries.
    stored: u64,
    /// The space set aside for writes in progress.
    reserved: u64,
    clock: u64,
    pub(crate) counters: Counters,
}

impl Index {
    /// A stamp for "used now", strictly after every earlier one.
    pub(crate) fn stamp(&mut self, now_ns: u64) -> u64 {
        self.clock = now_ns.max(self.clock.saturating_add(1));
        self.clock
    }

    pub(crate) fn get(&self, name: Name) -> Option<&Entry> {
        self.entries.get(&name)
    }

    /// Changes an entry in place (keeping the space total right if its size changes).
    pub(crate) fn update(&mut self, name: Name, change: impl FnOnce(&mut Entry)) {
        if let Some(entry) = self.entries.get_mut(&name) {
            let before = entry.disk;
            change(entry);
            self.stored = self
                .stored
                .saturating_sub(before)
                .saturating_add(entry.disk);
        }
    }

    pub(crate) fn touch(&mut self, name: Name, now_ns: u64) {
        let stamp = self.stamp(now_ns);
        if let Some(entry) = self.entries.get_mut(&name) {
            entry.last_used = stamp;
        }
    }

    /// Adds an entry, replacing (and returning) any under the same name.
    pub(crate) fn insert(&mut self, name: Name, entry: Entry) -> Option<Entry> {
        self.stored = self.stored.saturating_add(entry.disk);
        self.clock = self.clock.max(entry.last_used);
        let old = self.entries.insert(name, entry);
        if let Some(old) = &old {
            self.stored = self.stored.saturating_sub(old.disk);
        }
        old
    }

    pub(crate) fn remove(&mut self, name: Name) -> Option<Entry> {
        let old = self.entries.remove(&name)?;
        self.stored = self.stored.saturating_sub(old.disk);
        Some(old)
    }

    pub(crate) fn drain(&mut self) -> Vec<(Name, Entry)> {
        self.stored = 0;
        self.entries.drain().collect()
    }

    /// Counts space for a write in progress, so concurrent writers see it.
    pub(crate) fn reserve(&mut self, bytes: u64) {
        self.reserved = self.reserved.saturating_add(bytes);
    }

    pub(crate) fn release(&mut self, bytes: u64) {
        self.reserved = self.reserved.saturating_sub(bytes);
    }

    /// Space taken and set aside: what the budget is checked against.
    pub(crate) fn used(&self) -> u64 {
        self.stored.saturating_add(self.reserved)
    }

    /// Space taken by entries: all that evicting could free.
    pub(crate) fn stored(&self) -> u64 {
        self.stored
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Removes entries until `enough(used)` holds or none are left: expired ones first, then
    /// the least recently used. Returns what was removed, for the caller to delete from disk.
    pub(crate) fn evict_until(
        &mut self,
        now_ms: u64,
        mut enough: impl FnMut(u64) -> bool,
    ) -> Vec<(Name, Entry)> {
        if enough(self.used()) {
            return Vec::new();
        }
        let mut order: Vec<(bool, u64, Name)> = self
            .entries
            .iter()
            .map(|(name, e)| (!e.is_expired(now_ms), e.last_used, *name))
            .collect();
        order.sort_unstable();
        let mut victims = Vec::new();
        for (_, _, name) in order {
            if enough(self.used()) {
                break;
            }
            if let Some(entry) = self.remove(name) {
                if entry.is_expired(now_ms) {
                    self.counters.expirations += 1;
                } else {
                    self.counters.evictions += 1;
                }
                victims.push((name, entry));
            }
        }
        victims
    }

    /// Removes entries (expired first, then least recently used) until they add up to at least
    /// `bytes`: room for a write the file system refused.
    pub(crate) fn evict_bytes(&mut self, bytes: u64, now_ms: u64) -> Vec<(Name, Entry)> {
        let target = self.used().saturating_sub(bytes);
        self.evict_until(now_ms, |used| used <= target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, disk: u64, last_used: u64, expires_ms: Option<u64>) -> Entry {
        Entry {
            key: key.into(),
            kind: Kind::Bytes,
            payload_len: disk,
            disk,
            expires_ms,
            last_used,
            verified: None,
        }
    }

    fn keys(victims: &[(Name, Entry)]) -> Vec<&str> {
        victims.iter().map(|(_, e)| &*e.key).collect()
    }

    #[test]
    fn evicts_expired_then_least_recently_used() {
        let mut index = Index::default();
        for (key, used, expires) in [
            ("old", 10, None),
            ("new", 30, None),
            ("expired", 40, Some(5)),
            ("middle", 20, None),
        ] {
            index.insert(Name::of(key), entry(key, 100, used, expires));
        }
        assert_eq!(index.used(), 400);
        // Budget 250 for a 100-byte newcomer: 250 more bytes have to go.
        let victims = index.evict_until(10, |used| used + 100 <= 250);
        assert_eq!(keys(&victims), ["expired", "old", "middle"]);
        assert_eq!(index.used(), 100);
        assert_eq!(index.counters.expirations, 1);
        assert_eq!(index.counters.evictions, 2);
        assert!(index.get(Name::of("new")).is_some());
    }

    #[test]
    fn an_update_keeps_the_total_right() {
        let mut index = Index::default();
        index.insert(Name::of("a"), entry("a", 100, 1, None));
        index.reserve(7);
        index.update(Name::of("a"), |e| e.disk = 300);
        index.update(Name::of("missing"), |e| e.disk = 1);
        assert_eq!((index.stored(), index.used()), (300, 307));
    }

    #[test]
    fn a_touch_moves_an_entry_to_the_back() {
        let mut index = Index::default();
        index.insert(Name::of("a"), entry("a", 1, 1, None));
        index.insert(Name::of("b"), entry("b", 1, 2, None));
        index.touch(Name::of("a"), 0);
        assert_eq!(keys(&index.evict_bytes(1, 0)), ["b"]);
    }

    #[test]
    fn stamps_strictly_increase_even_when_the_clock_does_not() {
        let mut index = Index::default();
        let a = index.stamp(100);
        let b = index.stamp(100);
        let c = index.stamp(50);
        assert!(a < b && b < c);
    }

    #[test]
    fn replacing_and_reserving_keep_the_total_right() {
        let mut index = Index::default();
        index.insert(Name::of("a"), entry("a", 100, 1, None));
        index.insert(Name::of("a"), entry("a", 40, 2, None));
        assert_eq!(index.used(), 40);
        index.reserve(10);
        assert_eq!(index.used(), 50);
        index.release(10);
        index.remove(Name::of("a"));
        assert_eq!((index.used(), index.len()), (0, 0));
        assert!(index.evict_until(0, |_| false).is_empty());
    }
}
