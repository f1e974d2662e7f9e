//! Finding the handler library and loading it with the system's dynamic loader.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use lamina::Error;
use lamina::abi::{ENTRY_SYMBOL, EntryFn, LoadError, LoadedHandler};

/// Where Lambda extracts the function's package.
const DEFAULT_TASK_ROOT: &str = "/var/task";

/// The library the function's settings name, with the `_HANDLER` value it came from.
pub struct Located {
    path: PathBuf,
    handler: String,
}

/// Reads `_HANDLER` and `LAMBDA_TASK_ROOT`: `orders` (or `my-orders`) names
/// `$LAMBDA_TASK_ROOT/liborders.so` (`libmy_orders.so`, as cargo names it); a value ending in
/// `.so` or holding a `/` is a file name, relative to the task root unless absolute.
pub fn locate(var: impl Fn(&str) -> Option<String>) -> Result<Located, Error> {
    let handler = var("_HANDLER")
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| LoadError::NoHandler.into_error())?;
    let root = var("LAMBDA_TASK_ROOT")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| DEFAULT_TASK_ROOT.to_owned());
    let file = if handler.ends_with(".so") || handler.contains('/') {
        handler.clone()
    } else {
        format!("lib{}.so", handler.replace('-', "_"))
    };
    Ok(Located {
        path: Path::new(&root).join(file),
        handler,
    })
}

/// Loads the library, looks up its entry point and runs its `init`.
///
/// The library is never unloaded: its code and state serve every invocation until Lambda ends
/// the process.
pub fn load(located: &Located) -> Result<LoadedHandler, Error> {
    let path = &located.path;
    if !path.is_file() {
        return Err(LoadError::NotFound {
            path: path.clone(),
            handler: located.handler.clone(),
        }
        .into_error());
    }
    let unloadable = |reason: String| {
        LoadError::Unloadable {
            path: path.clone(),
            reason,
        }
        .into_error()
    };
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| unloadable("the path holds a NUL byte".to_owned()))?;
    // SAFETY: a NUL-terminated path; RTLD_NOW resolves every symbol now, so a library that needs
    // a newer glibc fails here, with the loader's message, rather than at its first call.
    let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(unloadable(last_dl_error()));
    }
    let symbol = CString::new(ENTRY_SYMBOL).expect("the symbol name has no NUL");
    // SAFETY: a live handle and a NUL-terminated name.
    let entry: *mut c_void = unsafe { libc::dlsym(handle, symbol.as_ptr()) };
    if entry.is_null() {
        return Err(LoadError::NotLamina { path: path.clone() }.into_error());
    }
    // SAFETY: lamina libraries export the symbol with exactly this type; the library stays
    // loaded (the handle is never closed).
    let entry: EntryFn = unsafe { std::mem::transmute::<*mut c_void, EntryFn>(entry) };
    // SAFETY: as above; `init` checks the version before trusting the table's layout.
    unsafe { LoadedHandler::init(entry(), path.clone()) }
}

fn last_dl_error() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string valid until the next dl call.
    let message = unsafe { libc::dlerror() };
    if message.is_null() {
        "the dynamic loader gave no reason".to_owned()
    } else {
        // SAFETY: non-null, NUL-terminated, read before any other dl call.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(pairs: &[(&str, &str)]) -> Result<PathBuf, Error> {
        locate(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .map(|l| l.path)
    }

    #[test]
    fn crate_names_become_cargo_library_file_names() {
        assert_eq!(
            located(&[("_HANDLER", "orders")]).unwrap(),
            Path::new("/var/task/liborders.so")
        );
        assert_eq!(
            located(&[("_HANDLER", "my-orders"), ("LAMBDA_TASK_ROOT", "/srv")]).unwrap(),
            Path::new("/srv/libmy_orders.so")
        );
    }

    #[test]
    fn file_names_and_paths_are_taken_as_given() {
        assert_eq!(
            located(&[("_HANDLER", "custom.so")]).unwrap(),
            Path::new("/var/task/custom.so")
        );
        assert_eq!(
            located(&[("_HANDLER", "/opt/lib/x.so")]).unwrap(),
            Path::new("/opt/lib/x.so")
        );
    }

    #[test]
    fn an_empty_handler_is_a_handler_not_found_error() {
        for pairs in [&[][..], &[("_HANDLER", "  ")][..]] {
            let err = located(pairs).unwrap_err();
            assert_eq!(err.error_type(), "Runtime.HandlerNotFound");
            assert!(err.message().contains("_HANDLER"), "{}", err.message());
        }
    }

    #[test]
    fn load_failures_name_the_file_and_the_fix() {
        let missing = Located {
            path: "/nonexistent/libx.so".into(),
            handler: "x".into(),
        };
        let err = load(&missing).err().unwrap();
        assert_eq!(err.error_type(), "Runtime.HandlerNotFound");
        assert!(err.message().contains("/nonexistent/libx.so"));

        let dir = std::env::temp_dir().join(format!("lamina-bootstrap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let not_elf = dir.join("libtext.so");
        std::fs::write(&not_elf, "not a shared object").unwrap();
        let err = load(&Located {
            path: not_elf,
            handler: "text".into(),
        })
        .err()
        .unwrap();
        assert_eq!(err.error_type(), "Runtime.InvalidEntrypoint");
        assert!(
            err.message().contains("could not be loaded"),
            "{}",
            err.message()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
