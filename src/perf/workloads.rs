//! Fixed, deterministic workloads: what the gate times and what callgrind counts. Inputs are
//! synthetic (seeded), so nothing depends on files or on the machine.

use crate::activation::ActivationKernels;
use crate::gemm::{Gemm, MatMut, MatRef};
use crate::nn::batched::{Engine, Workspace};
use crate::nn::{Activation, Cost, Init, Network};
use std::hint::black_box;

/// A deterministic pseudo-random vector in [-0.5, 0.5) (a fixed LCG: cheap and identical
/// everywhere, which matters for instruction counts).
pub fn fixed_vec(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect()
}

/// A GEMM problem `m x k` times `k x n` (A stored transposed when `at`).
pub struct GemmCase {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub at: bool,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

impl GemmCase {
    pub fn new(m: usize, k: usize, n: usize, at: bool) -> GemmCase {
        GemmCase {
            m,
            k,
            n,
            at,
            a: fixed_vec(m * k, 1),
            b: fixed_vec(k * n, 2),
            c: vec![0.0; m * n],
        }
    }

    /// One product with our GEMM (single thread).
    pub fn ours(&mut self, g: &Gemm) {
        let (m, k, n) = (self.m, self.k, self.n);
        let a = if self.at {
            MatRef::row_major(&self.a, k, m).expect("sized above").t()
        } else {
            MatRef::row_major(&self.a, m, k).expect("sized above")
        };
        let b = MatRef::row_major(&self.b, k, n).expect("sized above");
        let c = MatMut::row_major(&mut self.c, m, n).expect("sized above");
        g.gemm(1.0, a, b, 0.0, c).expect("shapes agree");
        black_box(&self.c);
    }

    /// The same product with matrixmultiply.
    pub fn reference(&mut self) {
        let (m, k, n) = (self.m, self.k, self.n);
        let (rsa, csa) = if self.at {
            (1, m as isize)
        } else {
            (k as isize, 1)
        };
        // SAFETY: the buffers hold the m x k, k x n and m x n extents these strides describe.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                self.a.as_ptr(),
                rsa,
                csa,
                self.b.as_ptr(),
                n as isize,
                1,
                0.0,
                self.c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
        black_box(&self.c);
    }
}

/// Sigmoid over a fixed vector: ours, or the scalar `1/(1+exp(-x))` loop.
pub struct SigmoidCase {
    x: Vec<f32>,
    y: Vec<f32>,
}

impl SigmoidCase {
    pub fn new(n: usize) -> SigmoidCase {
        SigmoidCase {
            x: fixed_vec(n, 3).into_iter().map(|v| v * 20.0).collect(),
            y: vec![0.0; n],
        }
    }
    pub fn ours(&mut self, k: &ActivationKernels) {
        k.apply(
            crate::activation::ElementFn::Sigmoid,
            black_box(&self.x),
            &mut self.y,
        );
        black_box(&self.y);
    }
    pub fn reference(&mut self) {
        for (o, &v) in self.y.iter_mut().zip(black_box(&self.x)) {
            *o = 1.0 / (1.0 + (-v).exp());
        }
        black_box(&self.y);
    }
}

/// A slice of a training epoch: SGD steps at batch 10 on a [784,30,10] net, synthetic inputs.
pub struct TrainCase {
    net: Network,
    ws: Workspace,
    images: Vec<f32>,
    labels: Vec<u8>,
    step: usize,
}

/// Examples in the synthetic training slice.
const TRAIN_EXAMPLES: usize = 2000;

impl TrainCase {
    pub fn new() -> TrainCase {
        let net = Network::new(&[784, 30, 10], Activation::Sigmoid, Init::Default, 1)
            .expect("valid sizes");
        let ws = Workspace::new(&net, 10);
        TrainCase {
            net,
            ws,
            images: fixed_vec(TRAIN_EXAMPLES * 784, 4)
                .into_iter()
                .map(|v| v + 0.5)
                .collect(),
            labels: (0..TRAIN_EXAMPLES).map(|i| (i * 7 % 10) as u8).collect(),
            step: 0,
        }
    }

    /// `steps` SGD steps (batch 10), continuing through the synthetic set.
    pub fn steps(&mut self, e: &Engine, steps: usize) {
        for _ in 0..steps {
            let i0 = (self.step * 10) % TRAIN_EXAMPLES;
            let m = e.gather(&mut self.ws, &self.images, 784, i0..i0 + 10);
            e.sgd_step(
                &mut self.net,
                &mut self.ws,
                m,
                &self.labels[i0..i0 + 10],
                Cost::CrossEntropy,
                0.1,
                5.0,
                50_000,
            );
            self.step += 1;
        }
        black_box(&self.net.biases);
    }
}

impl Default for TrainCase {
    fn default() -> Self {
        TrainCase::new()
    }
}
