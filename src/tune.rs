//! Tuning by measurement (`vanishing tune`): every GEMM kernel of a family under a few cache
//! blockings, timed on the shapes the suite cares about against the defaults, the fastest kept
//! as a [`Profile`] for this CPU model (see `gemm::profile` for how it is used).

pub use crate::gemm::profile::{Profile, Trial};
use crate::gemm::{Blocking, Gemm, MatMut, MatRef};
use crate::isa::Isa;
use crate::kernels::GemmKernel;
use std::time::{Duration, Instant};

/// The shapes tuned for: a square, the batch-10 forward and update GEMMs, the full-batch
/// forward GEMM of chapter 5 (label, m, k, n, A stored transposed).
pub const SHAPES: [(&str, usize, usize, usize, bool); 4] = [
    ("512x512x512", 512, 512, 512, false),
    ("10x784x30", 10, 784, 30, false),
    ("784x10x30(AT)", 784, 10, 30, true),
    ("1000x784x30", 1000, 784, 30, false),
];

/// One tuning shape's operands.
struct Case {
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    m: usize,
    k: usize,
    n: usize,
    at: bool,
}

impl Case {
    fn new(m: usize, k: usize, n: usize, at: bool) -> Case {
        let val = |i: usize| ((i * 7919) % 2003) as f32 / 2003.0 - 0.5;
        Case {
            a: (0..m * k).map(val).collect(),
            b: (0..k * n).map(|i| val(i + 17)).collect(),
            c: vec![0.0; m * n],
            m,
            k,
            n,
            at,
        }
    }

    /// Seconds per call: the best of `tries` timings of enough calls to fill `slice`.
    fn time(&mut self, g: &Gemm, slice: Duration, tries: usize) -> f64 {
        let (m, k, n) = (self.m, self.k, self.n);
        let run = |c: &mut Vec<f32>| {
            let a = if self.at {
                MatRef::row_major(&self.a, k, m).expect("sized").t()
            } else {
                MatRef::row_major(&self.a, m, k).expect("sized")
            };
            g.gemm(
                1.0,
                a,
                MatRef::row_major(&self.b, k, n).expect("sized"),
                0.0,
                MatMut::row_major(c, m, n).expect("sized"),
            )
            .expect("shapes agree");
        };
        let mut c = std::mem::take(&mut self.c);
        let t = Instant::now();
        run(&mut c);
        let once = t.elapsed().as_secs_f64().max(1e-7);
        let reps = ((slice.as_secs_f64() / once) as usize).clamp(1, 100_000);
        let best = (0..tries)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..reps {
                    run(&mut c);
                }
                t.elapsed().as_secs_f64() / reps as f64
            })
            .fold(f64::INFINITY, f64::min);
        self.c = c;
        best
    }
}

/// The blockings tried for a kernel: the one derived from the caches, and kc and mc around it.
fn candidate_blockings(k: &GemmKernel) -> Vec<Blocking> {
    let base = Blocking::detected(k.mr, k.nr);
    let mut out = vec![base];
    for kc in [256, 384, 512] {
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
/// replace them: paired timings on a shared machine scatter by about 2-3 %, and a profile must
/// never be slower than the defaults.
pub const MIN_GAIN: f64 = 0.97;

/// Times every kernel of `isa` under each candidate blocking on [`SHAPES`], single-threaded,
/// calling `progress` after each trial, and returns the fastest as a profile: the defaults
/// unless something beats them by [`MIN_GAIN`]. About 15 s.
pub fn tune(isa: Isa, progress: &dyn Fn(&Trial)) -> Profile {
    let mut cases: Vec<Case> = SHAPES
        .iter()
        .map(|&(_, m, k, n, at)| Case::new(m, k, n, at))
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
    let time_all = |cases: &mut Vec<Case>, g: &Gemm| -> Vec<f64> {
        cases
            .iter_mut()
            .map(|c| c.time(&g.threads(1), slice, 3))
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
            let log_sum: f64 = seconds.iter().zip(&base).map(|(s, d)| (s / d).ln()).sum();
            let trial = Trial {
                kernel: k.name.into(),
                blocking: b,
                relative_time: (log_sum / seconds.len() as f64).exp(),
                seconds,
            };
            progress(&trial);
            trials.push(trial);
        }
    }
    let best = trials
        .iter()
        .min_by(|a, b| a.relative_time.total_cmp(&b.relative_time))
        .cloned();
    let (kernel, blocking, relative_time) = match best {
        Some(t) if t.relative_time < MIN_GAIN => (t.kernel, t.blocking, t.relative_time),
        _ => (
            default.kernel_name().to_string(),
            default.block_sizes(),
            1.0,
        ),
    };
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
