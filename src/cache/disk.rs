//! The cache directory: preparing it, finding what an earlier process left in it, and reading
//! and writing entries so that a reader never sees half an entry.
//!
//! Every write goes to a fresh temporary file in the same directory, which is then renamed over
//! the entry's name: `rename` within one file system is atomic, so a reader finds the old entry,
//! the new one, or none. Temporary names carry the writer's pid, so a process that opens the
//! cache can tell a dead writer's leftovers (deleted) from a live one's (left alone).
//!
//! There is no `fsync`. The crashes that matter here are the process's own (a panic with
//! `panic = "abort"`, an out-of-memory kill, a timeout): the kernel still holds every byte written
//! before them. A crash of the machine ends the execution environment, and its `/tmp` with it.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::format::{DATA_EXT, ENTRY_EXT, Header, Kind, Name, ReadError};
use super::index::mtime_ns;
use super::sys;

const TEMP_PREFIX: &str = ".tmp-";
const PRIVATE_FILE: u32 = 0o600;
const PRIVATE_DIR: u32 = 0o700;

/// Why the cache directory cannot be used.
#[derive(Debug)]
pub(crate) enum DirError {
    /// The file system refused (read-only, missing, not permitted, full).
    Io(io::Error),
    /// It exists but is not safe to keep private data in; the text says why and what to do.
    Unsafe(String),
}

/// Creates the directory (mode 0700, parents included) if need be, checks that it is a private
/// directory of this user's, and opens it.
pub(crate) fn prepare(dir: &Path) -> Result<File, DirError> {
    if let Err(e) = DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
    {
        // An existing path that is not a directory is reported below, with a better message.
        if e.kind() != io::ErrorKind::AlreadyExists {
            return Err(DirError::Io(e));
        }
    }
    let meta = fs::symlink_metadata(dir).map_err(DirError::Io)?;
    if meta.file_type().is_symlink() {
        return Err(DirError::Unsafe(format!(
            "{} is a symbolic link, which another process could point anywhere; remove it, or \
             choose another directory with `Builder::dir`",
            dir.display()
        )));
    }
    if !meta.is_dir() {
        return Err(DirError::Unsafe(format!(
            "{} is not a directory; remove it, or choose another directory with `Builder::dir`",
            dir.display()
        )));
    }
    let uid = sys::effective_uid();
    if meta.uid() != uid {
        return Err(DirError::Unsafe(format!(
            "{} belongs to uid {}, not to this process (uid {uid}), so its entries could have \
             been written by someone else; use another namespace or directory",
            dir.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0
        && fs::set_permissions(dir, fs::Permissions::from_mode(PRIVATE_DIR)).is_err()
    {
        return Err(DirError::Unsafe(format!(
            "{} is open to other users (mode {:o}) and its mode cannot be changed; use another \
             namespace or directory",
            dir.display(),
            meta.mode() & 0o777
        )));
    }
    File::open(dir).map_err(DirError::Io)
}

/// What an earlier process left in the directory, read from headers only.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) found: Vec<Found>,
    /// Entries that could not be used, each with why; they were deleted if the file system
    /// allowed it.
    pub(crate) discarded: Vec<String>,
    /// Temporary files of writers that no longer run, deleted.
    pub(crate) stale_temps: usize,
}

/// One usable entry found on disk.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) name: Name,
    pub(crate) header: Header,
    /// When the entry was written: the start of its LRU order.
    pub(crate) mtime_ns: i128,
}

/// Lists the directory and reads the header of every entry: `open`, one read and one `fstat`
/// per entry (plus a `stat` of a file entry's content), never the payloads.
pub(crate) fn scan(dir: &Path) -> io::Result<Scan> {
    let mut scan = Scan::default();
    let mut entries = Vec::new();
    let mut data_files = Vec::new();
    let own_pid = std::process::id();
    for item in fs::read_dir(dir)? {
        let Ok(item) = item else { continue };
        let file_name = item.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if let Some(rest) = file_name.strip_prefix(TEMP_PREFIX) {
            let writer = rest
                .split('-')
                .next()
                .and_then(|pid| pid.parse::<u32>().ok());
            // A temp file of ours cannot exist yet: it is a dead process's whose pid came back.
            let alive = writer.is_some_and(|pid| pid != own_pid && sys::process_exists(pid));
            if !alive && fs::remove_file(item.path()).is_ok() {
                scan.stale_temps += 1;
            }
            continue;
        }
        let Some((stem, ext)) = file_name.split_once('.') else {
            continue;
        };
        let Some(name) = Name::parse(stem) else {
            continue;
        };
        match ext {
            ENTRY_EXT => entries.push(name),
            DATA_EXT => data_files.push(name),
            // Not ours: the cache only ever touches the names it writes.
            _ => {}
        }
    }
    let mut valid_data = Vec::new();
    for name in entries {
        match read_found(dir, name) {
            Ok(found) => {
                if found.header.kind == Kind::File {
                    valid_data.push(name);
                }
                scan.found.push(found);
            }
            Err(why) => {
                let _ = remove(dir, name);
                scan.discarded
                    .push(format!("{} ({why})", name.entry_file()));
            }
        }
    }
    for name in data_files {
        if !valid_data.contains(&name) {
            // Content whose header never got written (a crash between the two renames) or was
            // discarded above.
            let _ = fs::remove_file(dir.join(name.data_file()));
        }
    }
    Ok(scan)
}

fn read_found(dir: &Path, name: Name) -> Result<Found, String> {
    let (header, meta) = read_header(&dir.join(name.entry_file())).map_err(|e| e.to_string())?;
    if Name::of(&header.key) != name {
        return Err("it is stored under another key's name".to_owned());
    }
    if header.kind == Kind::File {
        let data = fs::symlink_metadata(dir.join(name.data_file()))
            .map_err(|e| format!("its content file is unreadable ({e})"))?;
        if !data.is_file() || data.len() != header.payload_len {
            return Err(format!(
                "its content file is {} bytes long, not {}",
                data.len(),
                header.payload_len
            ));
        }
    }
    Ok(Found {
        name,
        header,
        mtime_ns: mtime_ns(&meta),
    })
}

/// Reads and checks the header of the entry file at `path`.
pub(crate) fn read_header(path: &Path) -> Result<(Header, fs::Metadata), ReadError> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::Corrupt(super::format::Corrupt::NotAnEntry));
    }
    let mut reader = io::BufReader::with_capacity(4096, file);
    let header = Header::read_from(&mut reader, meta.len())?;
    Ok((header, meta))
}

/// Reads a bytes or JSON entry whole and checks it against its header: the key, the kind, the
/// length and the payload checksum.
pub(crate) fn read_blob(
    dir: &Path,
    name: Name,
    key: &str,
    kind: Kind,
) -> Result<(Header, Vec<u8>), ReadError> {
    use super::format::Corrupt;
    let file = File::open(dir.join(name.entry_file()))?;
    let len = file.metadata()?.len();
    // One read takes the header, the key and, for a small entry, the payload; a large payload
    // is read straight into its buffer.
    let mut reader = io::BufReader::with_capacity(8192, file);
    let header = Header::read_from(&mut reader, len)?;
    if header.key != key {
        return Err(Corrupt::OtherKey.into());
    }
    if header.kind != kind {
        return Err(Corrupt::OtherKind {
            found: header.kind,
            wanted: kind,
        }
        .into());
    }
    // `read_from` checked that the file is exactly header + payload long.
    let mut payload = vec![0u8; header.payload_len as usize];
    reader.read_exact(&mut payload).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ReadError::Corrupt(Corrupt::Truncated)
        } else {
            ReadError::Io(e)
        }
    })?;
    if super::format::payload_sum(&payload) != header.payload_sum {
        return Err(Corrupt::PayloadChecksum.into());
    }
    Ok((header, payload))
}

/// Length and payload checksum of a whole file, read from its start; leaves it at the start.
pub(crate) fn checksum_file(file: &mut File) -> io::Result<(u64, u64)> {
    file.rewind()?;
    let mut hasher = super::format::payload_hasher();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    file.rewind()?;
    Ok((len, hasher.finish()))
}

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Creates an empty, private (0600) temporary file in `dir` under a name no one else uses.
pub(crate) fn create_temp(dir: &Path) -> io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    loop {
        let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{TEMP_PREFIX}{pid}-{seq}"));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(PRIVATE_FILE)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            // Left by a dead process whose pid this one now has; the next number is free.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Writes `parts` to a new temporary file in `dir`; on failure nothing is left behind.
pub(crate) fn write_temp(dir: &Path, parts: &[&[u8]]) -> io::Result<PathBuf> {
    let (path, mut file) = create_temp(dir)?;
    let written = parts.iter().try_for_each(|part| file.write_all(part));
    match written {
        Ok(()) => Ok(path),
        Err(e) => {
            drop(file);
            let _ = fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Moves a finished temporary file to its final name, atomically replacing what was there.
pub(crate) fn publish(temp: &Path, dir: &Path, file_name: &str) -> io::Result<()> {
    fs::rename(temp, dir.join(file_name)).inspect_err(|_| {
        let _ = fs::remove_file(temp);
    })
}

/// Deletes an entry: the header first, so that no header ever points at missing content.
/// A file that is already gone is not an error.
pub(crate) fn remove(dir: &Path, name: Name) -> io::Result<()> {
    let header = remove_file(&dir.join(name.entry_file()));
    let data = remove_file(&dir.join(name.data_file()));
    header.and(data)
}

fn remove_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether an error means the file system (or the user's quota) is full.
pub(crate) fn is_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lamina-cache-unit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn prepare_makes_a_private_directory_and_refuses_a_symlink() {
        let dir = scratch("prepare");
        let ns = dir.join("root").join("ns");
        prepare(&ns).unwrap();
        assert_eq!(fs::metadata(&ns).unwrap().mode() & 0o777, 0o700);
        fs::set_permissions(&ns, fs::Permissions::from_mode(0o777)).unwrap();
        prepare(&ns).unwrap();
        assert_eq!(fs::metadata(&ns).unwrap().mode() & 0o777, 0o700);

        let link = dir.join("root").join("link");
        std::os::unix::fs::symlink(&ns, &link).unwrap();
        assert!(matches!(prepare(&link), Err(DirError::Unsafe(m)) if m.contains("symbolic link")));
        let file = dir.join("root").join("file");
        fs::write(&file, b"").unwrap();
        assert!(
            matches!(prepare(&file), Err(DirError::Unsafe(m)) if m.contains("not a directory"))
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn blobs_round_trip_and_temps_are_private() {
        let dir = scratch("blob");
        prepare(&dir).unwrap();
        let name = Name::of("k");
        let header = Header::new(Kind::Bytes, "k", b"value", 1, None);
        let temp = write_temp(&dir, &[&header.encode(), b"value"]).unwrap();
        assert_eq!(fs::metadata(&temp).unwrap().mode() & 0o777, 0o600);
        publish(&temp, &dir, &name.entry_file()).unwrap();
        let (back, payload) = read_blob(&dir, name, "k", Kind::Bytes).unwrap();
        assert_eq!((back, payload), (header, b"value".to_vec()));
        assert!(matches!(
            read_blob(&dir, name, "k", Kind::Json),
            Err(ReadError::Corrupt(
                super::super::format::Corrupt::OtherKind { .. }
            ))
        ));
        remove(&dir, name).unwrap();
        remove(&dir, name).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn scan_keeps_good_entries_and_clears_debris() {
        let dir = scratch("scan");
        prepare(&dir).unwrap();
        let good = Header::new(Kind::Json, "good", b"1", 1, None);
        let temp = write_temp(&dir, &[&good.encode(), b"1"]).unwrap();
        publish(&temp, &dir, &Name::of("good").entry_file()).unwrap();
        // Torn: a header that promises more than is there.
        let torn = Header::new(Kind::Bytes, "torn", b"0123456789", 1, None);
        fs::write(
            dir.join(Name::of("torn").entry_file()),
            [&torn.encode()[..], b"01234"].concat(),
        )
        .unwrap();
        // Content without a header, a dead writer's temp file, and a stranger's file.
        fs::write(dir.join(Name::of("orphan").data_file()), b"x").unwrap();
        fs::write(dir.join(".tmp-4294967295-0"), b"x").unwrap();
        fs::write(dir.join("README"), b"not ours").unwrap();

        let scan = scan(&dir).unwrap();
        let keys: Vec<_> = scan.found.iter().map(|f| f.header.key.as_str()).collect();
        assert_eq!(keys, ["good"]);
        assert_eq!(scan.discarded.len(), 1, "{:?}", scan.discarded);
        assert!(
            scan.discarded[0].contains("65 bytes long, not 70"),
            "{:?}",
            scan.discarded
        );
        assert_eq!(scan.stale_temps, 1);
        let mut left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [Name::of("good").entry_file(), "README".to_owned()]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
