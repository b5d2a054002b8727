//! Bench helpers: reading Criterion's saved estimates back to write a summary into results/.
#![allow(dead_code)]

pub mod phases;

use std::path::{Path, PathBuf};

/// Median time in seconds of a Criterion benchmark id (`group/function/parameter`), read from
/// `target/criterion/<id>/new/estimates.json`.
pub fn median_seconds(id: &str) -> Option<f64> {
    let dir = criterion_dir().join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(dir).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64().map(|ns| ns * 1e-9)
}

fn criterion_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    Path::new(&target).join("criterion")
}

/// The folder the summaries go to: `results/machines/<cpu-slug>/`.
fn results_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results/machines")
        .join(vanishing::cpu::machine_slug())
}

/// Checks, before a full run measures anything, that summary `name` can be written later;
/// exits with the reason otherwise (minutes of measurement would be lost).
pub fn check_result(name: &str) {
    if !full_run() {
        return;
    }
    if let Err(e) = vanishing::fsutil::check_writable(&results_dir().join(name)) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

/// Writes `text` to `results/machines/<cpu-slug>/<name>` atomically (temp file, then rename):
/// each machine keeps its own figures instead of overwriting another's.
pub fn write_result(name: &str, text: &str) {
    let slug = vanishing::cpu::machine_slug();
    match vanishing::fsutil::write_atomic(&results_dir().join(name), text) {
        Ok(()) => eprintln!("wrote results/machines/{slug}/{name}"),
        Err(e) => eprintln!("error: {e}"),
    }
}

/// A short machine description for result headers.
pub fn machine() -> String {
    let c = vanishing::cpu::CacheSizes::get();
    format!(
        "{} ({} logical CPUs, L1d {} KiB, L2 {} KiB, L3 {} MiB), kernels for {}",
        vanishing::cpu::cpu_name(),
        vanishing::cpu::logical_cpus(),
        c.l1d / 1024,
        c.l2 / 1024,
        c.l3 / (1024 * 1024),
        vanishing::isa::Isa::selected().name()
    )
}

/// Whether this is a complete benchmark run, so that a summary may be written: no filter (a free
/// argument) and no mode that measures nothing (`--list`, `--test`, `--profile-time`), which
/// would otherwise write a summary of stale or missing numbers.
pub fn full_run() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let measures_nothing = ["--list", "--test", "--profile-time"];
    !args
        .iter()
        .any(|a| !a.starts_with('-') || measures_nothing.contains(&a.as_str()))
}
