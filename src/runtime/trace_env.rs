//! `_X_AMZN_TRACE_ID`: the trace header of the invocation in flight, where the AWS SDKs and
//! X-Ray tooling look for it.
//!
//! The handler's side owns the variable: [`TraceEnv`] lives in the handler wrapper, which in
//! layer mode runs inside the handler library. The library links its own std, with its own
//! environment lock, and its code (the user's threads, tokio's blocking pool, the SDKs) reads the
//! environment through that lock. A write from the `bootstrap`'s std would take the other lock,
//! so glibc's `setenv` could replace or reallocate `environ` under one of those readers. Written
//! here, under the same lock its readers take, the write cannot race them; in bin mode there is
//! only one std, so the same code is right in both modes. The invoke loop never touches it.
//!
//! With `AWS_LAMBDA_MAX_CONCURRENCY` > 1 the variable is never set: one process-wide value
//! cannot name the trace of several invocations at once. `Context::xray_trace_header` does.
//!
//! # Why not `setenv` every time
//!
//! glibc's `setenv` never frees a value it was given (a reader may still hold a pointer to it),
//! so setting a new trace id on every invocation, as Lambda's headers require, keeps ~155 bytes
//! per invocation for the life of the environment: hundreds of megabytes for a busy function
//! (the soak, `lamina-bench --soak`, fails on it). So the variable is set with `setenv` once,
//! and after that each invocation's value is written into one of a few buffers lamina owns and
//! never frees, and handed to `putenv`, which puts the buffer itself in `environ`: no
//! allocation, and for a name already there glibc only swaps one pointer. A buffer is written
//! again only three invocations after it was replaced, so a reader that took the old pointer
//! (std copies the value at once) never sees it change under it; its last byte is always NUL,
//! so even such a reader stops inside it. A header too long for a buffer falls back to
//! `setenv`.
#![allow(unsafe_code)]

const TRACE_ENV: &str = "_X_AMZN_TRACE_ID";

/// Sets or clears `_X_AMZN_TRACE_ID` for the invocation about to run, touching the environment
/// only when there is something to change.
pub(crate) struct TraceEnv {
    /// Only under Lambda, one invocation at a time: a local run (`cargo run`, the layer's
    /// bootstrap without the Runtime API) leaves a variable the user exported to test
    /// propagation as it is, and concurrent invocations cannot share one variable.
    under_lambda: bool,
    is_set: bool,
    #[cfg(target_os = "linux")]
    slots: Option<slots::Slots>,
}

impl TraceEnv {
    pub(crate) fn new() -> Self {
        TraceEnv {
            under_lambda: std::env::var_os(crate::base::lambda_env::RUNTIME_API).is_some()
                && crate::base::lambda_env::max_concurrency(|k| std::env::var(k).ok())
                    .is_ok_and(|n| n == 1),
            is_set: std::env::var_os(TRACE_ENV).is_some(),
            #[cfg(target_os = "linux")]
            slots: None,
        }
    }

    pub(crate) fn update(&mut self, trace_header: Option<&str>) {
        if !self.under_lambda {
            return;
        }
        match trace_header {
            Some(value) => self.set(value),
            // SAFETY: written by the handler side before the user's code runs for the invocation,
            // under the environment lock of the std that code reads through (see the module
            // docs): lamina's readers, and the user's std readers on any thread, are excluded
            // for the write. A thread that reads the environment with libc's `getenv` directly is
            // the risk the Lambda platform contract (a per-process variable for a per-invocation
            // value) leaves open; `Context::xray_trace_header` is the race-free source.
            None if self.is_set => unsafe { std::env::remove_var(TRACE_ENV) },
            None => {}
        }
        self.is_set = trace_header.is_some();
    }

    fn set(&mut self, value: &str) {
        #[cfg(target_os = "linux")]
        if self.is_set {
            // After the first `setenv` the name is in `environ`, so `putenv` only swaps the
            // pointer (see the module docs).
            let slots = self.slots.get_or_insert_with(slots::Slots::new);
            if slots.put(TRACE_ENV, value) {
                return;
            }
        }
        // SAFETY: as for `remove_var` in `update`.
        unsafe { std::env::set_var(TRACE_ENV, value) }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        front::move_to_front(TRACE_ENV);
    }
}

/// Puts the variable first in `environ`, once, where glibc's `putenv` finds it at the first
/// comparison: it scans `environ` from the front, and Lambda's ~30 variables cost ~900
/// instructions an invocation when `setenv` left this one last.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod front {
    use std::ffi::CStr;

    pub(super) fn move_to_front(name: &str) {
        // SAFETY: `environ` is a NULL-terminated array of NUL-terminated strings, which glibc
        // keeps valid; it is read and two of its pointers swapped right after the `setenv` that
        // added the variable, on the handler side before the user's code runs for the
        // invocation. The swap writes the entry leaving the front over ours first, so a reader
        // scanning meanwhile (`getenv` takes no lock) finds every other variable; only ours is
        // briefly absent, as it was an instant before. A `setenv` of another variable from
        // another thread at this very moment could reallocate `environ` under the swap: the
        // same concurrent-writer hazard every environment write has (`std::env::set_var` is
        // unsafe for it), taken once per process here rather than per invocation.
        unsafe {
            let environ = libc::environ;
            if environ.is_null() {
                return;
            }
            let mut at = 0;
            loop {
                let entry = *environ.add(at);
                if entry.is_null() {
                    return;
                }
                let text = CStr::from_ptr(entry).to_bytes();
                if text.len() > name.len()
                    && text.starts_with(name.as_bytes())
                    && text[name.len()] == b'='
                {
                    break;
                }
                at += 1;
            }
            if at == 0 {
                return;
            }
            let ours = *environ.add(at);
            std::ptr::write_volatile(environ.add(at), *environ);
            std::ptr::write_volatile(environ, ours);
        }
    }
}

#[cfg(target_os = "linux")]
mod slots {
    /// Bytes per buffer: `_X_AMZN_TRACE_ID=`, a header (Lambda's are ~100 bytes, with
    /// `Lineage` ~120), the NUL.
    const CAPACITY: usize = 512;
    /// Buffers in rotation: one in `environ`, the others rewritten at least this many
    /// invocations after they left it.
    const SLOTS: usize = 4;

    /// Buffers handed to `putenv`, leaked on purpose: `environ` may point into them for the
    /// life of the process.
    pub(super) struct Slots {
        base: *mut u8,
        next: usize,
    }

    impl Slots {
        pub(super) fn new() -> Self {
            let buffers: &'static mut [u8] =
                Box::leak(vec![0u8; CAPACITY * SLOTS].into_boxed_slice());
            Slots {
                base: buffers.as_mut_ptr(),
                next: 0,
            }
        }

        /// Makes `name=value` the variable's value; `false` if it does not fit a buffer or
        /// holds a NUL, which `putenv` cannot carry.
        pub(super) fn put(&mut self, name: &str, value: &str) -> bool {
            let len = name.len() + 1 + value.len();
            if len >= CAPACITY || has_nul(value.as_bytes()) {
                return false;
            }
            // SAFETY: `slot` is the start of the `next` buffer of `SLOTS` buffers of `CAPACITY`
            // bytes in an allocation that is never freed. The bytes written (`len` plus a NUL)
            // stay inside it, and its last byte, never written, stays NUL. This buffer left
            // `environ` `SLOTS - 1` invocations ago, and std readers copy a value at once
            // under their lock, so no reader is reading it now (module docs).
            unsafe {
                let slot = self.base.add(self.next * CAPACITY);
                std::ptr::copy_nonoverlapping(name.as_ptr(), slot, name.len());
                *slot.add(name.len()) = b'=';
                std::ptr::copy_nonoverlapping(
                    value.as_ptr(),
                    slot.add(name.len() + 1),
                    value.len(),
                );
                *slot.add(len) = 0;
                // SAFETY: `slot` holds a NUL-terminated `name=value` and outlives the process's
                // use of it. The name is in `environ` already, so glibc replaces one pointer
                // under its own lock and does not reallocate `environ`.
                if libc::putenv(slot.cast()) != 0 {
                    return false;
                }
            }
            self.next = (self.next + 1) % SLOTS;
            true
        }
    }

    /// Whether `bytes` holds a NUL: with `memchr` where the build has it (the default one does),
    /// a tenth of the byte loop's cost on every invocation.
    fn has_nul(bytes: &[u8]) -> bool {
        #[cfg(feature = "simd-json")]
        return memchr::memchr(0, bytes).is_some();
        #[cfg(not(feature = "simd-json"))]
        return bytes.contains(&0);
    }

    // SAFETY: `Slots` is the sole writer of the buffers it points to; moving it to another
    // thread moves that role with it.
    unsafe impl Send for Slots {}
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::slots::Slots;

    /// The buffers rotate, each value is what `getenv` (through std) returns at once, and an
    /// oversized value is refused for `setenv` to take.
    #[test]
    fn values_go_into_rotating_buffers_environ_points_at() {
        const NAME: &str = "LAMINA_TEST_TRACE_SLOTS";
        // SAFETY: a variable no other test reads or writes.
        unsafe { std::env::set_var(NAME, "first") };
        let mut slots = Slots::new();
        for i in 0..10 {
            let value = format!("Root=1-6748a2c0-{i:024x};Sampled=0");
            assert!(slots.put(NAME, &value));
            assert_eq!(std::env::var(NAME).as_deref(), Ok(value.as_str()));
        }
        assert!(!slots.put(NAME, &"x".repeat(600)));

        // First in `environ` now, where `putenv` finds it at once; the others all still there.
        #[cfg(target_env = "gnu")]
        {
            let before: Vec<_> = std::env::vars_os().collect();
            super::front::move_to_front(NAME);
            let first = unsafe { std::ffi::CStr::from_ptr(*libc::environ) };
            assert!(first.to_bytes().starts_with(NAME.as_bytes()));
            let mut after: Vec<_> = std::env::vars_os().collect();
            let mut before = before;
            before.sort();
            after.sort();
            assert_eq!(before, after);
            assert!(slots.put(NAME, "after the move"));
            assert_eq!(std::env::var(NAME).as_deref(), Ok("after the move"));
        }
        assert!(!slots.put(NAME, "nul\0inside"));
        // SAFETY: as above.
        unsafe { std::env::remove_var(NAME) };
        assert!(std::env::var(NAME).is_err());
    }
}
