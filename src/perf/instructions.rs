//! Instruction counts under callgrind: deterministic whatever the machine's load. Each workload
//! runs twice in a child process (`vanishing perf-workload NAME ITERS`) with two iteration
//! counts; the difference divided by the extra iterations is the count per iteration, free of
//! start-up costs.

use crate::error::{Error, Result};
use std::path::Path;
use std::process::Command;

/// Workloads and their (low, high) iteration counts.
pub const WORKLOADS: [(&str, usize, usize); 5] = [
    ("gemm-256", 1, 3),
    ("gemm-10x784x30", 10, 40),
    ("sigmoid-2048", 20, 220),
    ("train-slice", 10, 60),
    ("small-batch-step", 10, 60),
];

/// Runs workload `name` for `iters` iterations (the child side of the measurement; any
/// workload of [`super::workloads::PAIRED`]).
pub fn run_workload(name: &str, iters: usize) -> Result<()> {
    let w = super::workloads::workload(name).ok_or_else(|| Error::Invalid {
        what: "workload",
        problem: format!(
            "'{name}' is not one of {}",
            super::workloads::PAIRED
                .iter()
                .map(|w| w.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })?;
    let mut f = w.build();
    (0..iters).for_each(|_| f());
    if let Some(n) = super::ab::canary_loops(name) {
        super::ab::canary_filler(n * iters as u64);
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
        // The same blocking and no tuned profile on every host, as for the A/B counts: the
        // derived blocking follows the host's caches, so the committed counts would otherwise
        // hold only where they were measured (kc moving from L1d to L2 moved gemm-10x784x30's
        // count 4.4 % on one host).
        .env("VANISHING_BLOCKING", COUNT_BLOCKING)
        .env("VANISHING_PROFILE", "off")
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

/// Cache-simulated counts of one run under cachegrind.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct CacheCounts {
    /// Instructions executed.
    pub instructions: f64,
    /// Instruction fetches plus data reads and writes.
    pub accesses: f64,
    /// First-level misses (instruction and data).
    pub l1_misses: f64,
    /// Last-level misses.
    pub ll_misses: f64,
}

impl CacheCounts {
    /// iai-callgrind's estimated cycles: L1 hits + 5 x last-level hits + 35 x memory accesses.
    pub fn estimated_cycles(&self) -> f64 {
        let l1_hits = self.accesses - self.l1_misses;
        let ll_hits = self.l1_misses - self.ll_misses;
        l1_hits + 5.0 * ll_hits + 35.0 * self.ll_misses
    }

    fn minus(self, o: CacheCounts, per: f64) -> CacheCounts {
        CacheCounts {
            instructions: (self.instructions - o.instructions) / per,
            accesses: (self.accesses - o.accesses) / per,
            l1_misses: (self.l1_misses - o.l1_misses) / per,
            ll_misses: (self.ll_misses - o.ll_misses) / per,
        }
    }
}

/// The blocking and simulated caches the counts are taken with, the same on every host, so
/// that counts compare across machines and revisions (the host's cache sizes would otherwise
/// choose the blocking).
pub const COUNT_BLOCKING: &str = "96,256,4096";
const COUNT_CACHES: [&str; 3] = ["--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64"];

/// Parses cachegrind's `events:` and `summary:` lines.
pub fn parse_cachegrind(text: &str) -> Option<CacheCounts> {
    let events: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("events:"))?
        .split_whitespace()
        .collect();
    let values: Vec<f64> = text
        .lines()
        .find_map(|l| l.strip_prefix("summary:"))?
        .split_whitespace()
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let get = |name: &str| {
        events
            .iter()
            .position(|e| *e == name)
            .and_then(|i| values.get(i).copied())
            .unwrap_or(0.0)
    };
    Some(CacheCounts {
        instructions: get("Ir"),
        accesses: get("Ir") + get("Dr") + get("Dw"),
        l1_misses: get("I1mr") + get("D1mr") + get("D1mw"),
        ll_misses: get("ILmr") + get("DLmr") + get("DLmw"),
    })
}

/// One run of `exe perf-workload name iters` under cachegrind with simulated caches; `None`
/// when that binary does not have the workload.
fn cache_run(exe: &Path, name: &str, iters: usize) -> Result<Option<CacheCounts>> {
    let out = std::env::temp_dir().join(format!(
        "vanishing-cachegrind-{}-{name}-{iters}.out",
        std::process::id()
    ));
    let status = Command::new("valgrind")
        .args(["--tool=cachegrind", "--cache-sim=yes", "--quiet"])
        .args(COUNT_CACHES)
        .arg(format!("--cachegrind-out-file={}", out.display()))
        .arg(exe)
        .args(["perf-workload", name, &iters.to_string()])
        .env("VANISHING_ISA", "avx2")
        .env("VANISHING_BLOCKING", COUNT_BLOCKING)
        .env("VANISHING_PROFILE", "off")
        .env("RAYON_NUM_THREADS", "1")
        .envs(super::ab::canary_loops(name).map(|n| (super::ab::CANARY_LOOPS_ENV, n.to_string())))
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| Error::Io {
            context: "running valgrind".into(),
            source: e,
        })?;
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return Ok(None);
    }
    Ok(parse_cachegrind(&text))
}

/// Per-iteration cache-simulated counts of workload `w` (AVX2 kernels, fixed blocking), or
/// `None` if the binary lacks it.
pub fn cache_counts(exe: &Path, w: &super::workloads::Workload) -> Result<Option<CacheCounts>> {
    let (lo, hi) = w.count_iters;
    let Some(a) = cache_run(exe, w.name, lo)? else {
        return Ok(None);
    };
    let Some(b) = cache_run(exe, w.name, hi)? else {
        return Ok(None);
    };
    Ok(Some(b.minus(a, (hi - lo) as f64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cachegrind_summary_parses_into_estimated_cycles() {
        let text = "desc: I1 cache: 32768 B\ncmd: x\nevents: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw\nfl=a\n1 2 3\nsummary: 1000 10 1 400 40 4 100 10 5\n";
        let c = parse_cachegrind(text).unwrap();
        assert_eq!(c.instructions, 1000.0);
        assert_eq!(c.accesses, 1500.0);
        assert_eq!(c.l1_misses, 60.0);
        assert_eq!(c.ll_misses, 10.0);
        // 1440 L1 hits + 5 * 50 + 35 * 10.
        assert_eq!(c.estimated_cycles(), 1440.0 + 250.0 + 350.0);
        assert!(parse_cachegrind("nothing here").is_none());
    }
}
