//! The performance-regression gate: ratios measured interleaved in one process (so the machine's
//! speed cancels), instruction counts under callgrind (so the machine's load does not matter),
//! and the committed baseline both are compared against.

pub mod ab;
pub mod ab_gate;
pub mod gate;
pub mod image;
pub mod instructions;
pub mod workloads;

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The committed thresholds (`results/perf-baseline.json`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Baseline {
    /// Per ratio check: the minimum acceptable ratio (ours faster than the reference = above 1).
    pub ratios: BTreeMap<String, RatioBaseline>,
    /// Per workload: instructions per iteration measured by callgrind, and the tolerance.
    pub instructions: BTreeMap<String, InstructionBaseline>,
    /// Where and how the baseline was measured.
    pub measured_on: String,
    pub kernels: String,
}

/// Threshold of one ratio check.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RatioBaseline {
    /// The ratio measured when the baseline was written.
    pub measured: f64,
    /// The check fails below this (measured times 1 - margin).
    pub threshold: f64,
}

/// Expected instruction count of one workload.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InstructionBaseline {
    pub per_iteration: f64,
    /// Allowed relative deviation either way (more instructions = slower; far fewer usually means
    /// work was skipped).
    pub tolerance: f64,
}

impl Baseline {
    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            context: format!("reading the performance baseline {} (create it with `vanishing perf-gate --update`)", path.display()),
            source: e,
        })?;
        serde_json::from_str(&text).map_err(|e| Error::Invalid {
            what: "performance baseline",
            problem: format!("{}: {e}", path.display()),
        })
    }

    /// Writes it atomically (temp file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Invalid {
            what: "performance baseline",
            problem: e.to_string(),
        })?;
        crate::fsutil::write_atomic(path, text + "\n")
    }
}

/// How the gate runs.
pub struct GateOptions {
    pub baseline: std::path::PathBuf,
    /// Rewrite the baseline from this measurement instead of checking.
    pub update: bool,
    /// Fraction below the measured ratio where `--update` puts the threshold.
    pub margin: f64,
    /// Skip the callgrind instruction counts.
    pub skip_instructions: bool,
    /// Tolerance written for instruction counts by `--update`.
    pub instruction_tolerance: f64,
}

/// One row of the gate's table.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    pub check: String,
    pub measured: String,
    pub threshold: String,
    pub verdict: &'static str,
}

/// Rounds of the first measurement and of the confirmation re-measure.
const ROUNDS: usize = 9;
const CONFIRM_ROUNDS: usize = 15;
const SAMPLE: std::time::Duration = std::time::Duration::from_millis(15);

/// The family the instruction counts are taken with: the caller's `VANISHING_ISA` if set (so a
/// forced slow path shows up), else AVX2 (valgrind does not run AVX-512 code), else scalar.
fn instruction_isa() -> String {
    match std::env::var(crate::isa::ISA_ENV) {
        Ok(v) if !v.trim().is_empty() => v,
        _ if crate::isa::Isa::Avx2.is_available() => "avx2".into(),
        _ => "scalar".into(),
    }
}

/// Runs the gate: returns the table and whether every check passed. With `update`, writes the
/// baseline instead (every row passes).
pub fn gate(opts: &GateOptions, exe: &Path, log: &mut dyn FnMut(&str)) -> Result<(Vec<Row>, bool)> {
    let old = if opts.update {
        Baseline::load(&opts.baseline).ok()
    } else {
        Some(Baseline::load(&opts.baseline)?)
    };
    let mut new = Baseline {
        measured_on: format!(
            "{} ({} logical CPUs)",
            crate::cpu::cpu_name(),
            crate::cpu::logical_cpus()
        ),
        kernels: format!(
            "{} / {}",
            crate::gemm::Gemm::new().kernel_name(),
            crate::activation::ActivationKernels::new().sigmoid_name()
        ),
        ..Baseline::default()
    };
    let mut rows = Vec::new();
    let mut all_pass = true;
    for mut check in gate::checks() {
        let mut m = gate::measure(&mut check, ROUNDS, SAMPLE);
        let threshold = old
            .as_ref()
            .and_then(|b| b.ratios.get(check.name))
            .map(|r| r.threshold);
        let mut verdict = "pass";
        if !opts.update {
            match threshold {
                None => {
                    verdict = "no baseline";
                    all_pass = false;
                }
                Some(t) if m.ratio < t => {
                    log(&format!(
                        "{}: ratio {:.3} below {:.3}; re-measuring to confirm",
                        check.name, m.ratio, t
                    ));
                    m = gate::measure(&mut check, CONFIRM_ROUNDS, SAMPLE * 2);
                    if m.ratio < t {
                        verdict = "FAIL";
                        all_pass = false;
                    } else {
                        verdict = "pass (confirmed)";
                    }
                }
                Some(_) => {}
            }
        } else {
            verdict = "updated";
        }
        new.ratios.insert(
            check.name.to_string(),
            RatioBaseline {
                measured: m.ratio,
                threshold: m.ratio * (1.0 - opts.margin),
            },
        );
        rows.push(Row {
            check: format!("{} ({})", check.name, check.what),
            measured: format!("{:.3} (range {:.3}..{:.3})", m.ratio, m.min, m.max),
            threshold: if opts.update {
                format!("{:.3}", m.ratio * (1.0 - opts.margin))
            } else {
                threshold.map_or("-".into(), |t| format!("{t:.3}"))
            },
            verdict,
        });
    }
    if opts.skip_instructions {
        log("instruction counts: skipped (--no-instructions)");
    } else if !instructions::valgrind_available() {
        log("instruction counts: skipped, valgrind is not installed (apt-get install valgrind to enable)");
    } else {
        let isa = instruction_isa();
        log(&format!("instruction counts: callgrind, {isa} kernels ..."));
        for (name, per_iter) in instructions::measure_all(exe, &isa)? {
            let base = old
                .as_ref()
                .and_then(|b| b.instructions.get(&name))
                .cloned();
            let (verdict, threshold) = match (&base, opts.update) {
                (_, true) => (
                    "updated",
                    format!("+-{:.0} %", 100.0 * opts.instruction_tolerance),
                ),
                (None, false) => {
                    all_pass = false;
                    ("no baseline", "-".into())
                }
                (Some(b), false) => {
                    let dev = per_iter / b.per_iteration - 1.0;
                    let text = format!(
                        "{:.0} +-{:.0} % (now {:+.1} %)",
                        b.per_iteration,
                        100.0 * b.tolerance,
                        100.0 * dev
                    );
                    if dev.abs() > b.tolerance {
                        all_pass = false;
                        ("FAIL", text)
                    } else {
                        ("pass", text)
                    }
                }
            };
            new.instructions.insert(
                name.clone(),
                InstructionBaseline {
                    per_iteration: per_iter,
                    tolerance: opts.instruction_tolerance,
                },
            );
            rows.push(Row {
                check: format!("instructions/{name} ({isa})"),
                measured: format!("{per_iter:.0} per iteration"),
                threshold,
                verdict,
            });
        }
    }
    if opts.update {
        if opts.skip_instructions || !instructions::valgrind_available() {
            // Keep the committed instruction counts when this run could not measure them.
            if let Some(o) = &old {
                new.instructions = o.instructions.clone();
            }
        }
        new.save(&opts.baseline)?;
    }
    Ok((rows, all_pass))
}
