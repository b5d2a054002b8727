//! MNIST-format IDX data: locating, decompressing, validating and splitting the four files.
//! Any dataset stored as MNIST is (28x28 byte images, labels 0-9, 60,000 + 10,000 items under
//! the standard four file names, such as Fashion-MNIST) loads the same way.
//!
//! The `mnist` crate does the IDX parsing, but it wants raw (un-gzipped) files, panics on any
//! problem and can silently pair images with the wrong labels when a file is short. So every file
//! is first decompressed (once, into a cache directory) and validated here: gzip integrity, magic
//! number, dimensions, item count, exact length, labels <= 9. Every problem becomes an
//! [`Error::Data`] naming the file, what is wrong and what to do; only validated files reach the
//! crate.
//!
//! Split and scaling follow the book: train = training images 0..50,000, validation =
//! 50,000..60,000, test = t10k; pixel = byte / 256 (the book's pickled copy), so the largest
//! value is 255/256.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Image side length.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;
/// Number of classes.
pub const CLASSES: usize = 10;
/// Images in the training file.
pub const TRAIN_FILE_ITEMS: usize = 60_000;
/// Images in the test file.
pub const TEST_FILE_ITEMS: usize = 10_000;
/// The book's training-set size (the rest of the training file validates).
pub const TRAIN_ITEMS: usize = 50_000;
/// Environment variable naming the MNIST directory.
pub const MNIST_DIR_ENV: &str = "VANISHING_MNIST_DIR";
/// Environment variable naming the directory where decompressed files are cached.
pub const CACHE_DIR_ENV: &str = "VANISHING_CACHE_DIR";

const ADVICE: &str = "Restore the four MNIST files (see data/mnist/README.md for names and SHA-256 sums), or point --data / VANISHING_MNIST_DIR at a directory holding them";

/// The four files, as (standard name, magic number, items).
const FILES: [(&str, u32, usize); 4] = [
    ("train-images-idx3-ubyte", 2051, TRAIN_FILE_ITEMS),
    ("train-labels-idx1-ubyte", 2049, TRAIN_FILE_ITEMS),
    ("t10k-images-idx3-ubyte", 2051, TEST_FILE_ITEMS),
    ("t10k-labels-idx1-ubyte", 2049, TEST_FILE_ITEMS),
];

pub use super::{Dataset, Splits, PIXEL_SCALE};

/// MNIST's three splits (the generic [`Splits`] of 28x28 images in 10 classes).
pub type Mnist = Splits;

/// The MNIST directory to use: `explicit` if given, else `VANISHING_MNIST_DIR`, else `data/mnist`
/// in the current directory, else the `data/mnist` of the checkout this executable was built in
/// ([`crate::fsutil::source_checkout`]; `data/mnist` when there is none, for the error message).
pub fn resolve_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(MNIST_DIR_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("data/mnist");
    if local.is_dir() {
        return local;
    }
    crate::fsutil::source_checkout().map_or(local, |root| root.join("data/mnist"))
}

fn data_err(path: &Path, problem: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        problem: problem.into(),
        advice: ADVICE,
    }
}

/// How far past a valid file's length a gzip stream is decoded (and discarded) to find out
/// whether it is damaged: a bound on the time a gzip bomb can cost, as the valid length bounds
/// its memory.
const GZIP_CHECK_LIMIT: u64 = 256 << 20;

/// What one IDX file must be: its magic number (2051 images, 2049 labels) and item count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdxExpect {
    pub magic: u32,
    pub items: usize,
}

impl IdxExpect {
    fn is_images(self) -> bool {
        self.magic == 2051
    }
    fn header(self) -> usize {
        if self.is_images() {
            16
        } else {
            8
        }
    }
    /// The exact length of a valid file (header and items).
    pub fn file_len(self) -> usize {
        self.header()
            + self
                .items
                .saturating_mul(if self.is_images() { PIXELS } else { 1 })
    }
}

/// Decodes one IDX file's bytes (`gzipped` or raw) as read from `source` (named in errors) and
/// validates them against `expect` (see [`check_dir`] for the checks). Decompression keeps at
/// most one byte past the valid length, so a gzip bomb costs at most that much memory; a longer
/// stream is decoded on (up to 256 MiB more, discarded) so that damage shows as a corrupt
/// stream, else it is reported as trailing bytes.
pub fn decode_idx(
    source: &Path,
    bytes: &[u8],
    gzipped: bool,
    expect: IdxExpect,
) -> Result<Vec<u8>> {
    let out = if gzipped {
        let corrupt = |e: std::io::Error| data_err(source, format!("corrupt gzip data: {e}"));
        let limit = expect.file_len().saturating_add(1);
        let mut out = Vec::with_capacity(limit.min(1 << 26));
        let mut decoder = flate2::read::GzDecoder::new(bytes);
        (&mut decoder)
            .take(limit as u64)
            .read_to_end(&mut out)
            .map_err(corrupt)?;
        if out.len() == limit {
            // Longer than a valid file: decode on without keeping the bytes (up to a bound),
            // so that a damaged stream is reported as corrupt, as its checksum at the end
            // says, rather than as too long.
            std::io::copy(
                &mut (&mut decoder).take(GZIP_CHECK_LIMIT),
                &mut std::io::sink(),
            )
            .map_err(corrupt)?;
        }
        out
    } else {
        bytes.to_vec()
    };
    validate(source, &out, expect.magic, expect.items)?;
    Ok(out)
}

/// Reads `name` (raw) or `name.gz` from `dir` and returns the decoded, validated bytes.
fn read_file(dir: &Path, name: &str, expect: IdxExpect) -> Result<(PathBuf, Vec<u8>)> {
    let raw = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    let (path, gzipped) = if gz.is_file() {
        (gz, true)
    } else if raw.is_file() {
        (raw, false)
    } else {
        return Err(data_err(
            &gz,
            format!(
                "file not found (neither {name}.gz nor {name} is in {})",
                dir.display()
            ),
        ));
    };
    let bytes = std::fs::read(&path).map_err(|e| data_err(&path, format!("cannot read: {e}")))?;
    let decoded = decode_idx(&path, &bytes, gzipped, expect)?;
    Ok((path, decoded))
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checks one decompressed IDX file against what MNIST must be.
fn validate(path: &Path, bytes: &[u8], magic: u32, items: usize) -> Result<()> {
    let is_images = magic == 2051;
    let header = if is_images { 16 } else { 8 };
    if bytes.len() < header {
        return Err(data_err(
            path,
            format!(
                "truncated: {} bytes, shorter than the {header}-byte IDX header",
                bytes.len()
            ),
        ));
    }
    let got_magic = be_u32(bytes, 0);
    if got_magic != magic {
        return Err(data_err(
            path,
            format!(
                "wrong magic number {got_magic:#010x}, expected {magic:#010x} ({})",
                if is_images {
                    "IDX3 images"
                } else {
                    "IDX1 labels"
                }
            ),
        ));
    }
    let count = be_u32(bytes, 4) as usize;
    if count != items {
        return Err(data_err(
            path,
            format!("holds {count} items, expected {items}"),
        ));
    }
    let per_item = if is_images {
        let (rows, cols) = (be_u32(bytes, 8) as usize, be_u32(bytes, 12) as usize);
        if (rows, cols) != (SIDE, SIDE) {
            return Err(data_err(
                path,
                format!("images are {rows}x{cols}, expected {SIDE}x{SIDE}"),
            ));
        }
        PIXELS
    } else {
        1
    };
    let expected = header.saturating_add(items.saturating_mul(per_item));
    if bytes.len() != expected {
        let what = if bytes.len() < expected {
            "truncated"
        } else {
            "has trailing bytes"
        };
        return Err(data_err(
            path,
            format!("{what}: {} bytes, expected exactly {expected}", bytes.len()),
        ));
    }
    if !is_images {
        if let Some((i, &l)) = bytes[header..]
            .iter()
            .enumerate()
            .find(|(_, &l)| l as usize >= CLASSES)
        {
            return Err(data_err(
                path,
                format!("label {l} at item {i} is not a digit 0-9"),
            ));
        }
    }
    Ok(())
}

/// Directory where validated, decompressed copies are cached: `VANISHING_CACHE_DIR` if set, else
/// a per-source directory under the system temp dir, keyed by the source directory and the
/// compressed files' sizes and modification times (so replaced data is never served stale).
fn cache_dir(dir: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os(CACHE_DIR_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .hash(&mut h);
    for (name, _, _) in FILES {
        for candidate in [dir.join(format!("{name}.gz")), dir.join(name)] {
            if let Ok(m) = std::fs::metadata(&candidate) {
                m.len().hash(&mut h);
                m.modified().ok().hash(&mut h);
            }
        }
    }
    std::env::temp_dir().join(format!("vanishing-mnist-{:016x}", h.finish()))
}

/// Makes sure the cache holds the four validated raw files; decompresses only what is missing.
fn prepare_cache(dir: &Path) -> Result<PathBuf> {
    let cache = cache_dir(dir);
    std::fs::create_dir_all(&cache).map_err(|e| Error::Io {
        context: format!("creating the MNIST cache {}", cache.display()),
        source: e,
    })?;
    for (name, magic, items) in FILES {
        let target = cache.join(name);
        let header = if magic == 2051 { 16 } else { 8 };
        let per_item = if magic == 2051 { PIXELS } else { 1 };
        // A cached file was validated before it was renamed into place; its length is a cheap
        // guard against a foreign or damaged file in a user-chosen cache directory.
        if std::fs::metadata(&target).is_ok_and(|m| m.len() as usize == header + items * per_item) {
            let bytes = std::fs::read(&target)
                .map_err(|e| data_err(&target, format!("cannot read cached copy: {e}")))?;
            validate(&target, &bytes, magic, items)?;
            continue;
        }
        let (_, bytes) = read_file(dir, name, IdxExpect { magic, items })?;
        crate::fsutil::write_atomic(&target, &bytes)?;
    }
    Ok(cache)
}

/// Loads MNIST from `dir` (see [`resolve_dir`]) with the book's split and scaling.
pub fn load(dir: &Path) -> Result<Mnist> {
    if !dir.is_dir() {
        return Err(data_err(dir, "the MNIST directory does not exist"));
    }
    let cache = prepare_cache(dir)?;
    let base = cache
        .to_str()
        .ok_or_else(|| data_err(&cache, "the cache path is not valid UTF-8"))?;
    // Every file was validated above, so the crate's own asserts cannot fire.
    let raw = mnist::MnistBuilder::new()
        .label_format_digit()
        .base_path(base)
        .training_set_length(TRAIN_ITEMS as u32)
        .validation_set_length((TRAIN_FILE_ITEMS - TRAIN_ITEMS) as u32)
        .test_set_length(TEST_FILE_ITEMS as u32)
        .finalize();
    Ok(Mnist {
        train: Dataset::from_bytes(&raw.trn_img, raw.trn_lbl, PIXELS, CLASSES),
        validation: Dataset::from_bytes(&raw.val_img, raw.val_lbl, PIXELS, CLASSES),
        test: Dataset::from_bytes(&raw.tst_img, raw.tst_lbl, PIXELS, CLASSES),
    })
}

/// Checks a directory's four files without loading them into the crate (used by tests and by
/// `load`): the same validation, returning the first problem.
pub fn check_dir(dir: &Path) -> Result<()> {
    for (name, magic, items) in FILES {
        read_file(dir, name, IdxExpect { magic, items })?;
    }
    Ok(())
}
