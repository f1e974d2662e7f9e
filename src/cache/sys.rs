//! The few system calls the cache needs that std does not wrap: the size of a file system, the
//! effective uid, whether a process is alive, the machine's memory, and an anonymous in-memory
//! file that can be sealed against growing.
//!
//! The only `unsafe` in the cache is here, each block a single libc call on memory it owns.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// What the cache needs to know about the file system its directory is on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FsSpace {
    /// The file system's size.
    pub(crate) total: u64,
    /// What an unprivileged process may still write.
    pub(crate) available: u64,
    /// The unit space is allocated in: a 10-byte file takes this much.
    pub(crate) block: u64,
}

/// `fstatvfs` on an open file or directory.
// The field types are `u64` on 64-bit Linux but narrower elsewhere: `u64::from` is for those.
#[allow(clippy::useless_conversion)]
pub(crate) fn fs_space(file: &File) -> io::Result<FsSpace> {
    let mut raw = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: the descriptor is open for as long as `file` is borrowed, and `raw` is a writable
    // `statvfs` that the call fills in; it is read only after the call reported success.
    let status = unsafe { libc::fstatvfs(file.as_raw_fd(), raw.as_mut_ptr()) };
    if status != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fstatvfs` succeeded, so it initialised the whole struct (and it was zeroed before).
    let raw = unsafe { raw.assume_init() };
    // `f_frsize` is the unit of the block counts; some systems leave it 0 and mean `f_bsize`.
    let unit = if raw.f_frsize > 0 {
        u64::from(raw.f_frsize)
    } else {
        u64::from(raw.f_bsize)
    };
    Ok(FsSpace {
        total: u64::from(raw.f_blocks).saturating_mul(unit),
        available: u64::from(raw.f_bavail).saturating_mul(unit),
        block: unit.max(512),
    })
}

/// The uid files this process creates are owned by.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: `geteuid` takes no arguments, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// Whether a process with this id exists (possibly another user's).
pub(crate) fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled; nothing is
    // sent, and no memory is passed.
    let status = unsafe { libc::kill(pid, 0) };
    status == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The machine's physical memory in bytes, if the system says.
pub(crate) fn physical_memory() -> Option<u64> {
    // SAFETY: `sysconf` takes an integer and touches no memory of ours.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let pages = u64::try_from(pages).ok()?;
    let page = u64::try_from(page).ok()?;
    pages.checked_mul(page).filter(|&bytes| bytes > 0)
}

/// A file that lives in memory only, for an artefact the cache directory cannot take.
///
/// Its path, `/proc/self/fd/N`, opens it for as long as the returned `File` is open. It may be
/// sealed with [`seal_growth`].
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn memory_file() -> io::Result<File> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: the name is a NUL-terminated literal that outlives the call.
    let fd = unsafe { libc::memfd_create(c"lamina-cache".as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `memfd_create` just returned this descriptor, so it is open and owned by no one
    // else; `OwnedFd` takes over closing it.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Seals an in-memory file against growing: from now on every write that would make it longer
/// fails with `EPERM`, through any descriptor, while shrinking it still works.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn seal_growth(file: &File) -> io::Result<()> {
    // SAFETY: the descriptor is open for as long as `file` is borrowed; `F_ADD_SEALS` takes an
    // integer and touches no memory of ours.
    let status = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_GROW) };
    if status != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Seals an in-memory file: not available on this system (nor are in-memory files).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn seal_growth(_file: &File) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "sealing files needs Linux",
    ))
}

/// A file that lives in memory only: not available on this system.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn memory_file() -> io::Result<File> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "in-memory files need Linux",
    ))
}

/// The function's memory in MB, as Lambda sets it.
const FUNCTION_MEMORY_SIZE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
/// The default in-memory limit is this fraction (1/4) of memory. The function holds more than
/// the artefact: what it loads from it (a model parsed from its file is about as large again),
/// its own working set, the runtime. A quarter leaves the artefact one loaded copy of itself
/// and half the memory for the rest; a half would turn the usual "load what was fetched" into
/// the out-of-memory kill the limit is there to prevent.
const MEMORY_SHARE: u64 = 4;
/// Memory to take the share of when neither the function's nor the machine's is known: Lambda's
/// smallest function.
const FALLBACK_MEMORY: u64 = 128 << 20;

/// The default of `Builder::max_in_memory`: a share of the function's memory, or outside
/// Lambda, of the machine's.
pub(crate) fn default_max_in_memory() -> u64 {
    let function_mb = std::env::var(FUNCTION_MEMORY_SIZE).ok();
    max_in_memory_for(function_mb.as_deref(), physical_memory())
}

fn max_in_memory_for(function_mb: Option<&str>, physical: Option<u64>) -> u64 {
    // On Lambda a malformed value stops the runtime before any handler runs
    // (`base/lambda_env.rs`); here it can only mean "not on Lambda".
    let function = function_mb
        .and_then(|mb| mb.trim().parse::<u64>().ok())
        .filter(|&mb| mb > 0)
        .map(|mb| mb.saturating_mul(1 << 20));
    function.or(physical).unwrap_or(FALLBACK_MEMORY) / MEMORY_SHARE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_in_memory_limit_is_a_quarter_of_the_functions_memory() {
        let gib = 1u64 << 30;
        assert_eq!(max_in_memory_for(Some("2048"), Some(64 * gib)), 512 << 20);
        assert_eq!(max_in_memory_for(Some("128"), None), 32 << 20);
        // Outside Lambda, or with a value Lambda would never set: the machine's memory.
        assert_eq!(max_in_memory_for(None, Some(8 * gib)), 2 * gib);
        assert_eq!(max_in_memory_for(Some("lots"), Some(8 * gib)), 2 * gib);
        assert_eq!(max_in_memory_for(Some("0"), Some(8 * gib)), 2 * gib);
        assert_eq!(max_in_memory_for(None, None), 32 << 20);
    }

    #[test]
    fn reports_the_file_system_and_this_process() {
        let dir = File::open(std::env::temp_dir()).unwrap();
        let space = fs_space(&dir).unwrap();
        assert!(
            space.total > 0 && space.available <= space.total,
            "{space:?}"
        );
        assert!(space.block >= 512);
        assert!(process_exists(std::process::id()));
        assert!(!process_exists(0));
        assert!(!process_exists(u32::MAX));
        let _ = effective_uid();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn memory_files_open_through_proc() {
        use std::io::Read;
        let file = memory_file().unwrap();
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        std::fs::write(&path, b"in memory").unwrap();
        let mut back = String::new();
        File::open(&path)
            .unwrap()
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, "in memory");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_sealed_memory_file_refuses_to_grow_but_shrinks() {
        use std::io::Write;
        let file = memory_file().unwrap();
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        std::fs::write(&path, b"0123456789").unwrap();
        seal_growth(&file).unwrap();
        file.set_len(0).unwrap();
        let mut writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let refused = writer.write_all(b"more").unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::EPERM), "{refused}");
        assert_eq!(file.metadata().unwrap().len(), 0);
        assert!(physical_memory().is_some_and(|bytes| bytes >= 1 << 20));
    }
}
