//! The performance-regression gate: ratios measured interleaved in one process (so the machine's
//! speed cancels), instruction counts under callgrind (so the machine's load does not matter),
//! and the committed baseline both are compared against.

pub mod ab;
pub mod ab_gate;
pub mod gate;
pub mod image;
pub mod instructions;
pub mod placed;
pub mod workloads;

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The committed thresholds (`results/perf-baseline.json`).
///
/// Ratio floors are kept per machine: the same build measures different ratios on different
/// CPUs (a fresh-clone CI run on a Xeon whose GEMM ratios matched the model-167 row to three
/// digits measured the sigmoid ratio 37 % below that row). A machine checks against its own
/// row; a machine without one against the loosest recorded floor, a further
/// [`UNRECORDED_MARGIN`] lower. Instruction counts are one set for every machine: they come
/// from callgrind with forced blocking, so the CPU does not change them.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Baseline {
    /// Per machine ([`crate::cpu::machine_slug`]): the ratio floors measured there.
    pub machines: BTreeMap<String, MachineFloors>,
    /// Per workload: instructions per iteration measured by callgrind, and the tolerance.
    pub instructions: BTreeMap<String, InstructionBaseline>,
}

/// The ratio floors of one machine.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MachineFloors {
    /// The CPU's name and logical CPU count when the row was written.
    pub measured_on: String,
    /// The kernels in use then (GEMM / sigmoid).
    pub kernels: String,
    /// Per ratio check: the minimum acceptable ratio (ours faster than the reference = above 1).
    pub ratios: BTreeMap<String, RatioBaseline>,
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

/// How far below the loosest recorded floor a machine without its own row is held. The
/// largest spread seen between machines for one check is the 37 % above; this keeps a machine
/// that is 40 % slower relative to the reference than any recorded one passing, while a fall
/// to the scalar path (ratios 50-1000x lower, `.ci/run` checks it fails) still fails.
pub const UNRECORDED_MARGIN: f64 = 0.4;

/// Where a run's floors come from.
#[derive(Clone, Debug, PartialEq)]
pub enum FloorSource {
    /// This machine has its own row.
    OwnRow(String),
    /// No row for this machine: the loosest floor of the recorded machines, lowered by
    /// [`UNRECORDED_MARGIN`].
    Loosest {
        machine: String,
        recorded: Vec<String>,
    },
}

impl std::fmt::Display for FloorSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FloorSource::OwnRow(m) => write!(f, "this machine's own row ({m})"),
            FloorSource::Loosest { machine, recorded } => write!(
                f,
                "no row for {machine}: the loosest floor of {} lowered {:.0} % \
                 (add a row with `vanishing perf-gate --update`)",
                if recorded.is_empty() {
                    "no machine".to_string()
                } else {
                    recorded.join(", ")
                },
                100.0 * UNRECORDED_MARGIN
            ),
        }
    }
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

    /// Where `machine`'s floors come from.
    pub fn floor_source(&self, machine: &str) -> FloorSource {
        if self.machines.contains_key(machine) {
            FloorSource::OwnRow(machine.to_string())
        } else {
            FloorSource::Loosest {
                machine: machine.to_string(),
                recorded: self.machines.keys().cloned().collect(),
            }
        }
    }

    /// The floor of `check` on `machine`: its own row's threshold, else (no row for the
    /// machine, or a row recorded before the check existed) the lowest threshold any recorded
    /// machine has for the check, lowered by [`UNRECORDED_MARGIN`]. `None` when no row has the
    /// check.
    pub fn floor(&self, machine: &str, check: &str) -> Option<f64> {
        self.machines
            .get(machine)
            .and_then(|row| row.ratios.get(check))
            .map(|r| r.threshold)
            .or_else(|| {
                self.machines
                    .values()
                    .filter_map(|row| row.ratios.get(check))
                    .map(|r| r.threshold)
                    .min_by(f64::total_cmp)
                    .map(|t| t * (1.0 - UNRECORDED_MARGIN))
            })
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
    let machine = crate::cpu::machine_slug();
    let mut new = old.clone().unwrap_or_default();
    let mut row = MachineFloors {
        measured_on: format!(
            "{} ({} logical CPUs)",
            crate::cpu::cpu_name(),
            crate::cpu::online_cpus()
        ),
        kernels: format!(
            "{} / {}",
            crate::gemm::Gemm::new().kernel_name(),
            crate::activation::ActivationKernels::new().sigmoid_name()
        ),
        ..MachineFloors::default()
    };
    if let Some(b) = &old {
        if opts.update {
            log(&format!(
                "writing the floors of {machine}; the other rows are kept"
            ));
        } else {
            log(&format!("floors: {}", b.floor_source(&machine)));
        }
    }
    let mut rows = Vec::new();
    let mut all_pass = true;
    for mut check in gate::checks() {
        let mut m = gate::measure(&mut check, ROUNDS, SAMPLE);
        let threshold = old.as_ref().and_then(|b| b.floor(&machine, check.name));
        // The header named this machine's own row; say when one check is not in it.
        let own_row = old.as_ref().and_then(|b| b.machines.get(&machine));
        let newer = own_row.is_some_and(|r| !r.ratios.contains_key(check.name));
        if !opts.update && newer && threshold.is_some() {
            log(&format!(
                "{}: not in {machine}'s row (newer than it): held to the loosest recorded floor, \
                 lowered {:.0} %",
                check.name,
                100.0 * UNRECORDED_MARGIN
            ));
        }
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
        row.ratios.insert(
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
    new.machines.insert(machine.clone(), row);
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
        // `new` started as the old baseline, so the instruction counts are kept when this run
        // could not measure them, and every other machine's row stays as it was.
        new.save(&opts.baseline)?;
    }
    Ok((rows, all_pass))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, f64)]) -> MachineFloors {
        MachineFloors {
            ratios: pairs
                .iter()
                .map(|&(n, t)| {
                    let r = RatioBaseline {
                        measured: t / 0.65,
                        threshold: t,
                    };
                    (n.to_string(), r)
                })
                .collect(),
            ..MachineFloors::default()
        }
    }

    #[test]
    fn a_machine_uses_its_own_row_else_the_loosest_floor_lowered() {
        let mut b = Baseline::default();
        b.machines
            .insert("a".into(), row(&[("x", 6.0), ("y", 1.0)]));
        b.machines
            .insert("b".into(), row(&[("x", 4.0), ("y", 2.0)]));
        assert_eq!(b.floor_source("a"), FloorSource::OwnRow("a".into()));
        assert_eq!(b.floor("a", "x"), Some(6.0));
        assert_eq!(b.floor("b", "y"), Some(2.0));
        // Unrecorded: per check, the lowest recorded threshold, lowered.
        let low = 1.0 - UNRECORDED_MARGIN;
        assert_eq!(b.floor("c", "x"), Some(4.0 * low));
        assert_eq!(b.floor("c", "y"), Some(1.0 * low));
        assert_eq!(b.floor("c", "z"), None);
        assert_eq!(b.floor("a", "z"), None);
        assert_eq!(
            b.floor_source("c"),
            FloorSource::Loosest {
                machine: "c".into(),
                recorded: vec!["a".into(), "b".into()]
            }
        );
        // A check newer than a machine's row: that machine falls back to the loosest floor.
        b.machines.insert("d".into(), row(&[("w", 3.0)]));
        assert_eq!(b.floor("a", "w"), Some(3.0 * low));
        assert_eq!(b.floor("d", "w"), Some(3.0));
    }

    #[test]
    fn the_committed_baseline_parses_and_covers_every_check() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/perf-baseline.json");
        let b = Baseline::load(&path).unwrap();
        assert!(!b.machines.is_empty());
        for check in gate::checks() {
            assert!(
                b.floor("an-unrecorded-machine", check.name).is_some(),
                "{} has no floor",
                check.name
            );
        }
    }
}
