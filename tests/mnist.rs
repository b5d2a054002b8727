//! MNIST loading: the shipped data loads with the book's split, and a corpus of damaged copies
//! generated here gives typed errors (never a panic) naming the file and the problem.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use vanishing::data::mnist::{self, Dataset};
use vanishing::error::Error;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

const NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

fn gunzip(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(shipped().join(format!("{name}.gz"))).unwrap(),
    )
    .read_to_end(&mut out)
    .unwrap();
    out
}

/// A temp directory holding the shipped files, with `name` replaced by `contents` (raw, or
/// gzipped when `gz`).
fn corpus_case(tag: &str, name: &str, contents: &[u8], gz: bool) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vanishing-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for n in NAMES {
        if n != name {
            std::fs::copy(
                shipped().join(format!("{n}.gz")),
                dir.join(format!("{n}.gz")),
            )
            .unwrap();
        }
    }
    if gz {
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(dir.join(format!("{name}.gz"))).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(contents).unwrap();
        enc.finish().unwrap();
    } else {
        std::fs::write(dir.join(name), contents).unwrap();
    }
    dir
}

fn expect_data_error(dir: &Path, file: &str, needle: &str) {
    for result in [
        mnist::check_dir(dir).map(|_| ()),
        mnist::load(dir).map(|_| ()),
    ] {
        match result {
            Err(Error::Data { path, problem, .. }) => {
                assert!(
                    path.to_string_lossy().contains(file),
                    "error names {path:?}, expected {file}"
                );
                assert!(
                    problem.contains(needle),
                    "problem '{problem}' should mention '{needle}'"
                );
            }
            other => panic!("expected a data error for {file} ({needle}), got {other:?}"),
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn shipped_data_loads_with_the_books_split() {
    let m = mnist::load(&shipped()).expect("shipped MNIST loads");
    assert_eq!(
        (m.train.len(), m.validation.len(), m.test.len()),
        (50_000, 10_000, 10_000)
    );
    // The README's facts: first training label 5, first test label 7, test counts per digit.
    assert_eq!(m.train.labels[0], 5);
    assert_eq!(m.test.labels[0], 7);
    let mut counts = [0usize; 10];
    m.test.labels.iter().for_each(|&l| counts[l as usize] += 1);
    assert_eq!(
        counts,
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // byte/256 scaling: values are multiples of 1/256, the largest 255/256.
    let mut values = vec![0.0f32; m.train.len() * 784];
    m.train.images_into(0..m.train.len(), &mut values);
    let max = values.iter().cloned().fold(0.0f32, f32::max);
    assert_eq!(max, 255.0 / 256.0);
    assert!(values.iter().all(|&v| (v * 256.0).fract() == 0.0));
    // Validation is training images 50,000.. in file order.
    let raw = gunzip("train-images-idx3-ubyte");
    let first_val = &raw[16 + 50_000 * 784..16 + 50_001 * 784];
    assert!(m
        .validation
        .image(0)
        .iter()
        .zip(first_val)
        .all(|(&v, &b)| v == b as f32 / 256.0));
    let head: Dataset = m.train.head(3);
    assert_eq!(head.len(), 3);
}

#[test]
fn missing_directory_and_file() {
    match mnist::load(Path::new("/nonexistent/vanishing-mnist")) {
        Err(Error::Data { problem, .. }) => assert!(problem.contains("does not exist")),
        other => panic!("{other:?}"),
    }
    let dir = std::env::temp_dir().join(format!("vanishing-test-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    expect_data_error(&dir, "train-images-idx3-ubyte", "not found");
}

#[test]
fn wrong_magic() {
    let mut labels = gunzip("t10k-labels-idx1-ubyte");
    labels[3] = 0x03; // 2049 -> 2051, the images' magic
    expect_data_error(
        &corpus_case("magic", "t10k-labels-idx1-ubyte", &labels, true),
        "t10k-labels",
        "magic",
    );
}

#[test]
fn truncated_file() {
    let labels = gunzip("t10k-labels-idx1-ubyte");
    let short = &labels[..labels.len() - 100];
    expect_data_error(
        &corpus_case("trunc", "t10k-labels-idx1-ubyte", short, false),
        "t10k-labels",
        "truncated",
    );
    expect_data_error(
        &corpus_case("header", "t10k-labels-idx1-ubyte", &labels[..5], true),
        "t10k-labels",
        "header",
    );
}

#[test]
fn wrong_item_count() {
    // A consistent but short file: header says 9,999 and the body matches. The mnist crate would
    // silently misalign; we refuse it.
    let mut labels = gunzip("t10k-labels-idx1-ubyte");
    labels[4..8].copy_from_slice(&9_999u32.to_be_bytes());
    labels.pop();
    expect_data_error(
        &corpus_case("count", "t10k-labels-idx1-ubyte", &labels, true),
        "t10k-labels",
        "9999 items",
    );
}

#[test]
fn corrupt_gzip() {
    let dir = corpus_case("gzip", "t10k-labels-idx1-ubyte", b"", false);
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let mut bytes = std::fs::read(shipped().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 16].fill(0xAB);
    std::fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), bytes).unwrap();
    expect_data_error(&dir, "t10k-labels", "corrupt gzip");
}

#[test]
fn label_out_of_range() {
    let mut labels = gunzip("t10k-labels-idx1-ubyte");
    labels[8 + 123] = 11;
    expect_data_error(
        &corpus_case("label", "t10k-labels-idx1-ubyte", &labels, true),
        "t10k-labels",
        "label 11 at item 123",
    );
}

#[test]
fn wrong_image_dimensions() {
    let mut images = gunzip("t10k-images-idx3-ubyte");
    images[8..12].copy_from_slice(&27u32.to_be_bytes());
    expect_data_error(
        &corpus_case("dims", "t10k-images-idx3-ubyte", &images, true),
        "t10k-images",
        "27x28",
    );
}

#[test]
fn byte_pixels_gather_to_the_same_floats() {
    use vanishing::nn::batched::{Engine, Workspace};
    use vanishing::nn::{Activation, Init, Network};
    let m = mnist::load(&shipped()).unwrap();
    let d = m.train.head(500);
    let mut images = vec![0.0f32; d.len() * 784];
    d.images_into(0..d.len(), &mut images);
    assert!(d
        .pixels
        .iter()
        .zip(&images)
        .all(|(&b, &f)| (b as f32 / 256.0).to_bits() == f.to_bits()));
    let net = Network::new(&[784, 5, 10], Activation::Sigmoid, Init::Default, 1).unwrap();
    let e = Engine::new();
    let idx = [499usize, 3, 250, 7, 0, 41];
    let mut a = Workspace::new(&net, idx.len());
    let mut b = Workspace::new(&net, idx.len());
    assert_eq!(e.gather(&mut a, &images, 784, idx), idx.len());
    assert_eq!(e.gather_pixels(&mut b, &d.pixels, 784, idx), idx.len());
    assert!(a
        .x
        .iter()
        .zip(&b.x)
        .all(|(x, y)| x.to_bits() == y.to_bits()));
}
