//! A [`Store`] in the process's memory.

use std::collections::HashMap;
use std::sync::Mutex;

use super::store::{Record, Store, StoreError};

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

    async fn complete(&self, record: &Record) -> Result<(), StoreError> {
        self.lock().insert(record.key.clone(), record.clone());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }
}
