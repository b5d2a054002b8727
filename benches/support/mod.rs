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

/// Criterion's median of benchmark `id` with its confidence interval, in seconds, and the
/// number of samples behind it: `(low, median, high, samples)`.
pub fn estimate(id: &str) -> Option<(f64, f64, f64, usize)> {
    let dir = criterion_dir().join(id).join("new");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("estimates.json")).ok()?).ok()?;
    let m = &v["median"];
    let ns = |x: &serde_json::Value| x.as_f64().map(|ns| ns * 1e-9);
    let samples = std::fs::read_to_string(dir.join("sample.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|s| s["iters"].as_array().map(Vec::len))
        .unwrap_or(0);
    Some((
        ns(&m["confidence_interval"]["lower_bound"])?,
        ns(&m["point_estimate"])?,
        ns(&m["confidence_interval"]["upper_bound"])?,
        samples,
    ))
}

/// A throughput figure (`work / seconds / scale` in `unit`) from benchmark `id`, its spread
/// the interval of Criterion's median, with ratios to the `peers` (benchmark ids) and the share
/// of `peak` (GFLOP/s figures only).
pub fn rate_figure(
    name: &str,
    id: &str,
    (work, scale, unit): (f64, f64, &str),
    peers: &[(&str, String)],
    peak: Option<f64>,
) -> Option<vanishing::records::Figure> {
    let (lo, med, hi, samples) = estimate(id)?;
    let rate = |s: f64| work / s / scale;
    Some(vanishing::records::Figure {
        name: name.into(),
        value: rate(med),
        unit: unit.into(),
        direction: vanishing::records::Direction::Higher,
        spread: vanishing::records::Spread {
            min: rate(hi),
            median: rate(med),
            max: rate(lo),
        },
        samples,
        share_of_peak: peak.filter(|_| unit == "GFLOP/s").map(|p| rate(med) / p),
        peers: peers
            .iter()
            .filter_map(|(peer, pid)| Some((peer.to_string(), estimate(pid)?.1 / med)))
            .collect(),
    })
}

/// A time figure (`seconds x scale` in `unit`, lower is better) from benchmark `id`.
pub fn time_figure(
    name: &str,
    id: &str,
    scale: f64,
    unit: &str,
    share_of_peak: impl Fn(f64) -> Option<f64>,
) -> Option<vanishing::records::Figure> {
    let (lo, med, hi, samples) = estimate(id)?;
    Some(vanishing::records::Figure {
        name: name.into(),
        value: med * scale,
        unit: unit.into(),
        direction: vanishing::records::Direction::Lower,
        spread: vanishing::records::Spread {
            min: lo * scale,
            median: med * scale,
            max: hi * scale,
        },
        samples,
        share_of_peak: share_of_peak(med),
        peers: Default::default(),
    })
}

/// Writes the bench's figures as a new result record in `results/machines/<cpu-slug>/`, through
/// the same writer `vanishing bench` uses. The spreads are Criterion's confidence intervals of
/// the median (not min and max), which the notes say.
pub fn write_record(source: &str, figures: Vec<vanishing::records::Figure>, notes: &str) {
    let record = vanishing::records::Record {
        schema_version: vanishing::records::SCHEMA_VERSION,
        source: source.into(),
        date: vanishing::perf::ab_gate::utc_now(),
        machine: vanishing::records::RecordMachine::current(),
        build: vanishing::records::RecordBuild::current(),
        figures,
        legacy: false,
        notes: format!(
            "Criterion medians of one run; spread = the median's 95 % interval; {notes}"
        ),
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/machines");
    match vanishing::records::write_new(&root, &record) {
        Ok(p) => eprintln!(
            "wrote {} (run `vanishing machines` to update the table)",
            p.display()
        ),
        Err(e) => eprintln!("error: {e}"),
    }
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
        vanishing::cpu::online_cpus(),
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
