//! Tuning by measurement (`vanishing tune`): every GEMM kernel of a family under a few cache
//! blockings, timed on the shapes the suite cares about against the defaults, the fastest kept
//! as a [`Profile`] for this CPU model (see `gemm::profile` for how it is used).

pub use crate::gemm::profile::{Profile, Trial};
use crate::gemm::{Blocking, Gemm};
use crate::isa::Isa;
use crate::kernels::GemmKernel;
use crate::perf::workloads::GemmCase;
use std::time::{Duration, Instant};

/// The shapes tuned for: a square, the batch-10 forward and update GEMMs, the full-batch
/// forward and weight-gradient GEMMs of chapter 5 (label, m, k, n, A stored transposed).
pub const SHAPES: [(&str, usize, usize, usize, bool); 5] = [
    ("512x512x512", 512, 512, 512, false),
    ("10x784x30", 10, 784, 30, false),
    ("784x10x30(AT)", 784, 10, 30, true),
    ("1000x784x30", 1000, 784, 30, false),
    ("784x1000x30(AT)", 784, 1000, 30, true),
];

/// Seconds per call of `case` with `g`: the best of `tries` timings of enough calls to fill
/// `slice`.
fn seconds_per_call(case: &mut GemmCase, g: &Gemm, slice: Duration, tries: usize) -> f64 {
    let t = Instant::now();
    case.ours(g);
    let once = t.elapsed().as_secs_f64().max(1e-7);
    let reps = ((slice.as_secs_f64() / once) as usize).clamp(1, 100_000);
    (0..tries)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                case.ours(g);
            }
            t.elapsed().as_secs_f64() / reps as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// The blockings tried for a kernel: the one derived from the caches, and kc and mc around it.
fn candidate_blockings(k: &GemmKernel) -> Vec<Blocking> {
    let base = Blocking::detected(k.mr, k.nr);
    let mut out = vec![base];
    for kc in [256, 512, base.kc] {
        for mc_tiles in [base.mc / k.mr, 2 * base.mc / k.mr] {
            let b = Blocking {
                mc: (mc_tiles * k.mr).max(k.mr),
                kc,
                nc: base.nc,
            };
            if !out.contains(&b) {
                out.push(b);
            }
        }
    }
    out
}

/// A choice must be this much faster than the defaults (geometric mean over the shapes) to
/// replace them: paired timings on a shared machine scatter by about 2-3 %.
pub const MIN_GAIN: f64 = 0.97;

/// And it may be no slower than the defaults on any one shape: a profile must never cost a
/// workload speed (one blocking that wins on squares lost 3 % on 784x1000x30 A^T here).
pub const MAX_SHAPE_RATIO: f64 = 1.0;

/// Times every kernel of `isa` under each candidate blocking on [`SHAPES`], single-threaded,
/// calling `progress` after each trial, and returns the fastest as a profile: the defaults
/// unless something beats them by [`MIN_GAIN`] overall while losing on no shape
/// ([`MAX_SHAPE_RATIO`]). About 10 s.
pub fn tune(isa: Isa, progress: &dyn Fn(&Trial)) -> Profile {
    let mut cases: Vec<GemmCase> = SHAPES
        .iter()
        .map(|&(_, m, k, n, at)| GemmCase::new(m, k, n, at))
        .collect();
    let slice = Duration::from_millis(50);
    let default = Gemm::with_kernel(GemmKernel::for_isa(isa)).blocking(Blocking::detected(
        GemmKernel::for_isa(isa).mr,
        GemmKernel::for_isa(isa).nr,
    ));
    let kernels: Vec<GemmKernel> = GemmKernel::available()
        .into_iter()
        .filter(|k| k.isa == isa)
        .collect();
    let time_all = |cases: &mut Vec<GemmCase>, g: &Gemm| -> Vec<f64> {
        cases
            .iter_mut()
            .map(|c| seconds_per_call(c, &g.threads(1), slice, 3))
            .collect()
    };
    // The defaults are timed between every trial and the ratios taken pairwise, so a slow
    // spell of the machine moves both sides of a ratio.
    let mut trials = Vec::new();
    for k in &kernels {
        for b in candidate_blockings(k) {
            let base = time_all(&mut cases, &default);
            let g = Gemm::with_kernel(*k).blocking(b);
            let seconds = time_all(&mut cases, &g);
            let ratios: Vec<f64> = seconds.iter().zip(&base).map(|(s, d)| s / d).collect();
            let log_sum: f64 = ratios.iter().map(|r| r.ln()).sum();
            let trial = Trial {
                kernel: k.name.into(),
                blocking: b,
                relative_time: (log_sum / seconds.len() as f64).exp(),
                worst_shape_ratio: ratios.iter().copied().fold(0.0, f64::max),
                seconds,
            };
            progress(&trial);
            trials.push(trial);
        }
    }
    // The best of many noisy trials is flattered by its own noise (the winner's curse), so the
    // winner is timed again against the defaults, three fresh pairs, before it may replace them.
    let best = trials
        .iter()
        .filter(|t| t.worst_shape_ratio <= MAX_SHAPE_RATIO && t.relative_time < MIN_GAIN)
        .min_by(|a, b| a.relative_time.total_cmp(&b.relative_time))
        .cloned();
    let confirmed = best.and_then(|t| {
        let k = GemmKernel::by_name(&t.kernel).ok()?;
        let g = Gemm::with_kernel(k).blocking(t.blocking);
        let mut per_shape: Vec<Vec<f64>> = vec![Vec::new(); SHAPES.len()];
        for _ in 0..3 {
            let base = time_all(&mut cases, &default);
            let mine = time_all(&mut cases, &g);
            for (v, (m, d)) in per_shape.iter_mut().zip(mine.iter().zip(&base)) {
                v.push(m / d);
            }
        }
        let medians: Vec<f64> = per_shape
            .iter_mut()
            .map(|v| {
                v.sort_by(|a, b| a.total_cmp(b));
                v[v.len() / 2]
            })
            .collect();
        let geo = (medians.iter().map(|r| r.ln()).sum::<f64>() / medians.len() as f64).exp();
        let worst = medians.iter().copied().fold(0.0, f64::max);
        (geo < MIN_GAIN && worst <= MAX_SHAPE_RATIO).then_some((t.kernel, t.blocking, geo))
    });
    let (kernel, blocking, relative_time) = confirmed.unwrap_or_else(|| {
        (
            default.kernel_name().to_string(),
            default.block_sizes(),
            1.0,
        )
    });
    Profile {
        cpu: crate::cpu::machine_slug(),
        isa: isa.name().into(),
        kernel,
        blocking,
        relative_time,
        trials,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_blockings_are_distinct_and_sane() {
        for k in GemmKernel::available() {
            let bs = candidate_blockings(&k);
            assert!(bs.len() >= 3, "{}", k.name);
            for (i, b) in bs.iter().enumerate() {
                assert!(
                    b.mc >= k.mr && b.mc % k.mr == 0 && b.kc > 0 && b.nc > 0,
                    "{b:?}"
                );
                assert!(!bs[..i].contains(b), "duplicate {b:?}");
            }
        }
    }
}
