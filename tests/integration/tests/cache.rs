//! `lamina::cache` against real file systems: a tmpfs that is really full, a mount that is really
//! read-only, a directory this user really may not write, entries damaged on disk, many tasks and
//! threads asking at once, processes restarting and racing, and the `cache` example through the
//! Runtime API emulator.
//!
//! The full and read-only file systems are small tmpfs mounts made inside a private mount
//! namespace (`unshare --mount`, as root, or with a user namespace otherwise), where
//! `cache_probe` runs the operations; nothing is mounted on the host. Without namespaces these
//! tests are skipped with the reason printed, except under CI (`CI` set), where they fail.

mod support;

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use lamina::cache::{Cache, Cached, Source};
use serde_json::{Value, json};
use support::{Emulator, Event, Function};

const PROBE: &str = env!("CARGO_BIN_EXE_cache_probe");
const EXAMPLE: &str = env!("CARGO_BIN_EXE_cache_example");

// ---------------------------------------------------------------------------------------------
// Helpers

/// A directory of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    /// A fresh directory on a tmpfs (`/dev/shm`) where there is one, as Lambda's `/tmp` is:
    /// the cache keeps a tenth of its file system free, so on the host's own disk whether it
    /// stores anything would depend on how full that disk is.
    fn new(name: &str) -> Scratch {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() && !shm.metadata().unwrap().permissions().readonly() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("lamina-cache-it-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &Path, namespace: &str) -> Cache {
    Cache::builder()
        .dir(dir)
        .namespace(namespace)
        .min_free(0)
        .open()
        .unwrap()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Log lines written while `f` ran on this thread.
#[derive(Default, Clone)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    fn warnings(&self) -> Vec<String> {
        warnings(&self.text())
    }

    fn take(&self) -> String {
        let text = self.text();
        self.0.lock().unwrap().clear();
        text
    }
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with every log line of this thread captured.
fn logged<T>(f: impl FnOnce(&Logs) -> T) -> T {
    use tracing_subscriber::util::SubscriberInitExt;
    let logs = Logs::default();
    let sink = Arc::clone(&logs.0);
    let _guard = tracing_subscriber::fmt()
        .with_writer(move || LogWriter(Arc::clone(&sink)))
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .finish()
        .set_default();
    f(&logs)
}

fn warnings(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.trim_start().starts_with("WARN"))
        .map(str::to_owned)
        .collect()
}

async fn bytes(cache: &Cache, key: &str, value: &[u8]) -> Cached<Vec<u8>> {
    let value = value.to_vec();
    cache
        .get_or_fetch_bytes(key, None, || async move { Ok::<_, io::Error>(value) })
        .await
        .unwrap()
}

/// Whether `key` is stored: a get whose fetch fails succeeds only from the cache.
async fn has(cache: &Cache, key: &str) -> bool {
    cache
        .get_or_fetch_bytes(key, None, || async {
            Err::<Vec<u8>, _>(io::Error::other("not stored"))
        })
        .await
        .is_ok()
}

/// The cache's files with this extension.
fn files(cache: &Cache, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(cache.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    found.sort();
    found
}

fn only_file(cache: &Cache, ext: &str) -> PathBuf {
    let found = files(cache, ext);
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Skips (or, under CI, fails) a test that needs something this machine lacks.
fn unavailable(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("CI must run this test, but {what}");
    }
    eprintln!("SKIPPED: {what}");
}

/// One run of `cache_probe`: its JSON lines, its log lines.
struct Run {
    ops: Vec<Value>,
    log: String,
}

impl Run {
    fn read(out: &[u8], err: &[u8]) -> Run {
        let ops = String::from_utf8_lossy(out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect();
        Run {
            ops,
            log: String::from_utf8_lossy(err).into_owned(),
        }
    }

    fn op(&self, i: usize) -> &Value {
        self.ops
            .get(i)
            .unwrap_or_else(|| panic!("no op {i}: {:#?}\n{}", self.ops, self.log))
    }

    fn warnings(&self) -> Vec<String> {
        warnings(&self.log)
    }
}

fn probe(args: &[&str]) -> Run {
    let output = Command::new(PROBE).args(args).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    Run::read(&output.stdout, &output.stderr)
}

/// The `unshare` options that give a private mount namespace where tmpfs can be mounted.
fn mount_namespace() -> Option<&'static [&'static str]> {
    static FOUND: OnceLock<Result<&'static [&'static str], String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let probe_dir = Scratch::new("unshare-check");
        let candidates: [&'static [&'static str]; 2] = [
            &["--mount", "--propagation", "private"],
            &[
                "--user",
                "--map-root-user",
                "--mount",
                "--propagation",
                "private",
            ],
        ];
        let mut why = String::new();
        for options in candidates {
            let output = Command::new("unshare")
                .args(options)
                .args(["sh", "-c", "mount -t tmpfs -o size=64k tmpfs \"$0\""])
                .arg(probe_dir.path())
                .output();
            match output {
                Ok(out) if out.status.success() => return Ok(options),
                Ok(out) => why = String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                Err(e) => why = format!("unshare could not run: {e}"),
            }
        }
        Err(why)
    });
    match found {
        Ok(options) => Some(options),
        Err(why) => {
            unavailable(&format!(
                "no mount namespace with tmpfs could be made here ({why}); run as root, or \
                 where unprivileged user namespaces are allowed"
            ));
            None
        }
    }
}

/// Runs `script` with `sh` in a private mount namespace. `$MNT` is an empty directory to mount
/// on, `$PROBE` the probe, and `probe N ARGS...` runs it with its output in `$OUT/N.out` and
/// `$OUT/N.err`. Returns the runs by number.
fn in_namespace(scratch: &Scratch, script: &str) -> Option<Vec<Run>> {
    let options = mount_namespace()?;
    let mnt = scratch.path().join("mnt");
    let out = scratch.path().join("out");
    fs::create_dir_all(&mnt).unwrap();
    fs::create_dir_all(&out).unwrap();
    let full = format!(
        "set -eu\nprobe() {{ n=$1; shift; \"$PROBE\" \"$@\" > \"$OUT/$n.out\" 2> \"$OUT/$n.err\"; }}\n{script}"
    );
    let output: Output = Command::new("unshare")
        .args(options)
        .args(["sh", "-c", &full])
        .env("MNT", &mnt)
        .env("OUT", &out)
        .env("PROBE", PROBE)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the namespace script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut runs = Vec::new();
    for n in 1.. {
        let (Ok(o), Ok(e)) = (
            fs::read(out.join(format!("{n}.out"))),
            fs::read(out.join(format!("{n}.err"))),
        ) else {
            break;
        };
        runs.push(Run::read(&o, &e));
    }
    Some(runs)
}

fn assert_served(op: &Value, source: &str, stored: bool) {
    assert_eq!(op["valid"], json!(true), "{op}");
    assert_eq!(op["source"], json!(source), "{op}");
    assert_eq!(op["stored"], json!(stored), "{op}");
}

// ---------------------------------------------------------------------------------------------
// Failures of the file system: each is a miss and one warning, never a failed get

#[test]
fn a_full_file_system_is_a_miss_with_one_warning() {
    let scratch = Scratch::new("enospc");
    let Some(runs) = in_namespace(
        &scratch,
        r#"
mount -t tmpfs -o size=256k tmpfs "$MNT"
# 1: the file system is full before anything is cached.
probe 1 --dir "$MNT/c1" --budget 100000000 --min-free 0 \
  fill="$MNT/ballast" bytes=k:10000 bytes=k:10000 json=j file=f:20000 stats
ls -A "$MNT/c1/default" > "$OUT/1.ls"
rm -rf "$MNT"/*
# 2: it fills up with entries in it: the cache evicts what the write needs and retries.
probe 2 --dir "$MNT/c2" --budget 100000000 --min-free 0 \
  bytes=a:40000 bytes=b:40000 fill="$MNT/ballast" bytes=c:40000 bytes=c:40000 stats
rm -rf "$MNT"/*
# 3: an artefact larger than the whole file system: fetch's own write fails, nothing is left.
probe 3 --dir "$MNT/c3" --budget 100000000 --min-free 0 file=big:300000 bytes=after:1000 stats
ls -A "$MNT/c3/default" > "$OUT/3.ls"
"#,
    ) else {
        return;
    };

    let full = &runs[0];
    assert!(
        full.op(0)["filled"].as_u64().unwrap() > 200_000,
        "{}",
        full.op(0)
    );
    for i in [1, 2, 3, 4] {
        assert_served(full.op(i), "miss", false);
        assert_eq!(full.op(i)["fetched"], json!(true));
    }
    assert!(
        full.op(4)["path"]
            .as_str()
            .unwrap()
            .starts_with("/proc/self/fd/"),
        "a file that cannot go to disk is kept in memory: {}",
        full.op(4)
    );
    let warned = full.warnings();
    assert_eq!(warned.len(), 4, "one warning per get:\n{}", full.log);
    for line in &warned[..3] {
        assert!(line.contains("No space left on device"), "{line}");
    }
    assert!(warned[3].contains("is full"), "{}", warned[3]);
    assert_eq!(full.op(5)["errors"], json!(4));
    assert_eq!(full.op(5)["entries"], json!(0));
    let left = fs::read_to_string(scratch.path().join("out/1.ls")).unwrap();
    assert_eq!(left, "", "no temporary file is left behind");

    let evicting = &runs[1];
    assert_served(evicting.op(0), "miss", true);
    assert_served(evicting.op(1), "miss", true);
    assert_served(evicting.op(3), "miss", true);
    assert_served(evicting.op(4), "hit", true);
    assert_eq!(evicting.op(5)["evictions"], json!(1));
    assert_eq!(evicting.op(5)["entries"], json!(2));
    assert!(evicting.warnings().is_empty(), "{}", evicting.log);

    let too_big = &runs[2];
    assert!(
        too_big.op(0)["error"]
            .as_str()
            .unwrap()
            .contains("No space left on device"),
        "fetch's own write error is returned: {}",
        too_big.op(0)
    );
    assert_served(too_big.op(1), "miss", true);
    assert_eq!(too_big.op(2)["entries"], json!(1));
    let left = fs::read_to_string(scratch.path().join("out/3.ls")).unwrap();
    assert_eq!(left.lines().count(), 1, "only the entry of `after`: {left}");
}

#[test]
fn the_free_space_floor_makes_the_cache_give_way() {
    let scratch = Scratch::new("floor");
    let Some(runs) = in_namespace(
        &scratch,
        r#"
mount -t tmpfs -o size=256k tmpfs "$MNT"
probe 1 --dir "$MNT/c" --budget 100000000 --min-free 131072 \
  bytes=a:40000 bytes=b:40000 bytes=c:40000 bytes=d:40000 bytes=huge:150000 stats
df -B1 --output=avail "$MNT" | tail -n 1 > "$OUT/1.df"
"#,
    ) else {
        return;
    };
    let run = &runs[0];
    for i in 0..4 {
        assert_served(run.op(i), "miss", true);
    }
    // 256 KiB less a 128 KiB floor holds three 40 KB entries: the fourth evicts the first.
    // An entry that could not fit above the floor even in an empty cache is served, not
    // stored, and evicts nothing on the way.
    assert_served(run.op(4), "miss", false);
    assert_eq!(run.op(5)["evictions"], json!(1), "{}", run.op(5));
    assert_eq!(run.op(5)["entries"], json!(3), "{}", run.op(5));
    let warned = run.warnings();
    assert_eq!(warned.len(), 1, "{}", run.log);
    assert!(warned[0].contains("`Builder::min_free`"), "{}", warned[0]);
    let available: u64 = fs::read_to_string(scratch.path().join("out/1.df"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        available >= 131_072,
        "the floor holds: {available} bytes free"
    );
}

#[test]
fn a_read_only_file_system_serves_what_it_has_and_fetches_the_rest() {
    let scratch = Scratch::new("readonly");
    let Some(runs) = in_namespace(
        &scratch,
        r#"
mount -t tmpfs -o size=1m tmpfs "$MNT"
probe 1 --dir "$MNT/cache" bytes=a:1000 json=j file=f:3000
mount -o remount,ro "$MNT"
probe 2 --dir "$MNT/cache" bytes=a:1000 json=j file=f:3000 bytes=new:1000 file=newf:2000 \
  invalidate=a bytes=a:1000 stats
# A cache directory that does not exist and cannot be made.
probe 3 --dir "$MNT/missing/cache" bytes=x:100 file=y:100 stats
"#,
    ) else {
        return;
    };
    let (before, ro, missing) = (&runs[0], &runs[1], &runs[2]);
    for i in 0..3 {
        assert_served(before.op(i), "miss", true);
    }

    assert_served(ro.op(0), "hit", true);
    assert_served(ro.op(1), "hit", true);
    assert_served(ro.op(2), "hit", true);
    assert_eq!(ro.op(2)["in_dir"], json!(true));
    assert_served(ro.op(3), "miss", false);
    assert_served(ro.op(4), "miss", false);
    assert!(
        ro.op(4)["path"]
            .as_str()
            .unwrap()
            .starts_with("/proc/self/fd/")
    );
    assert_eq!(ro.op(5)["removed"], json!(true));
    // Invalidated but not deletable: this process no longer serves it.
    assert_served(ro.op(6), "miss", false);
    let warned = ro.warnings();
    assert_eq!(warned.len(), 4, "{}", ro.log);
    assert!(warned[0].contains("Read-only file system"), "{}", warned[0]);
    assert!(warned[1].contains("kept in memory"), "{}", warned[1]);
    assert!(warned[2].contains("could not be deleted"), "{}", warned[2]);
    assert!(warned[3].contains("Read-only file system"), "{}", warned[3]);
    assert_eq!(ro.op(7)["hits"], json!(3));

    assert_served(missing.op(0), "miss", false);
    assert_served(missing.op(1), "miss", false);
    let warned = missing.warnings();
    assert_eq!(
        warned.len(),
        3,
        "the open, then one per get:\n{}",
        missing.log
    );
    assert!(warned[0].contains("cannot be used"), "{}", warned[0]);
}

#[test]
fn a_directory_this_user_may_not_write_is_a_miss_with_one_warning() {
    if !is_root() {
        return unavailable("switching to another user (for a real EACCES) needs root");
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        return unavailable("setpriv (util-linux) is not installed");
    }
    let scratch = Scratch::new("eacces");
    fs::set_permissions(scratch.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let locked = scratch.path().join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    // The probe may live where `nobody` cannot reach it: run a copy.
    let probe_copy = scratch.path().join("cache_probe");
    fs::copy(PROBE, &probe_copy).unwrap();
    fs::set_permissions(&probe_copy, fs::Permissions::from_mode(0o755)).unwrap();
    let dir = locked.join("cache");
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&probe_copy)
        .arg("--dir")
        .arg(&dir)
        .args(["bytes=k:1000", "json=j", "file=f:2000", "stats"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let run = Run::read(&output.stdout, &output.stderr);
    for i in 0..3 {
        assert_served(run.op(i), "miss", false);
    }
    let warned = run.warnings();
    assert_eq!(warned.len(), 4, "the open, then one per get:\n{}", run.log);
    assert!(
        warned.iter().all(|w| w.contains("Permission denied")),
        "{}",
        run.log
    );
    assert!(!dir.exists());
}

/// Makes the namespace `linked` in `scratch` a symbolic link, which the cache refuses to use;
/// returns the directory it points to.
fn linked_namespace(scratch: &Scratch) -> PathBuf {
    let elsewhere = scratch.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, scratch.path().join("linked")).unwrap();
    elsewhere
}

#[test]
fn a_directory_of_another_user_or_a_symlink_is_not_used() {
    let scratch = Scratch::new("unsafe");
    let elsewhere = linked_namespace(&scratch);
    let mut namespaces = vec!["linked"];
    if is_root() {
        let theirs = scratch.path().join("theirs");
        fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        namespaces.push("theirs");
    }
    for namespace in namespaces {
        logged(|logs| {
            let cache = open(scratch.path(), namespace);
            let opened = logs.take();
            assert_eq!(warnings(&opened).len(), 1, "{opened}");
            assert!(opened.contains("the cache is off"), "{opened}");
            block_on(async {
                let got = bytes(&cache, "k", b"v").await;
                assert_eq!((got.source(), got.is_stored()), (Source::Fetched, false));
                assert_eq!(&got[..], b"v");
                let file = cache
                    .get_or_fetch_file("f", None, |path| async move { fs::write(path, b"data") })
                    .await
                    .unwrap();
                assert_eq!(fs::read(file.path()).unwrap(), b"data");
                assert!(!file.is_stored());
            });
            assert_eq!(logs.warnings().len(), 2, "{}", logs.text());
        });
        assert_eq!(listing(&elsewhere), Vec::<String>::new());
    }
}

#[test]
fn a_file_too_large_for_memory_fails_its_fetch_instead_of_killing_the_function() {
    let scratch = Scratch::new("memory");
    // A cache directory that is not used, so every file goes to memory.
    let elsewhere = linked_namespace(&scratch);
    // A function of 1 MB: a quarter of it may be held in memory.
    let limit = 256 * 1024;
    let output = Command::new(PROBE)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1")
        .arg("--dir")
        .arg(scratch.path())
        .args(["--namespace", "linked"])
        .args([
            "stream=small:200000",
            "stream=big:4000000",
            "file=whole:300000",
        ])
        .arg("stats")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let run = Run::read(&output.stdout, &output.stderr);

    // Within the limit: served from memory.
    assert_served(run.op(0), "miss", false);
    assert!(
        run.op(0)["path"]
            .as_str()
            .unwrap()
            .starts_with("/proc/self/fd/"),
        "{}",
        run.op(0)
    );
    // Past it: fetch's next write fails, and the get returns fetch's error, which a handler
    // can return, where 4 MB in memory would have run a small function out of it.
    let big = run.op(1);
    assert_eq!(big["os_error"], json!(1), "EPERM: {big}");
    assert!(
        big["error"]
            .as_str()
            .unwrap()
            .contains("Operation not permitted"),
        "{big}"
    );
    let written = big["written"].as_u64().unwrap();
    assert!(
        written > limit && written <= limit + 64 * 1024,
        "stopped within one chunk of the limit: {big}"
    );
    // Written in one step, an artefact is whole before the cache can see it, and served.
    assert_served(run.op(2), "miss", false);

    let stopped: Vec<_> = run
        .warnings()
        .into_iter()
        .filter(|w| w.contains("past the"))
        .collect();
    assert_eq!(stopped.len(), 1, "{}", run.log);
    assert!(
        stopped[0].contains(&format!(
            "it grew to 327680 bytes, past the {limit} bytes an artefact may take in memory \
             (`Builder::max_in_memory`, by default a quarter of the function's memory)"
        )),
        "{}",
        stopped[0]
    );
    assert!(stopped[0].contains("file key \"big\""), "{}", stopped[0]);
    assert_eq!(listing(&elsewhere), Vec::<String>::new());
}

#[test]
fn a_fetch_that_ignores_its_refused_writes_gets_an_empty_file_not_a_corrupt_one() {
    let scratch = Scratch::new("memory-ignored");
    linked_namespace(&scratch);
    let cache = Cache::builder()
        .dir(scratch.path())
        .namespace("linked")
        .max_in_memory(100_000)
        .open()
        .unwrap();
    let got = logged(|logs| {
        let got = block_on(cache.get_or_fetch_file("big", None, |path| async move {
            let mut file = fs::File::create(path)?;
            for _ in 0..10 {
                // Errors dropped on the floor, as a careless fetch might.
                let _ = file.write_all(&[9u8; 50_000]);
                tokio::task::yield_now().await;
            }
            Ok::<_, io::Error>(())
        }))
        .unwrap();
        let warned = logs.warnings();
        assert_eq!(warned.len(), 1, "{}", logs.text());
        assert!(warned[0].contains("past the 100000 bytes"), "{}", warned[0]);
        got
    });
    assert!(!got.is_stored());
    assert_eq!(got.len(), 0);
    assert_eq!(fs::read(got.path()).unwrap(), Vec::<u8>::new());
}

#[test]
fn a_path_that_cannot_be_a_directory_is_a_miss() {
    let scratch = Scratch::new("notdir");
    let file = scratch.path().join("file");
    fs::write(&file, b"").unwrap();
    logged(|logs| {
        let cache = open(&file, "default");
        block_on(async {
            let got = bytes(&cache, "k", b"v").await;
            assert_eq!((got.source(), got.is_stored()), (Source::Fetched, false));
        });
        let warned = logs.warnings();
        assert_eq!(warned.len(), 2, "{}", logs.text());
        assert!(warned[1].contains("Not a directory"), "{}", warned[1]);
    });
}

// ---------------------------------------------------------------------------------------------
// Damaged entries

#[test]
fn corrupt_and_truncated_entries_are_misses_with_one_warning() {
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 6] = [
        ("flipped payload byte", |p| flip(p, -1)),
        ("flipped header byte", |p| flip(p, 20)),
        ("truncated by one byte", |p| truncate(p, 1)),
        ("truncated into the header", |p| {
            let len = fs::metadata(p).unwrap().len();
            truncate(p, len - 10)
        }),
        ("grown by one byte", |p| {
            fs::OpenOptions::new()
                .append(true)
                .open(p)
                .unwrap()
                .write_all(b"x")
                .unwrap()
        }),
        ("emptied", |p| fs::write(p, b"").unwrap()),
    ];
    let scratch = Scratch::new("corrupt");
    for (i, (what, damage)) in damages.into_iter().enumerate() {
        let cache = open(scratch.path(), &format!("d{i}"));
        logged(|logs| {
            block_on(async {
                bytes(&cache, "k", &[42; 3000]).await;
                damage(&only_file(&cache, "entry"));
                let again = bytes(&cache, "k", &[42; 3000]).await;
                assert_eq!(again.source(), Source::Fetched, "{what}");
                assert!(again.is_stored(), "{what}");
                assert_eq!(&again[..], &[42; 3000][..], "{what}");
                assert!(bytes(&cache, "k", b"").await.is_hit(), "{what}");
            });
            let warned = logs.warnings();
            assert_eq!(warned.len(), 1, "{what}:\n{}", logs.text());
            assert!(warned[0].contains("unusable"), "{what}: {}", warned[0]);
        });
    }
}

#[test]
fn opening_reads_headers_only_and_drops_what_they_show_broken() {
    let scratch = Scratch::new("reopen");
    let first = open(scratch.path(), "default");
    block_on(async {
        bytes(&first, "torn", &[1; 5000]).await;
        bytes(&first, "rotten", &[2; 5000]).await;
        bytes(&first, "fine", &[3; 5000]).await;
    });
    let by_key = |key: &str| {
        files(&first, "entry")
            .into_iter()
            .find(|p| {
                fs::read(p)
                    .unwrap()
                    .windows(key.len())
                    .any(|w| w == key.as_bytes())
            })
            .unwrap()
    };
    truncate(&by_key("torn"), 100);
    flip(&by_key("rotten"), -1);
    drop(first);

    logged(|logs| {
        // A new cache on the same directory: what a restarted process sees.
        let cache = open(scratch.path(), "default");
        let opened = logs.take();
        let warned = warnings(&opened);
        assert_eq!(warned.len(), 1, "{opened}");
        assert!(warned[0].contains("1 unusable entries"), "{}", warned[0]);
        // The rotten payload is invisible to a header-only scan: it is still indexed.
        assert_eq!(cache.stats().entries, 2);
        block_on(async {
            assert!(bytes(&cache, "fine", b"").await.is_hit());
            assert_eq!(
                bytes(&cache, "torn", b"new").await.source(),
                Source::Fetched
            );
            let rotten = bytes(&cache, "rotten", b"new").await;
            assert_eq!(rotten.source(), Source::Fetched);
        });
        let warned = logs.warnings();
        assert_eq!(
            warned.len(),
            1,
            "only the rotten payload, found on read:\n{}",
            logs.text()
        );
        assert!(warned[0].contains("content checksum"), "{}", warned[0]);
    });
}

#[test]
fn file_entries_are_verified_once_per_process_and_again_when_changed() {
    let scratch = Scratch::new("files");
    let content = |n: u8| vec![n; 200_000];
    let fetch_count = Arc::new(AtomicUsize::new(0));
    let get = |cache: &Cache, n: u8| {
        let fetches = Arc::clone(&fetch_count);
        let cache = cache.clone();
        block_on(async move {
            cache
                .get_or_fetch_file("model", None, |path| async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    fs::write(path, content(n))
                })
                .await
                .unwrap()
        })
    };
    let first = open(scratch.path(), "default");
    let stored = get(&first, 1);
    assert!(stored.is_stored());
    assert_eq!(fs::read(stored.path()).unwrap(), content(1));
    assert_eq!(
        fs::metadata(stored.path()).unwrap().mode() & 0o777,
        0o600,
        "private, whatever fetch created"
    );
    assert!(get(&first, 9).is_hit());

    logged(|logs| {
        // Restarted: the first hit checks the content, and finds the damage.
        let cache = open(scratch.path(), "default");
        flip(&only_file(&cache, "file"), 1000);
        let refetched = get(&cache, 2);
        assert_eq!(refetched.source(), Source::Fetched);
        assert_eq!(fs::read(refetched.path()).unwrap(), content(2));
        assert!(logs.take().contains("content checksum"));
        assert!(get(&cache, 9).is_hit());

        // Changed after it was verified: checked again.
        std::thread::sleep(Duration::from_millis(20));
        flip(&only_file(&cache, "file"), 5);
        assert_eq!(get(&cache, 3).source(), Source::Fetched);
        assert!(logs.take().contains("content checksum"));

        // Truncated, then deleted outright.
        truncate(&only_file(&cache, "file"), 1);
        assert_eq!(get(&cache, 4).source(), Source::Fetched);
        assert!(logs.take().contains("bytes long"));
        fs::remove_file(only_file(&cache, "file")).unwrap();
        let last = get(&cache, 5);
        assert_eq!(last.source(), Source::Fetched);
        assert!(logs.take().contains("vanished"));
        assert_eq!(fs::read(last.path()).unwrap(), content(5));
    });
    assert_eq!(fetch_count.load(Ordering::SeqCst), 5);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

#[test]
fn concurrent_gets_of_one_key_fetch_once() {
    let scratch = Scratch::new("flight");
    let cache = open(scratch.path(), "default");
    let fetches = Arc::new(AtomicUsize::new(0));
    let sources = block_on(async {
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (cache, fetches) = (cache.clone(), Arc::clone(&fetches));
                tokio::spawn(async move {
                    let got = cache
                        .get_or_fetch_bytes("shared", None, || async move {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok::<_, io::Error>(vec![7; 10_000])
                        })
                        .await
                        .unwrap();
                    assert_eq!(&got[..], &[7; 10_000][..]);
                    got.source()
                })
            })
            .collect();
        let mut sources = Vec::new();
        for task in tasks {
            sources.push(task.await.unwrap());
        }
        sources
    });
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let fetched = sources.iter().filter(|s| **s == Source::Fetched).count();
    let joined = sources.iter().filter(|s| **s == Source::Joined).count();
    assert_eq!((fetched, joined), (1, 49), "{sources:?}");
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.joined, stats.entries), (1, 49, 1));
}

#[test]
fn concurrent_gets_from_many_threads_fetch_once() {
    let scratch = Scratch::new("threads");
    let cache = open(scratch.path(), "default");
    let fetches = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (cache, fetches) = (cache.clone(), Arc::clone(&fetches));
            std::thread::spawn(move || {
                block_on(async move {
                    let tasks: Vec<_> = (0..10)
                        .map(|_| {
                            let (cache, fetches) = (cache.clone(), Arc::clone(&fetches));
                            tokio::spawn(async move {
                                let counted = Arc::clone(&fetches);
                                let json = cache.get_or_fetch_json("doc", None, || async move {
                                    let fetches = counted;
                                    fetches.fetch_add(1, Ordering::SeqCst);
                                    tokio::time::sleep(Duration::from_millis(200)).await;
                                    Ok::<_, io::Error>(json!({"answer": 42}))
                                });
                                let file = cache.get_or_fetch_file("blob", None, |p| async move {
                                    fetches.fetch_add(1, Ordering::SeqCst);
                                    tokio::time::sleep(Duration::from_millis(200)).await;
                                    fs::write(p, [5u8; 5000])
                                });
                                let value = json.await.unwrap().into_inner();
                                let file = file.await.unwrap();
                                (value, fs::read(file.path()).unwrap().len())
                            })
                        })
                        .collect();
                    let mut results = Vec::new();
                    for task in tasks {
                        results.push(task.await.unwrap());
                    }
                    results
                })
            })
        })
        .collect();
    for thread in threads {
        for (value, len) in thread.join().unwrap() {
            assert_eq!((value, len), (json!({"answer": 42}), 5000));
        }
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "one fetch per key");
}

#[test]
fn when_the_fetch_everyone_waits_for_fails_the_next_caller_fetches() {
    let scratch = Scratch::new("handoff");
    let cache = open(scratch.path(), "default");
    let fetches = Arc::new(AtomicUsize::new(0));
    let results = block_on(async {
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let (cache, fetches) = (cache.clone(), Arc::clone(&fetches));
                tokio::spawn(async move {
                    cache
                        .get_or_fetch_bytes("flaky", None, || async move {
                            let n = fetches.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(30)).await;
                            if n == 0 {
                                Err(io::Error::other("upstream down"))
                            } else {
                                Ok(vec![n as u8])
                            }
                        })
                        .await
                        .map(|got| got.source())
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    assert_eq!(
        results,
        [
            Err("upstream down".to_owned()),
            Ok(Source::Fetched),
            Ok(Source::Joined)
        ]
    );
}

#[test]
fn invalidating_during_a_fetch_keeps_its_value_out_of_the_cache() {
    let scratch = Scratch::new("inflight");
    let cache = open(scratch.path(), "default");
    block_on(async {
        let slow = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_fetch_bytes("k", None, || async {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok::<_, io::Error>(b"stale".to_vec())
                    })
                    .await
                    .unwrap()
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!cache.invalidate("k"), "nothing stored yet");
        // A get after the invalidation fetches afresh, and its value is the one that stays.
        let fresh = bytes(&cache, "k", b"fresh").await;
        assert_eq!((fresh.source(), fresh.is_stored()), (Source::Fetched, true));
        let got = slow.await.unwrap();
        assert_eq!((&got[..], got.is_stored()), (&b"stale"[..], false));
        assert_eq!(&bytes(&cache, "k", b"unused").await[..], b"fresh");
        cache.invalidate("k");
        assert!(!has(&cache, "k").await);
    });
}

/// The space the files in `dir` really take, in bytes: what the cache's byte count must match.
fn space_taken(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().blocks() * 512)
        .sum()
}

#[test]
fn cancelled_file_fetch_leaves_no_temporary_file() {
    let scratch = Scratch::new("cancelled");
    let cache = open(scratch.path(), "default");
    let attempts = 20;
    block_on(async {
        for _ in 0..attempts {
            // A download that writes part of the artefact, then stalls until the caller's
            // timeout gives up on it.
            let stalled = cache.get_or_fetch_file("model", None, |path| async move {
                fs::write(&path, [1u8; 50_000])?;
                std::future::pending::<()>().await;
                Ok::<_, io::Error>(())
            });
            let timed_out = tokio::time::timeout(Duration::from_millis(5), stalled).await;
            assert!(timed_out.is_err(), "the fetch never ends");
        }
    });
    assert_eq!(
        listing(cache.dir()),
        Vec::<String>::new(),
        "{attempts} cancelled fetches left files behind"
    );
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.bytes), (0, 0), "{stats}");

    // The budget is whole: the next fetch is stored, and counted as the space it takes.
    let model = block_on(cache.get_or_fetch_file("model", None, |path| async move {
        fs::write(path, [2u8; 50_000])
    }))
    .unwrap();
    assert_eq!((model.source(), model.is_stored()), (Source::Fetched, true));
    assert_eq!(fs::read(model.path()).unwrap(), [2u8; 50_000]);
    let stats = cache.stats();
    assert_eq!(stats.entries, 1, "{stats}");
    assert_eq!(stats.bytes, space_taken(cache.dir()), "{stats}");
    assert_eq!(
        files(&cache, "entry").len() + files(&cache, "file").len(),
        2
    );
    assert_eq!(listing(cache.dir()).len(), 2, "{:?}", listing(cache.dir()));
}

#[test]
fn a_cancelled_leader_hands_the_fetch_to_the_get_waiting_for_it() {
    let scratch = Scratch::new("cancelled-leader");
    let cache = open(scratch.path(), "default");
    block_on(async {
        let (started, fetching) = tokio::sync::oneshot::channel();
        let leader = {
            let cache = cache.clone();
            tokio::spawn(async move {
                let got = cache.get_or_fetch_file("model", None, |path| async move {
                    fs::write(&path, b"partial")?;
                    let _ = started.send(());
                    std::future::pending::<()>().await;
                    Ok::<_, io::Error>(())
                });
                got.await.map(|_| ())
            })
        };
        fetching.await.unwrap();
        let joiner =
            {
                let cache = cache.clone();
                tokio::spawn(async move {
                    cache
                        .get_or_fetch_file("model", None, |path| async move {
                            fs::write(path, b"whole")
                        })
                        .await
                })
            };
        // On this single-threaded runtime the joiner runs now, finds the leader's flight and
        // waits on it.
        tokio::task::yield_now().await;
        assert!(!joiner.is_finished(), "the second get waits for the first");
        leader.abort();
        assert!(leader.await.unwrap_err().is_cancelled());
        let got = joiner.await.unwrap().unwrap();
        assert_eq!((got.source(), got.is_stored()), (Source::Fetched, true));
        assert_eq!(fs::read(got.path()).unwrap(), b"whole");
    });
    let mut left = listing(cache.dir());
    left.retain(|name| name.starts_with(".tmp-"));
    assert_eq!(
        left,
        Vec::<String>::new(),
        "the leader's partial file is gone"
    );
}

// ---------------------------------------------------------------------------------------------
// Time to live, eviction, invalidation

#[test]
fn entries_expire_after_their_time_to_live_also_across_restarts() {
    let scratch = Scratch::new("ttl");
    let cache = open(scratch.path(), "default");
    let get = |cache: &Cache, value: &'static [u8]| {
        let cache = cache.clone();
        block_on(async move {
            cache
                .get_or_fetch_bytes("k", Duration::from_millis(1500), || async move {
                    Ok::<_, io::Error>(value.to_vec())
                })
                .await
                .unwrap()
        })
    };
    assert_eq!(get(&cache, b"one").source(), Source::Fetched);
    assert_eq!(&get(&cache, b"two")[..], b"one");
    // The expiry is in the entry's header: a restarted process honours it too.
    let restarted = open(scratch.path(), "default");
    assert_eq!(&get(&restarted, b"two")[..], b"one");
    std::thread::sleep(Duration::from_millis(1700));
    let expired = get(&cache, b"three");
    assert_eq!(
        (expired.source(), &expired[..]),
        (Source::Fetched, &b"three"[..])
    );
    assert_eq!(cache.stats().expirations, 1);
    assert!(get(&cache, b"four").is_hit());
    // A TTL can be left out: `None` keeps an entry until it is evicted or invalidated.
    block_on(async {
        let forever = cache
            .get_or_fetch_json("forever", None, || async { Ok::<_, io::Error>(1u8) })
            .await
            .unwrap();
        assert!(forever.is_stored());
    });
}

#[test]
fn eviction_goes_by_least_recent_use_within_the_budget() {
    let scratch = Scratch::new("lru");
    // How much one small entry takes: one block of this file system.
    let block = {
        let cache = open(scratch.path(), "measure");
        block_on(bytes(&cache, "x", b"x"));
        cache.stats().bytes
    };
    assert!(block >= 512);
    let cache = Cache::builder()
        .dir(scratch.path())
        .namespace("lru")
        .budget(3 * block)
        .min_free(0)
        .open()
        .unwrap();
    logged(|logs| {
        block_on(async {
            for key in ["a", "b", "c"] {
                bytes(&cache, key, key.as_bytes()).await;
            }
            assert!(
                bytes(&cache, "a", b"").await.is_hit(),
                "a is now the most recent"
            );
            bytes(&cache, "d", b"d").await;
            let stats = cache.stats();
            assert_eq!(
                (stats.evictions, stats.entries, stats.bytes),
                (1, 3, 3 * block)
            );
            assert!(!has(&cache, "b").await, "b was the least recently used");
            for key in ["a", "c", "d"] {
                assert!(has(&cache, key).await, "{key}");
            }

            // Expired entries go first, however recently used.
            cache.clear();
            bytes(&cache, "old", b"1").await;
            cache
                .get_or_fetch_bytes("brief", Duration::from_millis(50), || async {
                    Ok::<_, io::Error>(b"2".to_vec())
                })
                .await
                .unwrap();
            bytes(&cache, "new", b"3").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            bytes(&cache, "newest", b"4").await;
            assert!(has(&cache, "old").await);
            assert_eq!(cache.stats().expirations, 1);

            // An entry larger than the whole budget is served, not stored.
            let big = vec![0u8; 3 * block as usize];
            let got = bytes(&cache, "big", &big).await;
            assert_eq!((got.len(), got.is_stored()), (big.len(), false));
        });
        let warned = logs.warnings();
        assert_eq!(warned.len(), 1, "{}", logs.text());
        assert!(
            warned[0].contains("more than the cache's budget"),
            "{}",
            warned[0]
        );
    });

    // A restart with a smaller budget trims to it, oldest first.
    drop(cache);
    let trimmed = Cache::builder()
        .dir(scratch.path())
        .namespace("lru")
        .budget(block)
        .min_free(0)
        .open()
        .unwrap();
    assert_eq!(trimmed.stats().entries, 1);
}

#[test]
fn invalidate_and_clear_remove_entries_from_disk() {
    let scratch = Scratch::new("invalidate");
    let cache = open(scratch.path(), "default");
    block_on(async {
        bytes(&cache, "a", b"1").await;
        bytes(&cache, "b", b"2").await;
        cache
            .get_or_fetch_file("c", None, |p| async move { fs::write(p, b"3") })
            .await
            .unwrap();
    });
    assert_eq!(
        listing(cache.dir()).len(),
        4,
        "three headers, one content file"
    );
    assert!(cache.invalidate("a"));
    assert!(!cache.invalidate("a"));
    assert!(!cache.invalidate("never stored"));
    assert_eq!(cache.clear(), 2);
    assert_eq!(listing(cache.dir()), Vec::<String>::new());
    assert_eq!(cache.stats().entries, 0);
}

// ---------------------------------------------------------------------------------------------
// What survives, what another process does, and what is private

#[test]
fn a_second_process_finds_the_first_ones_entries() {
    let scratch = Scratch::new("restart");
    let dir = scratch.path().to_str().unwrap();
    let ops = ["bytes=a:5000", "json=j", "file=f:70000", "stats"];
    let first = probe(&[&["--dir", dir][..], &ops].concat());
    for i in 0..3 {
        assert_served(first.op(i), "miss", true);
    }
    let second = probe(&[&["--dir", dir][..], &ops].concat());
    for i in 0..3 {
        assert_served(second.op(i), "hit", true);
        assert_eq!(second.op(i)["fetched"], json!(false));
    }
    assert_eq!(second.op(3)["hits"], json!(3));
    assert!(second.warnings().is_empty(), "{}", second.log);
    assert!(
        second
            .log
            .contains("lamina cache hit: file key \"f\", 70000 bytes"),
        "one debug line per get:\n{}",
        second.log
    );
}

#[test]
fn processes_racing_on_one_key_never_read_a_torn_value() {
    let scratch = Scratch::new("race");
    let racers: Vec<_> = (0..2)
        .map(|_| {
            Command::new(PROBE)
                .arg("--dir")
                .arg(scratch.path())
                .arg("race=k:300:20000")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for racer in racers {
        let output = racer.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let run = Run::read(&output.stdout, &output.stderr);
        assert_eq!(run.op(0)["invalid"], json!(0), "{}", run.op(0));
        assert_eq!(run.op(0)["rounds"], json!(300));
    }
}

#[test]
fn an_entry_replaced_by_another_process_is_read_and_one_deleted_is_a_miss() {
    let scratch = Scratch::new("replaced");
    let ours = open(scratch.path(), "default");
    block_on(bytes(&ours, "k", b"ours"));
    let theirs = open(scratch.path(), "default");
    logged(|logs| {
        block_on(async {
            assert!(theirs.invalidate("k"));
            let refetched = bytes(&ours, "k", b"ours again").await;
            assert_eq!(refetched.source(), Source::Fetched);
            assert_eq!(logs.warnings().len(), 1, "{}", logs.text());
            assert!(logs.take().contains("vanished"));

            theirs.invalidate("k");
            assert!(!has(&theirs, "k").await);
            bytes(&theirs, "k", b"theirs").await;
            let read = bytes(&ours, "k", b"unused").await;
            assert_eq!((read.source(), &read[..]), (Source::Hit, &b"theirs"[..]));
        });
        assert!(logs.warnings().is_empty(), "{}", logs.text());
    });
}

#[test]
fn opening_clears_dead_writers_debris_and_keeps_live_ones() {
    let scratch = Scratch::new("debris");
    let cache = open(scratch.path(), "default");
    let dir = cache.dir().to_owned();
    for name in [
        ".tmp-4294967295-1",
        ".tmp-not-a-pid",
        ".tmp-1-1",
        "0123456789abcdef0123456789abcdef.file",
        "notes.txt",
    ] {
        fs::write(dir.join(name), b"x").unwrap();
    }
    drop(cache);
    let _reopened = open(scratch.path(), "default");
    // pid 1 is alive: its temporary file may still be written. Unknown names are not ours.
    assert_eq!(listing(&dir), [".tmp-1-1", "notes.txt"]);
}

#[test]
fn a_directory_deleted_under_the_cache_is_made_again() {
    let scratch = Scratch::new("deleted");
    let cache = open(scratch.path(), "default");
    fs::remove_dir_all(scratch.path()).unwrap();
    logged(|logs| {
        let got = block_on(bytes(&cache, "k", b"v"));
        assert!(got.is_stored());
        assert!(logs.warnings().is_empty(), "{}", logs.text());
    });
    assert_eq!(fs::metadata(cache.dir()).unwrap().mode() & 0o777, 0o700);
}

#[test]
fn entries_are_private_to_the_user() {
    let scratch = Scratch::new("private");
    let cache = open(scratch.path(), "default");
    block_on(async {
        bytes(&cache, "k", b"secret").await;
        cache
            .get_or_fetch_file("f", None, |path| async move {
                // A fetch that writes elsewhere and moves its own file (0644) into place.
                let own = path.with_extension("download");
                fs::write(&own, b"secret file")?;
                fs::set_permissions(&own, fs::Permissions::from_mode(0o644))?;
                fs::rename(own, path)
            })
            .await
            .unwrap();
    });
    assert_eq!(fs::metadata(cache.dir()).unwrap().mode() & 0o777, 0o700);
    for path in files(&cache, "entry")
        .into_iter()
        .chain(files(&cache, "file"))
    {
        assert_eq!(
            fs::metadata(&path).unwrap().mode() & 0o777,
            0o600,
            "{path:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The example, as Lambda runs it

#[test]
fn the_example_downloads_once_and_hits_on_the_next_invocation_and_after_a_restart() {
    let scratch = Scratch::new("example");
    let dir = scratch.path().to_str().unwrap();
    let event = r#"{"artefact":"model-v1.bin","size":65536}"#;
    let api = Emulator::start();
    let first_process = Function::start(EXAMPLE, &api, &[("CACHE_DIR", dir)]);
    let cold = support::json(&api.invoke(Event::json(event)));
    let warm = support::json(&api.invoke(Event::json(event)));
    assert_eq!(cold["source"], json!("miss"), "{cold}");
    assert_eq!(cold["downloads"], json!(1));
    assert_eq!(warm["source"], json!("hit"), "{warm}");
    assert_eq!(
        warm["downloads"],
        json!(1),
        "the warm invocation did not download"
    );
    assert_eq!(warm["checksum"], cold["checksum"]);
    assert_eq!(warm["bytes"], json!(65536));
    drop(first_process);

    // A new process, as after a crash or a timeout: Lambda keeps the environment's /tmp. (A new
    // emulator too: the old one handed its next invocation to the process that is gone.)
    let api = Emulator::start();
    let _restarted = Function::start(EXAMPLE, &api, &[("CACHE_DIR", dir)]);
    let after = support::json(&api.invoke(Event::json(event)));
    assert_eq!(after["source"], json!("hit"), "{after}");
    assert_eq!(after["downloads"], json!(0), "a new process found the file");
    assert_eq!(after["checksum"], cold["checksum"]);
}

// ---------------------------------------------------------------------------------------------

/// Flips the lowest bit of the byte at `at` (from the end if negative).
fn flip(path: &Path, at: i64) {
    let mut data = fs::read(path).unwrap();
    let i = if at < 0 {
        data.len() - at.unsigned_abs() as usize
    } else {
        at as usize
    };
    data[i] ^= 1;
    fs::write(path, data).unwrap();
}

/// Cuts `by` bytes off the end.
fn truncate(path: &Path, by: u64) {
    let len = fs::metadata(path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len - by)
        .unwrap();
}
