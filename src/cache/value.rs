//! Bytes and JSON values: entries read and written whole, in one file each.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::flight::{Flight, Shared};
use super::format::{Header, Kind};
use super::store::{Call, Inner, expiry, now_ms, now_ns};
use super::{Cached, Source, disk};

/// How values of one kind become bytes and back.
pub(super) trait Codec<T> {
    const KIND: Kind;
    fn encode(value: &T) -> Result<Cow<'_, [u8]>, String>;
    fn decode(bytes: &[u8]) -> Result<T, String>;
    /// The same, taking the buffer: bytes are returned as they are, without a copy.
    fn decode_vec(bytes: Vec<u8>) -> Result<T, String> {
        Self::decode(&bytes)
    }
}

pub(super) struct RawBytes;

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

pub(super) struct JsonValue;

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

impl Inner {
    pub(super) async fn get_blob<T, C, F, Fut, E>(
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

        let boarding = self.flights.board(C::KIND, key);
        let mut fetch = Some(fetch);
        let flown = boarding
            .fly(|| async {
                // A get that finished between our lookup and now may have stored it.
                if let Some(bytes) = self.read_hit(&mut call) {
                    match C::decode(&bytes) {
                        Ok(value) => {
                            let len = bytes.len() as u64;
                            let shared = Shared::Blob {
                                bytes: Some(Arc::new(bytes)),
                                stored: true,
                            };
                            return Ok((shared, (value, Source::Hit, true, len)));
                        }
                        Err(why) => self.drop_undecodable(&mut call, why),
                    }
                }
                let Some(fetch) = fetch.take() else {
                    unreachable!("a flight's initialiser runs at most once per get")
                };
                let value = fetch().await?;
                let encoded = C::encode(&value);
                let stored = self.store_encoded(&mut call, &encoded, ttl, boarding.flight());
                boarding.land();
                // Only gets that joined before `land` can still read the result; without
                // them, a copy of the value for it would be waste.
                let len = encoded.as_ref().map_or(0, |b| b.len() as u64);
                let bytes = match encoded {
                    Ok(bytes) if boarding.is_awaited() => Some(Arc::new(bytes.into_owned())),
                    _ => None,
                };
                Ok((
                    Shared::Blob { bytes, stored },
                    (value, Source::Fetched, stored, len),
                ))
            })
            .await;
        let shared = match flown {
            Ok((_, Some((value, source, stored, len)))) => {
                return Ok(self.done(call, value, source, stored, Some(len)));
            }
            Ok((shared, None)) => shared,
            Err(e) => {
                self.finish(call, None);
                return Err(e);
            }
        };
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
                let stored = self.store_encoded(&mut call, &encoded, ttl, boarding.flight());
                drop(encoded);
                Ok(self.done(call, value, Source::Fetched, stored, None))
            }
            Err(e) => {
                self.finish(call, None);
                Err(e)
            }
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
}
