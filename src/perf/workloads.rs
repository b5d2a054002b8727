//! Fixed, deterministic workloads: what the gate times and what callgrind counts. Inputs are
//! synthetic (seeded), so nothing depends on files or on the machine.

use super::placed::{Placed, Slot};
use crate::activation::ActivationKernels;
use crate::gemm::{Gemm, MatMut, MatRef};
use crate::nn::batched::{Engine, SgdParams, Workspace};
use crate::nn::small_batch::SmallBatchStep;
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

/// A GEMM problem `m x k` times `k x n` (A stored transposed when `at`). A, B and C sit in one
/// buffer ([`Placed`]), each on a 64-byte boundary, 1 KiB apart modulo 4 KiB: the same layout
/// in every build and process.
pub struct GemmCase {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub at: bool,
    abc: Placed,
}

/// Where a [`GemmCase`]'s A, B and C start within a 4 KiB page, in bytes.
const GEMM_PAGE_OFFSETS: [usize; 3] = [0, 1024, 2048];

impl GemmCase {
    pub fn new(m: usize, k: usize, n: usize, at: bool) -> GemmCase {
        let lens = [m * k, k * n, m * n];
        let mut abc = Placed::new(&std::array::from_fn::<Slot, 3, _>(|i| Slot {
            len: lens[i],
            page_offset_bytes: GEMM_PAGE_OFFSETS[i],
        }));
        let [a, b, _] = abc.parts::<3>();
        a.copy_from_slice(&fixed_vec(m * k, 1));
        b.copy_from_slice(&fixed_vec(k * n, 2));
        GemmCase { m, k, n, at, abc }
    }

    /// One product with our GEMM (single thread).
    pub fn ours(&mut self, g: &Gemm) {
        let (m, k, n) = (self.m, self.k, self.n);
        let [a, b, c] = self.abc.parts::<3>();
        let a = if self.at {
            MatRef::row_major(a, k, m).expect("sized above").t()
        } else {
            MatRef::row_major(a, m, k).expect("sized above")
        };
        let b = MatRef::row_major(b, k, n).expect("sized above");
        let c = MatMut::row_major(c, m, n).expect("sized above");
        g.gemm(1.0, a, b, 0.0, c).expect("shapes agree");
        black_box(self.abc.get(2));
    }

    /// The same product with the system OpenBLAS (single thread once
    /// [`crate::kernels::openblas::single_thread`] was called).
    #[cfg(feature = "openblas")]
    pub fn openblas(&mut self) {
        let [a, b, c] = self.abc.parts::<3>();
        crate::kernels::openblas::sgemm(crate::kernels::openblas::RowMajorSgemm {
            m: self.m,
            k: self.k,
            n: self.n,
            alpha: 1.0,
            a,
            a_transposed: self.at,
            b,
            beta: 0.0,
            c,
        });
        black_box(self.abc.get(2));
    }

    /// The same product with matrixmultiply.
    pub fn reference(&mut self) {
        let (m, k, n) = (self.m, self.k, self.n);
        let (rsa, csa) = if self.at {
            (1, m as isize)
        } else {
            (k as isize, 1)
        };
        let [a, b, c] = self.abc.parts::<3>();
        // SAFETY: the buffers hold the m x k, k x n and m x n extents these strides describe.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                rsa,
                csa,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
        black_box(self.abc.get(2));
    }
}

/// Sigmoid over a fixed vector: ours, or the scalar `1/(1+exp(-x))` loop.
///
/// Input and output sit in one buffer at a fixed layout ([`Placed`]): both start on a 64-byte
/// boundary and the output starts 2 KiB past the input modulo 4 KiB. With two separate `Vec`s
/// the layout depended on what the process had allocated before, and a 512-bit pass over
/// unaligned data is 3-4 % slower than over aligned data: an unrelated change moved this
/// workload by 5 %. The 2 KiB distance keeps every load far from the 4 KiB alias of a pending
/// store: the layout before this one put the output 64 bytes past the input modulo 4 KiB, so a
/// load one vector ahead could be held behind a store to the same page offset (4K aliasing).
pub struct SigmoidCase {
    xy: Placed,
}

impl SigmoidCase {
    pub fn new(n: usize) -> SigmoidCase {
        let mut xy = Placed::new(&[
            Slot {
                len: n,
                page_offset_bytes: 0,
            },
            Slot {
                len: n,
                page_offset_bytes: 2048,
            },
        ]);
        for (o, v) in xy.get_mut(0).iter_mut().zip(fixed_vec(n, 3)) {
            *o = v * 20.0;
        }
        SigmoidCase { xy }
    }

    fn split(&mut self) -> (&[f32], &mut [f32]) {
        let [x, y] = self.xy.parts::<2>();
        (x, y)
    }

    pub fn ours(&mut self, k: &ActivationKernels) {
        let (x, y) = self.split();
        k.apply(crate::activation::ElementFn::Sigmoid, black_box(x), y);
        black_box(y);
    }
    pub fn reference(&mut self) {
        let (x, y) = self.split();
        for (o, &v) in y.iter_mut().zip(black_box(x)) {
            *o = 1.0 / (1.0 + (-v).exp());
        }
        black_box(y);
    }

    /// The coarse gate's reference: [`plain_sigmoid`] one element at a time. It makes no
    /// library call, so the ratio against it does not move with the C library's `expf` (the
    /// loop above measured 37 % faster, relative to our kernel, on one CI machine than on a
    /// Xeon whose GEMM ratios it matched to three digits).
    pub fn plain_reference(&mut self) {
        let (x, y) = self.split();
        for (o, &v) in y.iter_mut().zip(x) {
            // One element at a time: the barrier keeps LLVM from vectorising the loop, which
            // would make the reference depend on what the compiler chose.
            *o = plain_sigmoid(black_box(v));
        }
        black_box(y);
    }
}

/// `1 / (1 + exp(-v))` in plain f32 arithmetic (no fused multiply-adds, no library calls):
/// exp by rounding to the nearest power of two with the 1.5 * 2^23 shift, a two-part ln 2
/// reduction and a degree-6 Taylor polynomial, the power of two put in the exponent bits.
/// About 1e-6 relative error for |v| <= 80; a timing reference, not an oracle.
pub fn plain_sigmoid(v: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let z = (-v).clamp(-80.0, 80.0);
    let n = (z * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
    let r = (z - n * 0.693_145_75) - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r / 720.0)))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    1.0 / (1.0 + p * scale)
}

/// Examples in the synthetic training set of [`StepCase`].
const TRAIN_EXAMPLES: usize = 2000;

/// A training step on synthetic data: `batch` examples per step through a network of `sizes`,
/// cycling through a fixed set of examples (the batch-10 SGD step, and the chapter's
/// full-batch step of 1,000 examples through four hidden layers).
pub struct StepCase {
    net: Network,
    ws: Workspace,
    images: Vec<f32>,
    labels: Vec<u8>,
    batch: usize,
    step: usize,
}

impl StepCase {
    /// A network of `sizes` (784 inputs) trained `batch` examples at a time.
    pub fn new(sizes: &[usize], batch: usize) -> StepCase {
        let net = Network::new(sizes, Activation::Sigmoid, Init::Default, 1).expect("valid sizes");
        let ws = Workspace::new(&net, batch);
        let examples = TRAIN_EXAMPLES.max(batch);
        StepCase {
            net,
            ws,
            images: fixed_vec(examples * 784, 4)
                .into_iter()
                .map(|v| v + 0.5)
                .collect(),
            labels: (0..examples).map(|i| (i * 7 % 10) as u8).collect(),
            batch,
            step: 0,
        }
    }

    /// One SGD step ([`STEP_PARAMS`]).
    pub fn step(&mut self, e: &Engine) {
        let n = self.labels.len();
        let i0 = (self.step * self.batch) % n;
        let i0 = if i0 + self.batch > n { 0 } else { i0 };
        let m = e.gather(&mut self.ws, &self.images, 784, i0..i0 + self.batch);
        e.sgd_step(
            &mut self.net,
            &mut self.ws,
            m,
            &self.labels[i0..i0 + self.batch],
            &STEP_PARAMS,
        );
        self.step += 1;
        black_box(&self.net.biases);
    }
}

/// The SGD settings every step workload uses (cross-entropy, eta 0.1, lambda 5, n 50,000).
const STEP_PARAMS: SgdParams = SgdParams {
    cost: Cost::CrossEntropy,
    eta: 0.1,
    lambda: 5.0,
    train_size: 50_000,
};

/// The trainer's batch-10 step as `train` runs it: [`SmallBatchStep`] (padded layout, rank-k
/// updates) on byte images, gathered and converted each step like MNIST pixels.
pub struct SmallBatchCase {
    step: SmallBatchStep,
    pixels: Vec<u8>,
    labels: Vec<u8>,
    batch: usize,
    at: usize,
}

impl SmallBatchCase {
    /// A network of `sizes` (784 inputs) trained `batch` (at most 16) examples at a time.
    pub fn new(sizes: &[usize], batch: usize, e: &Engine) -> SmallBatchCase {
        let net = Network::new(sizes, Activation::Sigmoid, Init::Default, 1).expect("valid sizes");
        let examples = TRAIN_EXAMPLES.max(batch);
        SmallBatchCase {
            step: SmallBatchStep::new(&net, e, batch),
            pixels: fixed_vec(examples * 784, 4)
                .into_iter()
                .map(|v| ((v + 0.5) * 256.0) as u8)
                .collect(),
            labels: (0..examples).map(|i| (i * 7 % 10) as u8).collect(),
            batch,
            at: 0,
        }
    }

    /// As [`SmallBatchCase::new`], on digit-like images: each 28 x 28 image blank outside a
    /// box of 16 to 22 pixels a side at a varying place, and blank at about half of the box's
    /// pixels, as MNIST's digits leave a third or more of a batch's positions blank in every
    /// image. The step then runs its sparse paths (the first layer's forward and update skip
    /// those positions), which dense random pixels never reach.
    pub fn digits(sizes: &[usize], batch: usize, e: &Engine) -> SmallBatchCase {
        let mut case = SmallBatchCase::new(sizes, batch, e);
        let noise = fixed_vec(case.pixels.len(), 9);
        for (img, image) in case.pixels.chunks_exact_mut(784).enumerate() {
            let side = 16 + img % 7;
            let (top, left) = (2 + img % 5, 2 + (img / 5) % 5);
            for (q, px) in image.iter_mut().enumerate() {
                let (y, x) = (q / 28, q % 28);
                let inside = (top..top + side).contains(&y) && (left..left + side).contains(&x);
                if !inside || noise[img * 784 + q] < 0.0 {
                    *px = 0;
                }
            }
        }
        case
    }

    /// One gather and SGD step.
    pub fn step(&mut self) {
        let n = self.labels.len();
        let i0 = if self.at + self.batch > n { 0 } else { self.at };
        let m = self.step.gather_pixels(&self.pixels, i0..i0 + self.batch);
        self.step
            .step(m, &self.labels[i0..i0 + self.batch], &STEP_PARAMS);
        self.at = i0 + self.batch;
        black_box(&self.step);
    }
}

/// The weight update of the trainer's batch-10 step on its own, as [`SmallBatchStep`] runs it:
/// `W^T (784 x 30, rows padded to 32 floats, 64-byte aligned) <- decay*W^T - (eta/10) X^T delta`
/// (beta = decay, so W is read and written, unlike a plain product), over the whole padded rows
/// as the step runs it (see [`crate::nn::small_batch`]).
pub struct UpdateCase {
    /// X (10 x 784), delta (10 x 32) and W^T (784 x 32), placed ([`Placed`]) 1 KiB apart
    /// modulo 4 KiB, each on a 64-byte boundary (W's rows then lie on lines, as the step's do).
    xdw: Placed,
}

impl UpdateCase {
    const N_IN: usize = 784;
    /// 30 live columns padded to 32.
    const STRIDE: usize = 32;
    const BATCH: usize = 10;

    pub fn new() -> UpdateCase {
        let lens = [
            Self::BATCH * Self::N_IN,
            Self::BATCH * Self::STRIDE,
            Self::N_IN * Self::STRIDE,
        ];
        let mut xdw = Placed::new(&std::array::from_fn::<Slot, 3, _>(|i| Slot {
            len: lens[i],
            page_offset_bytes: GEMM_PAGE_OFFSETS[i],
        }));
        for (i, seed) in [1, 2, 3].into_iter().enumerate() {
            xdw.get_mut(i).copy_from_slice(&fixed_vec(lens[i], seed));
        }
        UpdateCase { xdw }
    }

    /// One update.
    pub fn run(&mut self, g: &Gemm) {
        let (n_in, rs, k) = (Self::N_IN, Self::STRIDE, Self::BATCH);
        let decay = 1.0 - STEP_PARAMS.eta * STEP_PARAMS.lambda / STEP_PARAMS.train_size as f32;
        let [x, delta, w] = self.xdw.parts::<3>();
        g.gemm(
            -STEP_PARAMS.eta / k as f32,
            MatRef::row_major(x, k, n_in).expect("sized above").t(),
            MatRef::new(delta, k, rs, rs, 1).expect("sized above"),
            decay,
            MatMut::new(w, n_in, rs, rs, 1).expect("sized above"),
        )
        .expect("shapes agree");
        black_box(self.xdw.get(2));
    }
}

impl Default for UpdateCase {
    fn default() -> Self {
        UpdateCase::new()
    }
}

/// The fused bias + activation pass over a `rows x cols` layer output (sigmoid, with its
/// derivative written beside it), as the forward pass runs it.
pub struct BiasActCase {
    /// The pre-activations (overwritten each pass), the bias, the derivative and the
    /// pre-activations' starting values, placed ([`Placed`]) 1 KiB apart modulo 4 KiB.
    zbds: Placed,
}

impl BiasActCase {
    pub fn new(rows: usize, cols: usize) -> BiasActCase {
        let lens = [rows * cols, cols, rows * cols, rows * cols];
        let mut zbds = Placed::new(&std::array::from_fn::<Slot, 4, _>(|i| Slot {
            len: lens[i],
            page_offset_bytes: 1024 * i,
        }));
        let start: Vec<f32> = fixed_vec(rows * cols, 5)
            .into_iter()
            .map(|v| v * 8.0)
            .collect();
        zbds.get_mut(1).copy_from_slice(&fixed_vec(cols, 6));
        zbds.get_mut(3).copy_from_slice(&start);
        BiasActCase { zbds }
    }

    /// One pass (on a fresh copy of the pre-activations, so every pass sees the same inputs).
    pub fn run(&mut self, k: &ActivationKernels) {
        let [z, bias, deriv, start] = self.zbds.parts::<4>();
        z.copy_from_slice(start);
        k.bias_activation(Activation::Sigmoid, z, bias, deriv)
            .expect("sized above");
        black_box(self.zbds.get(2));
    }
}

/// Makes the calling thread the only thread of rayon's global pool, before any workload is
/// built. Every workload runs on one thread, but `Gemm::new` asks rayon for its thread count,
/// which would start the pool and one worker thread beside this one. Under cachegrind that
/// idle worker's start-up and spinning are counted with the workload, and how long it spins
/// depends on how the host schedules valgrind: two builds of one program measured +0.19 %
/// instructions apart in the gate when their count runs shared the machine, and 0.00 % alone.
/// Workers of the paired timing take the same pool, so what is timed is what is counted.
/// For the worker processes (`perf-worker`, `perf-workload`) only: a test process's threads
/// need rayon's usual pool.
pub fn single_thread_pool() {
    // An error means the pool exists already (a second call): nothing to do.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .use_current_thread()
        .build_global();
}

/// One iteration of a built workload.
pub type Iteration = Box<dyn FnMut()>;

/// One named workload of the paired A/B gate and of the cache-simulated counts: `make` builds
/// it (inputs included) and returns one iteration as a closure.
pub struct Workload {
    pub name: &'static str,
    pub what: &'static str,
    /// Iterations of the two runs whose difference gives the per-iteration counts under
    /// valgrind (large enough to dwarf start-up noise, small enough to stay fast there).
    pub count_iters: (usize, usize),
    make: fn() -> Iteration,
}

impl Workload {
    /// Builds the workload on this build's default kernels (one thread).
    pub fn build(&self) -> Iteration {
        (self.make)()
    }
}

fn engine() -> Engine {
    Engine {
        gemm: Gemm::new().threads(1),
        act: ActivationKernels::new(),
    }
}

fn gemm_workload(m: usize, k: usize, n: usize, at: bool) -> Iteration {
    let g = Gemm::new().threads(1);
    let mut c = GemmCase::new(m, k, n, at);
    Box::new(move || c.ours(&g))
}

/// Every workload the A/B gate times and counts: GEMM squares and the trainer's shapes, the
/// sigmoid kernel, the fused bias + activation pass, a batch-10 SGD step (on dense and on
/// digit-like pixels) and the chapter's full-batch step. Names are stable: the gate pairs them with the base revision's by name.
pub const PAIRED: &[Workload] = &[
    Workload {
        name: "gemm-256",
        what: "SGEMM 256^3",
        count_iters: (1, 2),
        make: || gemm_workload(256, 256, 256, false),
    },
    Workload {
        name: "gemm-512",
        what: "SGEMM 512^3",
        count_iters: (1, 2),
        make: || gemm_workload(512, 512, 512, false),
    },
    Workload {
        name: "gemm-10x784x30",
        what: "SGEMM 10x784x30 (batch-10 forward)",
        count_iters: (10, 40),
        make: || gemm_workload(10, 784, 30, false),
    },
    Workload {
        name: "gemm-784x10x30-at",
        what: "SGEMM 784x10x30, A^T (batch-10 weight update)",
        count_iters: (10, 40),
        make: || gemm_workload(784, 10, 30, true),
    },
    Workload {
        name: "gemm-784x10x30-at-decay",
        what: "the trainer's weight update: 784x10x30 A^T, beta = decay, padded aligned rows",
        count_iters: (10, 40),
        make: || {
            let g = Gemm::new().threads(1);
            let mut c = UpdateCase::new();
            Box::new(move || c.run(&g))
        },
    },
    Workload {
        name: "gemm-1000x784x30",
        what: "SGEMM 1000x784x30 (full-batch forward)",
        count_iters: (1, 2),
        make: || gemm_workload(1000, 784, 30, false),
    },
    Workload {
        name: "gemm-784x1000x30-at",
        what: "SGEMM 784x1000x30, A^T (full-batch weight update)",
        count_iters: (1, 2),
        make: || gemm_workload(784, 1000, 30, true),
    },
    Workload {
        name: "sigmoid-2048",
        what: "sigmoid over 2048 floats",
        count_iters: (20, 220),
        make: || {
            let k = ActivationKernels::new();
            let mut c = SigmoidCase::new(2048);
            Box::new(move || c.ours(&k))
        },
    },
    Workload {
        name: "bias-act-1000x30",
        what: "fused bias + sigmoid + derivative, 1000x30",
        count_iters: (10, 60),
        make: || {
            let k = ActivationKernels::new();
            let mut c = BiasActCase::new(1000, 30);
            Box::new(move || c.run(&k))
        },
    },
    Workload {
        name: "train-slice",
        what: "one SGD step, [784,30,10], batch 10",
        count_iters: (10, 60),
        make: || {
            let e = engine();
            let mut c = StepCase::new(&[784, 30, 10], 10);
            Box::new(move || c.step(&e))
        },
    },
    Workload {
        name: "small-batch-step",
        what: "the trainer's step: gather + SmallBatchStep, [784,30,10], batch 10",
        count_iters: (10, 60),
        make: || {
            let e = engine();
            let mut c = SmallBatchCase::new(&[784, 30, 10], 10, &e);
            Box::new(move || c.step())
        },
    },
    Workload {
        name: "small-batch-step-digits",
        what: "the trainer's step on digit-like images (blank positions skipped), [784,30,10]",
        count_iters: (10, 60),
        make: || {
            let e = engine();
            let mut c = SmallBatchCase::digits(&[784, 30, 10], 10, &e);
            Box::new(move || c.step())
        },
    },
    Workload {
        name: "full-batch-step",
        what: "one full-batch step, [784,30,30,30,30,10], 1000 examples",
        count_iters: (1, 2),
        make: || {
            let e = engine();
            let mut c = StepCase::new(&[784, 30, 30, 30, 30, 10], 1000);
            Box::new(move || c.step(&e))
        },
    },
];

/// The workload called `name`.
pub fn workload(name: &str) -> Option<&'static Workload> {
    PAIRED.iter().find(|w| w.name == name)
}

#[cfg(test)]
mod tests {
    use super::{plain_sigmoid, SigmoidCase};

    /// The sigmoid workload's layout: input and output on 64-byte boundaries, the output 2 KiB
    /// on from the input modulo 4 KiB, apart (no overlap) and inside the buffer, at every length
    /// (including ones that are not a whole number of pages or vectors).
    #[test]
    fn sigmoid_case_layout_is_aligned_and_2k_apart() {
        for n in [1, 15, 16, 1000, 1024, 2048, 3000, 4096, 6144] {
            let mut c = SigmoidCase::new(n);
            let (x, y) = c.split();
            let (xp, yp) = (x.as_ptr() as usize, y.as_ptr() as usize);
            assert_eq!((x.len(), y.len()), (n, n), "n = {n}");
            assert_eq!(xp % 64, 0, "input alignment, n = {n}");
            assert_eq!(yp % 64, 0, "output alignment, n = {n}");
            assert_eq!((yp - xp) % 4096, 2048, "distance mod 4 KiB, n = {n}");
            assert!(yp >= xp + 4 * n, "overlap, n = {n}");
        }
    }

    /// The gate's timing reference computes a sigmoid (so it costs what one costs): within
    /// 2e-6 of the f64 value over the gate's input range and beyond, monotone, and saturating.
    #[test]
    fn plain_sigmoid_is_a_sigmoid() {
        let mut last = 0.0f32;
        for i in 0..=200_000 {
            let v = -50.0 + i as f32 * 5e-4;
            let s = plain_sigmoid(v);
            let exact = 1.0 / (1.0 + (-(v as f64)).exp());
            assert!(
                (s as f64 - exact).abs() <= 2e-6 * exact,
                "v {v}: {s} vs {exact}"
            );
            assert!(s >= last, "not monotone at {v}");
            last = s;
        }
        assert_eq!(plain_sigmoid(200.0), 1.0);
        assert!(plain_sigmoid(-200.0) < 1e-34);
    }
}
