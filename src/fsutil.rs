//! File writing that never leaves a half-written file or destroys the previous one.

use crate::error::{Error, Result};
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename (atomic
/// on one filesystem). Creates the parent directory. On failure the previous file, if any, is
/// untouched and the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    let err = |source: std::io::Error| Error::Io {
        context: format!("writing {}", path.display()),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let name = path
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(err)
}

/// Checks, before any work, that `path` can be written later: creates its parent directory,
/// writes and removes a probe file beside it, and refuses a directory standing at `path`.
/// Nothing the user has is touched: an existing file at `path` stays as it is.
pub fn check_writable(path: &Path) -> Result<()> {
    let err = |source: std::io::Error| Error::Io {
        context: format!("cannot write {}", path.display()),
        source,
    };
    if path.is_dir() {
        return Err(err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "a directory is in the way",
        )));
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let name = path
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy());
    let probe = dir.join(format!(".{name}.{}.probe", std::process::id()));
    std::fs::write(&probe, b"").map_err(err)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The source checkout this executable was built in: the nearest directory above the running
/// executable that holds this crate's `Cargo.toml` and `src/lib.rs` (cargo puts its builds
/// under `<checkout>/target/<profile>/`), or `None` (a target directory elsewhere, a copied
/// binary).
///
/// Found at run time on purpose: a path compiled in (`env!("CARGO_MANIFEST_DIR")`) makes two
/// builds of the same code in two directories different programs, so the perf gate's base
/// build, made from a copy of the sources under `target/perf-base/`, could never load the same
/// image as the head even after a change to the README alone, and its rodata (and every
/// address after it) moved with the directory name's length.
pub fn source_checkout() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .find(|d| {
            d.join("src").join("lib.rs").is_file()
                && std::fs::read_to_string(d.join("Cargo.toml"))
                    .is_ok_and(|t| t.contains("name = \"vanishing\""))
        })
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test executable lives under `<checkout>/target/`: the checkout it finds is the one
    /// cargo built it from.
    #[test]
    fn the_source_checkout_is_the_one_this_test_was_built_in() {
        let manifest = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).unwrap();
        let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
        if !exe.starts_with(&manifest) {
            eprintln!("skipped: the target directory is outside the checkout");
            return;
        }
        let found = source_checkout().map(|d| std::fs::canonicalize(d).unwrap());
        assert_eq!(found, Some(manifest));
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("vanishing-fsutil-{}", std::process::id()));
        let path = dir.join("sub").join("a.json");
        write_atomic(&path, "one").unwrap();
        write_atomic(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        // A directory in the way: the write fails with an error naming the path.
        let e = write_atomic(&dir, "x").unwrap_err().to_string();
        assert!(e.contains("vanishing-fsutil"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
