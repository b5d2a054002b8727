//! Ratio checks: ours against a reference, timed interleaved (A B A B ...) in one process.

use super::workloads::{GemmCase, SigmoidCase, SmallBatchCase, StepCase};
use crate::activation::ActivationKernels;
use crate::gemm::Gemm;
use crate::nn::batched::Engine;
use std::time::{Duration, Instant};

/// One check: a name, our side and the reference side.
pub struct Check {
    pub name: &'static str,
    pub what: &'static str,
    ours: Box<dyn FnMut()>,
    reference: Box<dyn FnMut()>,
}

/// The gate's checks (all single-threaded, so a busy second core matters less).
pub fn checks() -> Vec<Check> {
    let gemm = Gemm::new().threads(1);
    let act = ActivationKernels::new();
    let engine = Engine { gemm, act };
    let gemm_check = |name: &'static str, what: &'static str, m, k, n, at| {
        let case = std::rc::Rc::new(std::cell::RefCell::new(GemmCase::new(m, k, n, at)));
        let c2 = case.clone();
        Check {
            name,
            what,
            ours: Box::new(move || case.borrow_mut().ours(&gemm)),
            reference: Box::new(move || c2.borrow_mut().reference()),
        }
    };
    let sig = std::rc::Rc::new(std::cell::RefCell::new(SigmoidCase::new(2048)));
    let sig2 = sig.clone();
    let mut train = StepCase::new(&[784, 30, 10], 10);
    let mut small = SmallBatchCase::new(&[784, 30, 10], 10, &engine);
    let mut fixed = GemmCase::new(128, 128, 128, false);
    let mut fixed2 = GemmCase::new(128, 128, 128, false);
    vec![
        gemm_check(
            "gemm-256",
            "our SGEMM vs matrixmultiply, 256^3",
            256,
            256,
            256,
            false,
        ),
        gemm_check(
            "gemm-1000x784x30",
            "our SGEMM vs matrixmultiply, 1000x784x30",
            1000,
            784,
            30,
            false,
        ),
        gemm_check(
            "gemm-10x784x30",
            "our SGEMM vs matrixmultiply, 10x784x30 (batch-10 forward)",
            10,
            784,
            30,
            false,
        ),
        gemm_check(
            "gemm-784x10x30-at",
            "our SGEMM vs matrixmultiply, 784x10x30 with A^T (batch-10 update)",
            784,
            10,
            30,
            true,
        ),
        Check {
            name: "sigmoid-2048",
            what: "our sigmoid vs a plain scalar sigmoid (no library calls), 2048 elements",
            ours: Box::new(move || sig.borrow_mut().ours(&act)),
            reference: Box::new(move || sig2.borrow_mut().plain_reference()),
        },
        Check {
            name: "train-slice",
            what:
                "20 steps of the general SGD step, [784,30,10] at batch 10, vs a fixed matrixmultiply 128^3 workload",
            ours: Box::new(move || (0..20).for_each(|_| train.step(&engine))),
            reference: Box::new(move || fixed.reference()),
        },
        Check {
            name: "small-batch-slice",
            what: "20 steps of the trainer's small-batch step, [784,30,10] at batch 10, vs a fixed matrixmultiply 128^3 workload",
            ours: Box::new(move || (0..20).for_each(|_| small.step())),
            reference: Box::new(move || fixed2.reference()),
        },
    ]
}

/// Iterations of `f` that take at least `target`.
fn calibrate(f: &mut dyn FnMut(), target: Duration) -> usize {
    let mut iters = 1;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed() >= target || iters >= 1 << 24 {
            return iters;
        }
        iters *= 2;
    }
}

/// Seconds per iteration of `iters` back-to-back calls of `f`.
pub(crate) fn time(f: &mut dyn FnMut(), iters: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_secs_f64() / iters as f64
}

/// The result of measuring one check.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Measured {
    pub name: &'static str,
    /// Median over rounds of (reference time / our time): above 1 means we are faster.
    pub ratio: f64,
    pub min: f64,
    pub max: f64,
    pub rounds: usize,
}

/// Measures a check: `rounds` interleaved pairs of about `sample` each; the ratio of each pair,
/// then the median.
pub fn measure(check: &mut Check, rounds: usize, sample: Duration) -> Measured {
    let io = calibrate(&mut check.ours, sample);
    let ir = calibrate(&mut check.reference, sample);
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|_| {
            let a = time(&mut check.ours, io);
            let b = time(&mut check.reference, ir);
            b / a
        })
        .collect();
    ratios.sort_by(|a, b| a.total_cmp(b));
    Measured {
        name: check.name,
        ratio: ratios[rounds / 2],
        min: ratios[0],
        max: ratios[rounds - 1],
        rounds,
    }
}
