//! `vanishing bench`: the suite's headline figures in about a minute (`--quick`: about 10 s),
//! as one result record ([`crate::records`]). Every speed is single thread, given as a share of
//! the peak measured in the same run and as a ratio to the peers timed beside it.
//!
//! How it measures on a shared machine: each figure is a number of rounds; in each round ours
//! and the peer run back to back for about the same time (the order alternating between
//! rounds), so a slow spell hits both sides of a round and the per-round ratio cancels it. The
//! value is the median over rounds; the spread is min, median and max. The command pins itself
//! to one core where `taskset` exists (see `main.rs`).

use crate::activation::ActivationKernels;
use crate::error::{Error, Result};
use crate::gemm::Gemm;
use crate::isa::Isa;
use crate::nn::train::{self, TrainConfig};
use crate::perf::gate::time;
use crate::perf::workloads::{self, GemmCase, SigmoidCase};
use crate::records::{Direction, Figure, Record, RecordBuild, RecordMachine, Spread};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What `vanishing bench` runs.
pub struct BenchOptions {
    /// The short version: fewer rounds, no 2048^3, one epoch per network.
    pub quick: bool,
    /// MNIST, for the epochs (they are skipped, with a note, when it cannot be loaded).
    pub mnist_dir: PathBuf,
    /// The `vanishing` executable, to time `reproduce --quick` as a user runs it.
    pub exe: PathBuf,
    /// How to start that child: a prefix such as `taskset -c 0-1` that lets it use every core
    /// although this process is pinned (empty: start it directly).
    pub reproduce_prefix: Vec<String>,
    /// Whether this process runs pinned to one core (for the record's notes).
    pub pinned: bool,
}

/// Rounds and time per side of a round.
struct Effort {
    rounds: usize,
    side: Duration,
    epochs: usize,
}

impl BenchOptions {
    fn effort(&self) -> Effort {
        if self.quick {
            Effort {
                rounds: 7,
                side: Duration::from_millis(25),
                epochs: 2,
            }
        } else {
            Effort {
                rounds: 21,
                side: Duration::from_millis(80),
                epochs: 5,
            }
        }
    }
}

/// The GEMM shapes: (name, m, k, n, A transposed, in the quick run).
pub const GEMM_SHAPES: [(&str, usize, usize, usize, bool, bool); 8] = [
    ("sgemm-256", 256, 256, 256, false, true),
    ("sgemm-512", 512, 512, 512, false, true),
    ("sgemm-1024", 1024, 1024, 1024, false, true),
    ("sgemm-2048", 2048, 2048, 2048, false, false),
    ("sgemm-10x784x30", 10, 784, 30, false, true),
    ("sgemm-784x10x30-at", 784, 10, 30, true, true),
    ("sgemm-1000x784x30", 1000, 784, 30, false, true),
    ("sgemm-784x1000x30-at", 784, 1000, 30, true, true),
];

/// The number of steps the bench takes (for a progress bar).
pub fn steps(quick: bool) -> usize {
    let gemms = GEMM_SHAPES.iter().filter(|s| !quick || s.5).count();
    // peaks and bandwidth, the GEMMs, sigmoid, two epochs each twice (every sum, and as
    // trained), full-batch step, reproduce.
    1 + gemms + 1 + 4 + 1 + 1
}

/// Iterations of `f` that take about `target` (at least one).
fn calibrate(f: &mut dyn FnMut(), target: Duration) -> usize {
    f();
    let mut n = 1usize;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        let e = t.elapsed();
        if e >= target / 2 || n >= 1 << 24 {
            let per = e.as_secs_f64() / n as f64;
            return ((target.as_secs_f64() / per.max(1e-12)).ceil() as usize).max(1);
        }
        n *= 4;
    }
}

/// Seconds per iteration of ours and the peer in `rounds` alternating rounds.
fn paired(ours: &mut dyn FnMut(), peer: &mut dyn FnMut(), e: &Effort) -> (Vec<f64>, Vec<f64>) {
    let mut t = interleaved(&mut [ours, peer], e);
    let b = t.pop().expect("two sides");
    let a = t.pop().expect("two sides");
    (a, b)
}

/// Seconds per iteration of each side in `rounds` rounds; every round runs every side once,
/// in order on even rounds and in reverse on odd ones, so no side always runs first.
fn interleaved(sides: &mut [&mut dyn FnMut()], e: &Effort) -> Vec<Vec<f64>> {
    let iters: Vec<usize> = sides.iter_mut().map(|f| calibrate(*f, e.side)).collect();
    let mut out = vec![Vec::with_capacity(e.rounds); sides.len()];
    for r in 0..e.rounds {
        let order: Vec<usize> = if r % 2 == 0 {
            (0..sides.len()).collect()
        } else {
            (0..sides.len()).rev().collect()
        };
        for i in order {
            out[i].push(time(sides[i], iters[i]));
        }
    }
    out
}

/// A speed figure from per-round seconds of ours (and of each peer), with `work` units per
/// iteration (flops for GFLOP/s, elements for Gelem/s) and the peak it is a share of.
fn speed(
    name: &str,
    unit: &str,
    scale: f64,
    work: f64,
    ours: &[f64],
    peers: &[(&str, &[f64])],
    peak: Option<f64>,
) -> Figure {
    let rates: Vec<f64> = ours.iter().map(|s| work / s / scale).collect();
    let spread = Spread::of(&rates);
    let mut p = BTreeMap::new();
    for (peer, secs) in peers {
        let ratios: Vec<f64> = secs.iter().zip(ours).map(|(b, a)| b / a).collect();
        p.insert(peer.to_string(), crate::stats::median(&ratios));
    }
    Figure {
        name: name.into(),
        value: spread.median,
        unit: unit.into(),
        direction: Direction::Higher,
        spread,
        samples: rates.len(),
        // GFLOP/s over a GFLOP/s peak; elements per second have no FMA peak.
        share_of_peak: peak
            .filter(|_| unit == "GFLOP/s")
            .map(|pk| spread.median / pk),
        peers: p,
    }
}

/// A plain figure (no peers) from samples.
fn plain(name: &str, unit: &str, direction: Direction, x: &[f64], share: Option<f64>) -> Figure {
    let spread = Spread::of(x);
    Figure {
        name: name.into(),
        value: spread.median,
        unit: unit.into(),
        direction,
        spread,
        samples: x.len(),
        share_of_peak: share,
        peers: BTreeMap::new(),
    }
}

/// Arithmetic of one SGD epoch over `examples` at `batch` on `layers`: per step, the forward
/// products, the weight-gradient products (2 x batch x weights each) and the backward products
/// into every layer but the input (2 x batch x weights of those layers).
pub fn epoch_flops(layers: &[usize], examples: usize, batch: usize) -> f64 {
    let weights: Vec<f64> = layers.windows(2).map(|w| (w[0] * w[1]) as f64).collect();
    let all: f64 = weights.iter().sum();
    let backward: f64 = weights.iter().skip(1).sum();
    let steps = examples.div_ceil(batch) as f64;
    // Every full step has `batch` rows; the last may be shorter.
    let rows = examples as f64 / steps;
    steps * 2.0 * rows * (2.0 * all + backward)
}

/// Runs the bench. `progress` gets the name of each step as it starts.
pub fn run(opts: &BenchOptions, progress: &mut dyn FnMut(&str)) -> Result<Record> {
    let e = opts.effort();
    let mut figures = Vec::new();
    let mut notes = Vec::new();

    progress("FMA peaks and copy bandwidth");
    let probe = |isa: Isa| -> Vec<f64> {
        (0..3)
            .filter_map(|_| crate::cpu::measure_fma_peak_gflops_for(isa))
            .collect()
    };
    let family = Isa::selected();
    let mut peak_in_use = None;
    for (isa, name) in [
        (Isa::Avx2, "fma-peak-avx2"),
        (Isa::Avx512, "fma-peak-avx512"),
        (Isa::Neon, "fma-peak-neon"),
    ] {
        let x = probe(isa);
        if x.is_empty() {
            continue;
        }
        let f = plain(name, "GFLOP/s", Direction::Higher, &x, None);
        if isa == family {
            peak_in_use = Some(f.value);
            figures.push(Figure {
                name: "fma-peak-in-use".into(),
                ..f.clone()
            });
        }
        figures.push(f);
    }
    let bw: Vec<f64> = (0..3)
        .map(|_| crate::cpu::measure_memory_bandwidth_gbs())
        .collect();
    figures.push(plain(
        "copy-bandwidth",
        "GB/s",
        Direction::Higher,
        &bw,
        None,
    ));

    let gemm = Gemm::new();
    #[cfg(feature = "openblas")]
    {
        crate::kernels::openblas::single_thread();
        notes.push(format!(
            "OpenBLAS peer (single thread): {}",
            crate::kernels::openblas::describe()
        ));
    }
    for &(name, m, k, n, at, in_quick) in &GEMM_SHAPES {
        if opts.quick && !in_quick {
            continue;
        }
        progress(name);
        let mut ours_case = GemmCase::new(m, k, n, at);
        let mut peer_case = GemmCase::new(m, k, n, at);
        #[cfg(feature = "openblas")]
        let mut blas_case = GemmCase::new(m, k, n, at);
        let mut ours = || ours_case.ours(&gemm);
        let mut mm = || peer_case.reference();
        #[cfg(feature = "openblas")]
        let mut blas = || blas_case.openblas();
        let mut sides: Vec<&mut dyn FnMut()> = vec![&mut ours, &mut mm];
        #[cfg(feature = "openblas")]
        sides.push(&mut blas);
        let secs = interleaved(&mut sides, &e);
        let mut peers: Vec<(&str, &[f64])> = vec![("matrixmultiply", &secs[1])];
        if let Some(s) = secs.get(2) {
            peers.push(("OpenBLAS", s));
        }
        let flops = 2.0 * (m * k * n) as f64;
        figures.push(speed(
            name,
            "GFLOP/s",
            1e9,
            flops,
            &secs[0],
            &peers,
            peak_in_use,
        ));
    }

    progress("sigmoid-4096");
    let act = ActivationKernels::new();
    let (mut s1, mut s2) = (SigmoidCase::new(4096), SigmoidCase::new(4096));
    let (a, b) = paired(&mut || s1.ours(&act), &mut || s2.reference(), &e);
    figures.push(speed(
        "sigmoid-4096",
        "Gelem/s",
        1e9,
        4096.0,
        &a,
        &[("scalar exp", &b)],
        None,
    ));

    match crate::data::mnist::load(&opts.mnist_dir) {
        Ok(data) => {
            // Each network twice: every sum computed, the figure whose share of the FMA peak
            // compares machines and earlier records; then as `train` runs it, the first
            // layer's update skipping the pixel positions zero in the whole batch (the same
            // bits in less work, so that figure has no share of peak).
            for (name, layers, skip) in [
                ("epoch-784-30-10", [784usize, 30, 10], false),
                ("epoch-784-100-10", [784, 100, 10], false),
                ("epoch-784-30-10-as-trained", [784usize, 30, 10], true),
                ("epoch-784-100-10-as-trained", [784, 100, 10], true),
            ] {
                progress(name);
                let cfg = TrainConfig {
                    epochs: e.epochs,
                    ..TrainConfig::book(&layers)
                };
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .build()
                    .map_err(|err| Error::Invalid {
                        what: "thread pool",
                        problem: err.to_string(),
                    })?;
                let engine = crate::nn::batched::Engine {
                    gemm: Gemm::new().skip_zero_rows(skip),
                    act: crate::activation::ActivationKernels::new(),
                };
                let (_, records) =
                    pool.install(|| train::train(&cfg, &data, &engine, || {}, |_| {}))?;
                let secs: Vec<f64> = records.iter().map(|r| r.train_seconds).collect();
                let flops = epoch_flops(&layers, data.train.len(), cfg.batch);
                let med = crate::stats::median(&secs);
                let share = peak_in_use.filter(|_| !skip).map(|p| flops / med / 1e9 / p);
                figures.push(plain(name, "s", Direction::Lower, &secs, share));
            }
        }
        Err(err) => {
            progress("epochs skipped: no MNIST");
            notes.push(format!("epochs not measured: {err}"));
        }
    }

    progress("full-batch-step");
    let w = workloads::workload("full-batch-step").expect("a paired workload");
    let mut f = w.build();
    let iters = calibrate(&mut *f, e.side);
    let secs: Vec<f64> = (0..e.rounds).map(|_| time(&mut *f, iters)).collect();
    let flops = epoch_flops(&[784, 30, 30, 30, 30, 10], 1000, 1000);
    let med = crate::stats::median(&secs);
    let ms: Vec<f64> = secs.iter().map(|s| s * 1e3).collect();
    figures.push(plain(
        "full-batch-step",
        "ms",
        Direction::Lower,
        &ms,
        peak_in_use.map(|p| flops / med / 1e9 / p),
    ));

    progress("reproduce --quick");
    let dir = std::env::temp_dir().join(format!("vanishing-bench-{}", std::process::id()));
    let mut cmd = match opts.reproduce_prefix.split_first() {
        Some((first, rest)) => {
            let mut c = std::process::Command::new(first);
            c.args(rest).arg(&opts.exe);
            c
        }
        None => std::process::Command::new(&opts.exe),
    };
    cmd.args(["reproduce", "--quick", "--out"])
        .arg(&dir)
        .arg("--data")
        .arg(&opts.mnist_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let t = Instant::now();
    let status = cmd.status();
    let secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    match status {
        Ok(s) if s.success() => figures.push(plain(
            "reproduce-quick",
            "s",
            Direction::Lower,
            &[secs],
            None,
        )),
        Ok(s) => notes.push(format!("reproduce --quick not timed: it exited with {s}")),
        Err(err) => notes.push(format!("reproduce --quick not timed: {err}")),
    }

    notes.insert(
        0,
        format!(
            "{} rounds per figure, ~{} ms per side of a round; single thread{}",
            e.rounds,
            e.side.as_millis(),
            match (opts.pinned, opts.reproduce_prefix.is_empty()) {
                (false, _) => ", not pinned",
                (true, true) => ", pinned to one core",
                (true, false) => ", pinned to one core (reproduce --quick on all cores)",
            }
        ),
    );
    Ok(Record {
        schema_version: crate::records::SCHEMA_VERSION,
        source: if opts.quick {
            "vanishing bench --quick".into()
        } else {
            "vanishing bench".into()
        },
        date: crate::perf::ab_gate::utc_now(),
        machine: RecordMachine::current(),
        build: RecordBuild::current(),
        figures,
        legacy: false,
        notes: notes.join("; "),
    })
}

/// The short summary table printed at the end.
pub fn summary(r: &Record) -> String {
    let mut s = format!(
        "{} on {} ({} kernels), commit {}{}\n",
        r.source,
        r.machine.cpu,
        r.build.kernel_family,
        r.build.commit.get(..12).unwrap_or(&r.build.commit),
        if r.build.dirty { " (dirty)" } else { "" }
    );
    for f in &r.figures {
        s += &format!("  {:<22} {}\n", f.name, crate::records::machines::cell(f));
    }
    if !r.notes.is_empty() {
        s += &format!("  ({})\n", r.notes);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_arithmetic_is_the_documented_count() {
        // [784,30,10], 50,000 images, batch 10: 5,000 steps of 2 x 10 x (2 x 23,820 + 300).
        let f = epoch_flops(&[784, 30, 10], 50_000, 10);
        assert!((f - 4.794e9).abs() < 1e6, "{f}");
        // One full-batch step of the chapter's net on 1,000 images.
        let f = epoch_flops(&[784, 30, 30, 30, 30, 10], 1000, 1000);
        assert_eq!(f, 2.0 * 1000.0 * (2.0 * 26_520.0 + 3000.0));
    }

    #[test]
    fn speed_figures_take_medians_and_paired_ratios() {
        let ours = [1.0, 2.0, 4.0];
        let peer = [2.0, 2.0, 2.0];
        let f = speed("x", "GFLOP/s", 1e9, 4e9, &ours, &[("p", &peer)], Some(4.0));
        assert_eq!(f.value, 2.0);
        assert_eq!((f.spread.min, f.spread.max), (1.0, 4.0));
        assert_eq!(f.peers["p"], 1.0); // ratios 2, 1, 0.5
        assert_eq!(f.share_of_peak, Some(0.5));
        let g = speed("y", "Gelem/s", 1e9, 4e9, &ours, &[], Some(4.0));
        assert_eq!(g.share_of_peak, None);
    }
}
