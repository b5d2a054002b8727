//! One entry point per parser of outside bytes, for the fuzz targets (`fuzz/`, run with
//! cargo-fuzz on a nightly toolchain) and for the corpus replay (`tests/fuzz_corpus.rs`, on
//! stable, in every `cargo test`).
//!
//! Each function feeds arbitrary bytes to one parser and checks its properties, panicking only
//! when one fails (a panic is what the fuzzer reports):
//! - the parser returns instead of panicking;
//! - an error says what was read: its message names the input (`FUZZ_ORIGIN`) or the setting;
//! - what it accepts is usable: sizes within the limits the parser promises, names that exist,
//!   numbers that are finite.
//!
//! Allocation is bounded by the parsers themselves (an IDX decode stops one byte past the valid
//! length; shard settings are capped by [`crate::experiments::plan::Settings::validate`]); the
//! fuzz runs add libFuzzer's `-malloc_limit_mb` so that any larger allocation is a failure.

use crate::error::Error;
use std::path::Path;

/// The name inputs are given in error messages (so the check that an error names its input has
/// something to look for).
pub const FUZZ_ORIGIN: &str = "fuzz-input";

/// One fuzz target: its name (of the fuzz target and its corpus directory) and entry point.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: [Target; 8] = [
    ("idx", idx),
    ("shard", shard),
    ("profile", profile),
    ("record", record),
    ("worker", worker),
    ("env", env),
    ("elf", elf),
    ("cachegrind", cachegrind),
];

/// Panics unless `e`'s message is non-empty and mentions `what`.
fn names(e: &Error, what: &str) {
    let msg = e.to_string();
    assert!(
        msg.contains(what),
        "error message does not name '{what}': {msg}"
    );
}

/// IDX files: byte 0 chooses gzipped (bit 0) and images or labels (bit 1), byte 1 the expected
/// item count (0-255); the rest is the file.
pub fn idx(data: &[u8]) {
    use crate::data::mnist::{decode_idx, IdxExpect, CLASSES};
    let [flags, items, file @ ..] = data else {
        return;
    };
    let images = flags & 2 != 0;
    let expect = IdxExpect {
        magic: if images { 2051 } else { 2049 },
        items: usize::from(*items),
    };
    match decode_idx(Path::new(FUZZ_ORIGIN), file, flags & 1 != 0, expect) {
        Ok(bytes) => {
            assert_eq!(
                bytes.len(),
                expect.file_len(),
                "accepted a file of the wrong length"
            );
            if !images {
                assert!(bytes[8..].iter().all(|&l| usize::from(l) < CLASSES));
            }
        }
        Err(e) => names(&e, FUZZ_ORIGIN),
    }
}

/// Shard files (`reproduce --shard`'s JSON): an accepted file's plan lists its items.
pub fn shard(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::experiments::run::parse_shard_file(text, Path::new(FUZZ_ORIGIN)) {
        Ok(f) => {
            assert!(f.index < f.count);
            let items = f.plan.items().expect("a validated plan lists its items");
            // Every count is capped, so the plan stays a size a merge can hold.
            assert!(items.len() <= 10_000_000, "{} items", items.len());
        }
        Err(e) => names(&e, FUZZ_ORIGIN),
    }
}

/// GEMM profiles (`vanishing tune`'s JSON), read for every kernel family.
pub fn profile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for isa in crate::isa::Isa::ALL {
        match crate::gemm::profile::Profile::parse(text, isa, Path::new(FUZZ_ORIGIN)) {
            Ok(p) => {
                let kernel = p.kernel().expect("an accepted profile names a kernel");
                assert_eq!(kernel.isa, isa);
                let b = p.blocking;
                assert!(b.mc > 0 && b.kc > 0 && b.nc > 0);
            }
            Err(e) => names(&e, FUZZ_ORIGIN),
        }
    }
}

/// Result records (`results/machines/*/record-*.json`): an accepted record writes back to JSON
/// that parses to the same record.
pub fn record(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::records::parse(text, Path::new(FUZZ_ORIGIN)) {
        Ok(r) => {
            let again = serde_json::to_string(&r).expect("a record serialises");
            let back = crate::records::parse(&again, Path::new(FUZZ_ORIGIN))
                .expect("a written record reads back");
            assert_eq!(
                serde_json::to_value(&back).ok(),
                serde_json::to_value(&r).ok()
            );
        }
        Err(e) => names(&e, FUZZ_ORIGIN),
    }
}

/// The perf worker's protocol, both directions: every line as a request and as an answer.
pub fn worker(data: &[u8]) {
    use crate::perf::ab::{parse_request, parse_time_answer, Request, MAX_WORKER_ITERS};
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        match parse_request(line) {
            Ok(Request::Time { iters, workload }) => {
                assert!((1..=MAX_WORKER_ITERS).contains(&iters));
                assert!(crate::perf::workloads::workload(workload.name).is_some());
            }
            Ok(Request::List) => {}
            Err(e) => names(&e, "perf-worker request"),
        }
        match parse_time_answer(line, "w") {
            Ok(ns) => assert!(ns.is_finite() && ns >= 0.0),
            Err(e) => names(&e, "perf-worker"),
        }
    }
}

/// The environment overrides: the value as `VANISHING_ISA`, `VANISHING_KERNEL`,
/// `VANISHING_BLOCKING`, `VANISHING_CANARY` and a `--only` part list.
pub fn env(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let value = text.as_ref();
    if let Err(e) = crate::isa::Isa::from_name(value) {
        assert!(!e.to_string().is_empty());
    }
    match crate::kernels::GemmKernel::by_name(value) {
        // Names match case-insensitively (found by this target: `sgemM.avx512.12x32`).
        Ok(k) => assert!(k.name.eq_ignore_ascii_case(value.trim())),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match crate::gemm::Blocking::parse(value) {
        Ok(b) => assert!(b.mc > 0 && b.kc > 0 && b.nc > 0),
        Err(e) => names(&e, crate::gemm::blocking::BLOCKING_ENV),
    }
    if let Some((_, share)) = crate::perf::ab::parse_canary(value) {
        assert!(share > 0.0 && share <= 10.0);
    }
    match crate::experiments::parse_parts(value) {
        Ok(parts) => {
            for p in &parts {
                assert!(crate::experiments::part(p).is_ok());
            }
        }
        Err(e) => names(&e, "is not one of"),
    }
}

/// ELF executables, as the perf gate digests a build's loaded image (any bytes: `None` for
/// what is not a 64-bit little-endian ELF file, never a panic).
pub fn elf(data: &[u8]) {
    let _ = crate::perf::image::loaded_image_digest(data);
}

/// Cachegrind's output files, as the perf gate reads them.
pub fn cachegrind(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::perf::instructions::parse_cachegrind(&text);
}
