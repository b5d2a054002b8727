//! Instruction counts under callgrind: deterministic whatever the machine's load. Each workload
//! runs twice in a child process (`vanishing perf-workload NAME ITERS`) with two iteration
//! counts; the difference divided by the extra iterations is the count per iteration, free of
//! start-up costs.

use super::workloads::{GemmCase, SigmoidCase, TrainCase};
use crate::activation::ActivationKernels;
use crate::error::{Error, Result};
use crate::gemm::Gemm;
use crate::nn::batched::Engine;
use std::path::Path;
use std::process::Command;

/// Workloads and their (low, high) iteration counts.
pub const WORKLOADS: [(&str, usize, usize); 4] = [
    ("gemm-256", 1, 3),
    ("gemm-10x784x30", 10, 40),
    ("sigmoid-4096", 10, 110),
    ("train-slice", 10, 60),
];

/// Runs workload `name` for `iters` iterations (the child side of the measurement).
pub fn run_workload(name: &str, iters: usize) -> Result<()> {
    let g = Gemm::new().threads(1);
    match name {
        "gemm-256" => {
            let mut c = GemmCase::new(256, 256, 256, false);
            (0..iters).for_each(|_| c.ours(&g));
        }
        "gemm-10x784x30" => {
            let mut c = GemmCase::new(10, 784, 30, false);
            (0..iters).for_each(|_| c.ours(&g));
        }
        "sigmoid-4096" => {
            let k = ActivationKernels::new();
            let mut c = SigmoidCase::new(4096);
            (0..iters).for_each(|_| c.ours(&k));
        }
        "train-slice" => {
            let e = Engine {
                gemm: g,
                act: ActivationKernels::new(),
            };
            let mut c = TrainCase::new();
            c.steps(&e, iters);
        }
        other => {
            return Err(Error::Invalid {
                what: "workload",
                problem: format!(
                    "'{other}' is not one of {}",
                    WORKLOADS.map(|w| w.0).join(", ")
                ),
            })
        }
    }
    Ok(())
}

/// Whether valgrind can be run.
pub fn valgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Total instructions of one child run under callgrind.
fn count(exe: &Path, name: &str, iters: usize, isa: &str) -> Result<u64> {
    let out = std::env::temp_dir().join(format!(
        "vanishing-callgrind-{}-{name}-{iters}.out",
        std::process::id()
    ));
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args(["perf-workload", name, &iters.to_string()])
        .env("VANISHING_ISA", isa)
        .env("RAYON_NUM_THREADS", "1")
        .status()
        .map_err(|e| Error::Io {
            context: "running valgrind".into(),
            source: e,
        })?;
    let text = std::fs::read_to_string(&out).map_err(|e| Error::Io {
        context: format!("reading {}", out.display()),
        source: e,
    })?;
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return Err(Error::Invalid {
            what: "callgrind run",
            problem: format!("{name} x{iters} exited with {status}"),
        });
    }
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| Error::Invalid {
            what: "callgrind output",
            problem: "no summary line".into(),
        })
}

/// Instructions per iteration of each workload, with kernels of family `isa`.
pub fn measure_all(exe: &Path, isa: &str) -> Result<Vec<(String, f64)>> {
    WORKLOADS
        .iter()
        .map(|&(name, lo, hi)| {
            let a = count(exe, name, lo, isa)?;
            let b = count(exe, name, hi, isa)?;
            Ok((name.to_string(), (b as f64 - a as f64) / (hi - lo) as f64))
        })
        .collect()
}
