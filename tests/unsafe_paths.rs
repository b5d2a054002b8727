//! The unsafe code's paths on shapes small enough for Miri: the scalar GEMM kernel, packing and
//! the driver's pointer arithmetic (tiny blockings so every block loop and edge runs), the
//! rank-k path, the trainer's row split across threads and the small-batch step's aligned
//! copy. They run in the normal suite too (same assertions, against independent references);
//! `cargo +nightly miri test --test unsafe_paths` runs them under Miri, where the portable
//! scalar family is what runs (Miri reports no SIMD features), so what Miri checks is the
//! scalar kernels, packing, the driver, the threads' row splitting and every pointer the safe
//! API builds; the SIMD kernels' own pointer use is covered by tests/guard.rs (guard pages)
//! and the ASan run (README, "Checked unsafe code").

mod common;

use common::{assert_close, reference, rng, Layout, Strided};
use vanishing::gemm::{Blocking, Gemm};
use vanishing::isa::Isa;
use vanishing::nn::batched::{Engine, SgdParams, Workspace};
use vanishing::nn::{Activation, Cost, Init, Network};

const GUARD: f32 = -7.25;

fn run(g: &Gemm, (m, k, n): (usize, usize, usize), layouts: [Layout; 3], alpha: f32, beta: f32) {
    let mut r = rng((m * 1000 + k * 10 + n) as u64);
    let mut a = Strided::new(m, k, layouts[0], 0.0);
    let mut b = Strided::new(k, n, layouts[1], 0.0);
    let mut c = Strided::new(m, n, layouts[2], GUARD);
    a.fill_random(&mut r);
    b.fill_random(&mut r);
    c.fill_random(&mut r);
    let (expect, mag) = reference(alpha, &a, &b, beta, &c);
    // SAFETY: each buffer holds every cell its strides reach; C is a buffer of its own.
    unsafe {
        g.sgemm(
            m,
            k,
            n,
            alpha,
            a.ptr(),
            a.rs as isize,
            a.cs as isize,
            b.ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.mut_ptr(),
            c.rs as isize,
            c.cs as isize,
        );
    }
    let what = format!(
        "{} {m}x{k}x{n} {layouts:?} alpha {alpha} beta {beta}",
        g.kernel_name()
    );
    assert_close(&what, &c, k, &expect, &mag, GUARD);
}

#[test]
fn scalar_gemm_through_packing_and_every_block_edge() {
    let (mr, nr) = Gemm::with_isa(Isa::Scalar).tile();
    // Blocks of two tiles and a depth of 3: a 13x7x19 product crosses every mc, kc and nc
    // boundary, with ragged edges in each.
    let tiny = Blocking {
        mc: 2 * mr,
        kc: 3,
        nc: 2 * nr,
    };
    for threads in [1, 2] {
        let g = Gemm::with_isa(Isa::Scalar).threads(threads).blocking(tiny);
        for shape in [(13, 7, 19), (1, 5, 1), (6, 1, 33), (4, 9, 3)] {
            for layouts in [
                [Layout::RowMajor, Layout::RowMajor, Layout::RowMajor],
                [Layout::ColMajor, Layout::General, Layout::Padded],
            ] {
                run(&g, shape, layouts, 0.75, 0.5);
                run(&g, shape, layouts, 1.0, 0.0);
            }
        }
    }
}

#[test]
fn rank_k_update_path_on_the_trainers_layout() {
    // k <= 16 with A read by columns and C rows a cache line apart or more: the rank-k kernel.
    let g = Gemm::with_isa(Isa::Scalar).threads(1);
    assert!(
        g.rank_k_name().is_some(),
        "the scalar family has a rank-k kernel"
    );
    for shape in [(9, 4, 21), (3, 16, 17), (1, 1, 1)] {
        run(
            &g,
            shape,
            [Layout::ColMajor, Layout::RowMajor, Layout::Lines],
            0.5,
            0.9,
        );
    }
}

fn train_steps(threads: usize, rows: usize) -> Network {
    common::with_threads(threads, || {
        let e = Engine {
            gemm: Gemm::with_isa(Isa::Scalar),
            ..Engine::new()
        };
        let sizes = [6, 4, 3];
        let mut net = Network::new(&sizes, Activation::Sigmoid, Init::Default, 2).unwrap();
        let mut ws = Workspace::new(&net, rows);
        let mut r = rng(5);
        let x = common::random_vec(&mut r, rows * sizes[0]);
        let y: Vec<u8> = (0..rows).map(|i| (i % 3) as u8).collect();
        for _ in 0..2 {
            ws.x.copy_from_slice(&x);
            e.sgd_step(
                &mut net,
                &mut ws,
                rows,
                &y,
                &SgdParams {
                    cost: Cost::CrossEntropy,
                    eta: 0.5,
                    lambda: 1.0,
                    train_size: 1000,
                },
            );
        }
        net
    })
}

#[test]
fn trainer_rows_split_across_threads_give_the_same_bits() {
    // 300 rows: at least two row blocks of 128, so two threads split the batch.
    let one = train_steps(1, 300);
    let two = train_steps(2, 300);
    for (a, b) in one.weights_t.iter().zip(&two.weights_t) {
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
    for (a, b) in one.biases.iter().zip(&two.biases) {
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

#[test]
fn small_batch_step_aligned_copy_matches_the_general_step() {
    use vanishing::nn::small_batch::SmallBatchStep;
    let e = Engine {
        gemm: Gemm::with_isa(Isa::Scalar),
        act: vanishing::activation::ActivationKernels::for_isa(Isa::Scalar),
    };
    let sizes = [18, 5, 3];
    let mut general = Network::new(&sizes, Activation::Tanh, Init::Default, 4).unwrap();
    let mut small = SmallBatchStep::new(&general, &e, 4);
    let mut ws = Workspace::new(&general, 4);
    let pixels: Vec<u8> = (0..10 * 18).map(|i| (i * 37 % 256) as u8).collect();
    let labels_all: Vec<u8> = (0..10).map(|i| (i % 3) as u8).collect();
    let p = SgdParams {
        cost: Cost::Quadratic,
        eta: 0.3,
        lambda: 0.5,
        train_size: 10,
    };
    for s in 0..3 {
        let idx: Vec<usize> = (0..4 - s % 2).map(|i| (s * 3 + i * 2) % 10).collect();
        let labels: Vec<u8> = idx.iter().map(|&i| labels_all[i]).collect();
        let m = e.gather_pixels(&mut ws, &pixels, 18, idx.iter().copied());
        e.sgd_step(&mut general, &mut ws, m, &labels, &p);
        let m2 = small.gather_pixels(&pixels, idx.iter().copied());
        small.step(m2, &labels, &p);
    }
    let mut out = general.clone();
    small.store(&mut out);
    for (a, b) in out
        .weights_t
        .iter()
        .flatten()
        .zip(general.weights_t.iter().flatten())
    {
        assert_eq!(a.to_bits(), b.to_bits());
    }
}
