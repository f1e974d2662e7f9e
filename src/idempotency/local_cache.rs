//! The in-memory cache of completed records, which saves a warm duplicate the store's round trip.

use std::collections::{HashMap, VecDeque};

use super::store::{Record, Status};

/// At most `capacity` completed records; the oldest inserted goes first.
pub(crate) struct LocalCache {
    capacity: usize,
    records: HashMap<String, Record>,
    order: VecDeque<String>,
}

impl LocalCache {
    pub(crate) fn new(capacity: usize) -> LocalCache {
        LocalCache {
            capacity,
            records: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The completed record of `key`, while it is live.
    pub(crate) fn get(&mut self, key: &str, now_ms: u64) -> Option<Record> {
        let record = self.records.get(key)?;
        if record.is_live(now_ms) {
            return Some(record.clone());
        }
        self.records.remove(key);
        self.order.retain(|k| k != key);
        None
    }

    pub(crate) fn put(&mut self, record: Record) {
        if self.capacity == 0 || record.status != Status::Completed {
            return;
        }
        let key = record.key.clone();
        if self.records.insert(key.clone(), record).is_none() {
            self.order.push_back(key);
        }
        while self.records.len() > self.capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.records.remove(&oldest);
                }
                None => break,
            }
        }
    }
}
