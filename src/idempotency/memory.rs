//! A [`Store`] in the process's memory.

use std::collections::HashMap;
use std::sync::Mutex;

use super::store::{Record, Status, Store, StoreError, Written};

/// Records in this process's memory: for tests and local runs. It protects nothing across
/// execution environments (each has its own memory); deploy with a shared store such as
/// DynamoDB.
///
/// ```
/// use lamina::idempotency::{Idempotency, MemoryStore};
///
/// let idempotency = Idempotency::new(MemoryStore::default());
/// # let _ = idempotency;
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
}

impl MemoryStore {
    /// The record of `key`, if there is one (live or not).
    pub fn get(&self, key: &str) -> Option<Record> {
        self.lock().get(key).cloned()
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    async fn begin(&self, record: &Record, now_ms: u64) -> Result<Option<Record>, StoreError> {
        let mut records = self.lock();
        if let Some(existing) = records.get(&record.key).filter(|r| r.is_live(now_ms)) {
            return Ok(Some(existing.clone()));
        }
        records.insert(record.key.clone(), record.clone());
        Ok(None)
    }

    async fn complete(
        &self,
        in_progress: &Record,
        completed: &Record,
    ) -> Result<Written, StoreError> {
        let mut records = self.lock();
        if !holds(&records, in_progress) {
            return Ok(Written::Superseded);
        }
        records.insert(completed.key.clone(), completed.clone());
        Ok(Written::Done)
    }

    async fn delete(&self, in_progress: &Record) -> Result<Written, StoreError> {
        let mut records = self.lock();
        if !holds(&records, in_progress) {
            return Ok(Written::Superseded);
        }
        records.remove(&in_progress.key);
        Ok(Written::Done)
    }
}

/// Whether the stored record of `in_progress.key` is still that attempt's.
fn holds(records: &HashMap<String, Record>, in_progress: &Record) -> bool {
    records.get(&in_progress.key).is_some_and(|stored| {
        stored.status == Status::InProgress && stored.attempt == in_progress.attempt
    })
}
