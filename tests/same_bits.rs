//! The reproducibility guarantee end to end: `vanishing reproduce --quick` gives the same JSON
//! results and figures, bit for bit, on every kernel family this CPU has, with every GEMM kernel
//! (register tile), under forced cache blockings (so under any blocking a tuned profile may
//! pick), and on 1 and 2 threads. Timings
//! and machine metadata are the only things allowed to differ.
//!
//! The scalar family runs the parts of the reproduction that train in every way the trainer
//! trains (small-batch and general steps, momentum, tanh/ReLU/softsign, per-layer gradient
//! records: [`SCALAR_PARTS`]) and leaves out the two long accuracy runs, `accuracy` and
//! `better98`: on x86-64 its multiply-adds are C library calls, and those two parts took 185 of
//! the 191 s its whole quick reproduction took on 2 threads of a Zen 3, most of this test. Every scalar kernel is held to the same
//! bits as the SIMD ones directly, shape by shape, in tests/gemm.rs, activation.rs and train.rs.
//!
//! Each configuration is a separate process, because the kernel family and the blocking are
//! chosen once per process from `VANISHING_ISA` and `VANISHING_BLOCKING`, exactly as a user
//! would force them.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vanishing::experiments::compare;
use vanishing::isa::Isa;
use vanishing::kernels::GemmKernel;

/// One way of running the reproduction.
#[derive(Clone, Debug)]
struct Config {
    isa: Isa,
    /// A GEMM kernel forced by name (`VANISHING_KERNEL`), or the family's default.
    kernel: Option<&'static str>,
    /// `mc,kc,nc`, or `None` for the blocking derived from this machine's caches.
    blocking: Option<&'static str>,
    threads: usize,
    /// `reproduce --only` parts, or `None` for the whole quick reproduction.
    only: Option<&'static str>,
}

impl Config {
    fn label(&self) -> String {
        format!(
            "isa={} kernel={} blocking={} threads={}",
            self.isa.name(),
            self.kernel.unwrap_or("default"),
            self.blocking.unwrap_or("detected"),
            self.threads
        )
    }
}

/// Blockings that put the kc, mc and nc boundaries in very different places: kc = 7 splits every
/// depth of the trainer's GEMMs (784, 30, 10, 1000) into many ragged blocks; mc and nc off the
/// tile grid; and one blocking so large that nothing is split.
const BLOCKINGS: [&str; 3] = ["12,7,48", "30,100,250", "6000,4096,8192"];

/// The parts the scalar family reproduces (module documentation).
const SCALAR_PARTS: &str = "initial-speeds,curves,arithmetic,beyond";

/// Runs the quick reproduction under `cfg` into a fresh directory and returns its comparable
/// results ([`compare::comparable_results`]: JSON without timings, figures, no `meta.json`).
fn reproduce(cfg: &Config, scratch: &Path) -> BTreeMap<String, String> {
    let out = scratch.join(cfg.label().replace([' ', '=', ','], "_"));
    let mut command = common::vanishing_command();
    command
        .args(["reproduce", "--quick", "--threads"])
        .arg(cfg.threads.to_string());
    if let Some(parts) = cfg.only {
        command.args(["--only", parts]);
    }
    let status = command
        .arg("--out")
        .arg(&out)
        .env("VANISHING_ISA", cfg.isa.name())
        .env("VANISHING_BLOCKING", cfg.blocking.unwrap_or(""))
        .env("VANISHING_KERNEL", cfg.kernel.unwrap_or(""))
        .env_remove("RAYON_NUM_THREADS")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run vanishing reproduce");
    assert!(status.success(), "{}: reproduce failed", cfg.label());
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("chapter5/meta.json")).expect("meta.json"),
    )
    .expect("meta.json parses");
    let machine = &meta["machine"];
    // The run really used what was asked for.
    assert_eq!(machine["isa"], cfg.isa.name(), "{}", cfg.label());
    assert_eq!(machine["threads"], cfg.threads, "{}", cfg.label());
    if let Some(b) = cfg.blocking {
        assert_eq!(machine["gemm_blocking"], b, "{}", cfg.label());
    }
    if let Some(k) = cfg.kernel {
        assert_eq!(machine["gemm_kernel"], k, "{}", cfg.label());
    }
    let files = compare::comparable_results(&out).expect("results written");
    // Every part writes at least one JSON result; the whole reproduction at least five.
    let parts = cfg.only.map_or(5, |p| p.split(',').count());
    assert!(
        files.keys().filter(|n| n.ends_with(".json")).count() >= parts,
        "{}: too few result files: {:?}",
        cfg.label(),
        files.keys()
    );
    files
}

fn scratch_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("vanishing-same-bits-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn quick_reproduction_is_bit_identical_across_families_blockings_and_threads() {
    let best = Isa::best();
    let mut configs = vec![
        Config {
            isa: best,
            kernel: None,
            blocking: None,
            threads: 2,
            only: None,
        },
        Config {
            isa: best,
            kernel: None,
            blocking: None,
            threads: 1,
            only: None,
        },
    ];
    // Every other family with the detected blocking (the scalar one on SCALAR_PARTS only).
    let families = common::families();
    for isa in families.iter().copied().rev().filter(|&i| i != best) {
        configs.push(Config {
            isa,
            kernel: None,
            blocking: None,
            threads: 2,
            only: (isa == Isa::Scalar).then_some(SCALAR_PARTS),
        });
    }
    // Every other kernel of every family (each family's default ran above), as a profile or
    // VANISHING_KERNEL may pick it.
    for k in GemmKernel::available() {
        if GemmKernel::for_isa(k.isa).name != k.name {
            configs.push(Config {
                isa: k.isa,
                kernel: Some(k.name),
                blocking: None,
                threads: 2,
                only: (k.isa == Isa::Scalar).then_some(SCALAR_PARTS),
            });
        }
    }
    // Every SIMD family under every forced blocking (the scalar kernel is held to the same bits
    // under tiny blockings by tests/gemm.rs).
    for isa in families.iter().copied().filter(|&i| i != Isa::Scalar) {
        for (i, b) in BLOCKINGS.iter().enumerate() {
            configs.push(Config {
                isa,
                kernel: None,
                blocking: Some(b),
                threads: 1 + i % 2,
                only: None,
            });
        }
    }
    if families == [Isa::Scalar] {
        println!("skipped: forced blockings of SIMD families (this CPU has none)");
    }
    let scratch = scratch_dir();
    let reference = reproduce(&configs[0], &scratch);
    for cfg in &configs[1..] {
        let got = reproduce(cfg, &scratch);
        // A run of some parts is held to the reference's files of those parts (a file the
        // reference lacks still shows as a difference).
        let expected: BTreeMap<String, String> = match cfg.only {
            None => reference.clone(),
            Some(_) => reference
                .iter()
                .filter(|(name, _)| got.contains_key(*name))
                .map(|(n, t)| (n.clone(), t.clone()))
                .collect(),
        };
        let diffs = compare::differences(&expected, &got);
        assert!(
            diffs.is_empty(),
            "{} differs from {}: {diffs:#?}",
            cfg.label(),
            configs[0].label()
        );
        println!("{}: identical to {}", cfg.label(), configs[0].label());
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn malformed_overrides_are_refused_with_a_clear_error() {
    for (var, value, expect) in [
        ("VANISHING_BLOCKING", "12,8", "expected three"),
        ("VANISHING_BLOCKING", "12,0,64", "not a positive integer"),
        ("VANISHING_ISA", "avx9", "unknown"),
        ("VANISHING_KERNEL", "sgemm.avx512.99x32", "not a kernel"),
    ] {
        let out = common::vanishing_command()
            .arg("info")
            .env(var, value)
            .output()
            .expect("run vanishing info");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {err}");
        assert!(
            err.contains(var) && err.contains(expect),
            "{var}={value}: {err}"
        );
    }
}
