//! SGEMM against an f64 reference and against matrixmultiply, on every ISA this CPU has.

mod common;

use common::*;
use proptest::prelude::*;
use vanishing::error::Error;
use vanishing::gemm::{reference_cell, Blocking, Gemm, MatMut, MatRef};
use vanishing::kernels::GemmKernel;

/// Tile heights (6, and 12 for AVX-512 12x32) and widths (16 scalar/AVX2, 32 AVX-512) most
/// kernels share: edge dims sit around all of them, and around each kernel's own tile.
const MR: usize = 6;
const MR2: usize = 12;
const NR: usize = 16;
const NR2: usize = 32;

/// Every microkernel this CPU can run, each one tested whatever the default picks.
/// (Prints the families skipped; fails where `VANISHING_REQUIRE_ISA` names a missing one.)
fn kernels() -> Vec<GemmKernel> {
    common::gemm_kernels()
}

/// A sentinel with a payload no computation produces, so stray writes are caught bit-exactly.
const GUARD_BITS: f32 = f32::from_bits(0x7fc0_1234);

#[allow(clippy::too_many_arguments)]
fn run_case(
    g: &Gemm,
    m: usize,
    k: usize,
    n: usize,
    la: Layout,
    lb: Layout,
    lc: Layout,
    alpha: f32,
    beta: f32,
    seed: u64,
) {
    let mut r = rng(seed);
    let mut a = Strided::new(m, k, la, 0.0);
    let mut b = Strided::new(k, n, lb, 0.0);
    a.fill_random(&mut r);
    b.fill_random(&mut r);
    // With beta == 0 the cells of C hold NaN: none of it may reach the result.
    let mut c = Strided::new(m, n, lc, GUARD_BITS);
    if beta != 0.0 {
        c.fill_random(&mut r);
    } else {
        for i in 0..m {
            for j in 0..n {
                c.set(i, j, f32::NAN);
            }
        }
    }
    let (expect, mag) = reference(alpha, &a, &b, beta, &c);
    let exact = exact_result(alpha, &a, &b, beta, &c);
    // SAFETY: the buffers hold every cell the strides reach; C is a distinct buffer.
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
        )
    };
    let what = format!(
        "{} m={m} k={k} n={n} {la:?}/{lb:?}/{lc:?} alpha={alpha} beta={beta}",
        g.kernel_name()
    );
    assert_close(&what, &c, k, &expect, &mag, GUARD_BITS);
    assert_bits(&what, &c, &exact);
}

/// Every cell as the contract's recurrence gives it ([`reference_cell`]), row-major.
fn exact_result(alpha: f32, a: &Strided, b: &Strided, beta: f32, c: &Strided) -> Vec<f32> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut out = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            let terms = (0..k).map(|p| (a.get(i, p), b.get(p, j)));
            out.push(reference_cell(alpha, terms, beta, c.get(i, j)));
        }
    }
    out
}

/// Every cell of `c` holds exactly the bits of `exact`.
fn assert_bits(what: &str, c: &Strided, exact: &[f32]) {
    for i in 0..c.rows {
        for j in 0..c.cols {
            let (got, want) = (c.get(i, j), exact[i * c.cols + j]);
            assert!(
                got.to_bits() == want.to_bits(),
                "{what}: C[{i},{j}] = {got:e} ({:#x}), the fixed-order sum is {want:e} ({:#x})",
                got.to_bits(),
                want.to_bits()
            );
        }
    }
}

/// Sizes around every tile edge the kernels have in common, and around `kern`'s own tile (its
/// height and width, one past them, and two tiles and a bit).
fn edge_dims(kern: &GemmKernel) -> Vec<usize> {
    let (mr, nr) = (kern.mr, kern.nr);
    let mut v = vec![
        mr - 1,
        mr,
        mr + 1,
        2 * mr + 1,
        nr - 1,
        nr,
        nr + 1,
        2 * nr + 3,
        0,
        1,
        2,
        3,
        5,
        9,
        MR - 1,
        MR,
        MR + 1,
        NR - 1,
        NR,
        NR + 1,
        2 * MR + 1,
        MR2 - 1,
        MR2,
        MR2 + 1,
        NR2 - 1,
        NR2,
        NR2 + 1,
        2 * NR2 + 3,
        37,
    ];
    v.sort();
    v.dedup();
    v
}

#[test]
fn shape_grid_row_major_every_kernel() {
    for kern in kernels() {
        let g = Gemm::with_kernel(kern).threads(1);
        let dims = edge_dims(&kern);
        let mut seed = 0;
        for &m in &dims {
            for &k in &dims {
                for &n in &dims {
                    seed += 1;
                    let (alpha, beta) =
                        [(1.0, 0.0), (-0.7, 1.0), (2.5, 0.3), (0.0, 0.3)][seed as usize % 4];
                    run_case(
                        &g,
                        m,
                        k,
                        n,
                        Layout::RowMajor,
                        Layout::RowMajor,
                        Layout::RowMajor,
                        alpha,
                        beta,
                        seed,
                    );
                }
            }
        }
    }
}

#[test]
fn every_layout_alpha_beta_every_kernel() {
    let shapes = [
        (1, 1, 1),
        (5, 3, 9),
        (MR + 1, 17, NR - 1),
        (13, 29, 35),
        (2 * MR, 9, 2 * NR2 + 1),
        (MR2 + 1, 11, NR2 + 3),
        (3 * MR2 - 1, 5, 7),
        (31, 1, 3),
        (25, 7, NR2),
        (17, 6, 53),
        (9, 5, 25),
    ];
    for kern in kernels() {
        let g = Gemm::with_kernel(kern).threads(1);
        let mut seed = 1000;
        for &(m, k, n) in &shapes {
            for la in LAYOUTS {
                for lb in LAYOUTS {
                    for lc in LAYOUTS {
                        for alpha in [1.0, 0.0, -0.7, 2.5] {
                            for beta in [0.0, 1.0, 0.3] {
                                seed += 1;
                                run_case(&g, m, k, n, la, lb, lc, alpha, beta, seed);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn around_the_cache_blocks_every_kernel() {
    for kern in kernels() {
        let g = Gemm::with_kernel(kern).threads(1);
        let blk = g.block_sizes();
        let mut seed = 5000;
        // Each shape crosses one block boundary (+-1) while the others stay small.
        let cases = [
            (blk.mc - 1, 20, 17),
            (blk.mc, 7, 33),
            (blk.mc + 1, 19, 18),
            (7, blk.kc - 1, 19),
            (25, blk.kc, 17),
            (26, blk.kc + 1, 33),
            (24, 2 * blk.kc + 3, 5),
            (5, 9, blk.nc - 1),
            (25, 3, blk.nc + 1),
        ];
        for &(m, k, n) in &cases {
            for (la, lb, lc) in [
                (Layout::RowMajor, Layout::RowMajor, Layout::RowMajor),
                (Layout::ColMajor, Layout::Padded, Layout::ColMajor),
                (Layout::General, Layout::ColMajor, Layout::Padded),
            ] {
                seed += 1;
                run_case(&g, m, k, n, la, lb, lc, 1.3, 0.3, seed);
                run_case(&g, m, k, n, la, lb, lc, -0.7, 0.0, seed);
            }
        }
    }
}

#[test]
fn small_blocking_forces_every_loop_to_iterate() {
    // Tiny blocks make a modest problem cross many mc/kc/nc boundaries on both code paths.
    let blk = Blocking {
        mc: 2 * MR,
        kc: 8,
        nc: 2 * NR2,
    };
    for kern in kernels() {
        let g = Gemm::with_kernel(kern).threads(1).blocking(blk);
        for (s, &(m, k, n)) in [(61, 67, 71), (97, 33, 47), (7, 50, 100), (100, 41, 7)]
            .iter()
            .enumerate()
        {
            for (la, lb, lc) in [
                (Layout::RowMajor, Layout::RowMajor, Layout::RowMajor),
                (Layout::ColMajor, Layout::General, Layout::RowMajor),
                (Layout::Padded, Layout::RowMajor, Layout::ColMajor),
            ] {
                run_case(&g, m, k, n, la, lb, lc, 0.9, 0.5, 7000 + s as u64);
                run_case(&g, m, k, n, la, lb, lc, 1.0, 0.0, 7100 + s as u64);
            }
        }
    }
}

#[test]
fn large_shapes_and_primes_every_kernel() {
    for kern in kernels() {
        let g = Gemm::with_kernel(kern);
        for (s, &(m, k, n)) in [
            (257, 263, 269),
            (500, 301, 130),
            (10, 784, 30),
            (784, 10, 30),
            (128, 1000, 64),
        ]
        .iter()
        .enumerate()
        {
            run_case(
                &g,
                m,
                k,
                n,
                Layout::RowMajor,
                Layout::ColMajor,
                Layout::RowMajor,
                1.0,
                0.0,
                9000 + s as u64,
            );
            run_case(
                &g,
                m,
                k,
                n,
                Layout::ColMajor,
                Layout::RowMajor,
                Layout::Padded,
                0.5,
                1.0,
                9100 + s as u64,
            );
        }
    }
}

#[test]
fn identity_products_are_exact() {
    for kern in kernels() {
        let g = Gemm::with_kernel(kern).threads(1);
        for &n in &[1usize, 6, 16, 17, 40] {
            let mut r = rng(n as u64);
            let x = random_vec(&mut r, n * n);
            let mut eye = vec![0.0f32; n * n];
            for i in 0..n {
                eye[i * n + i] = 1.0;
            }
            let mut c = vec![f32::NAN; n * n];
            g.gemm(
                1.0,
                MatRef::row_major(&x, n, n).unwrap(),
                MatRef::row_major(&eye, n, n).unwrap(),
                0.0,
                MatMut::row_major(&mut c, n, n).unwrap(),
            )
            .unwrap();
            assert_eq!(c, x, "{} X*I != X for n={n}", g.kernel_name());
            g.gemm(
                1.0,
                MatRef::row_major(&eye, n, n).unwrap(),
                MatRef::row_major(&x, n, n).unwrap(),
                0.0,
                MatMut::row_major(&mut c, n, n).unwrap(),
            )
            .unwrap();
            assert_eq!(c, x, "{} I*X != X for n={n}", g.kernel_name());
        }
    }
}

#[test]
fn k_zero_scales_c_and_alpha_zero_ignores_a_and_b() {
    for kern in kernels() {
        let g = Gemm::with_kernel(kern);
        let mut c = vec![2.0f32; 6];
        let empty: [f32; 0] = [];
        g.gemm(
            1.0,
            MatRef::row_major(&empty, 2, 0).unwrap(),
            MatRef::row_major(&empty, 0, 3).unwrap(),
            0.5,
            MatMut::row_major(&mut c, 2, 3).unwrap(),
        )
        .unwrap();
        assert_eq!(c, vec![1.0; 6]);
        let mut c = vec![f32::NAN; 6];
        g.gemm(
            1.0,
            MatRef::row_major(&empty, 2, 0).unwrap(),
            MatRef::row_major(&empty, 0, 3).unwrap(),
            0.0,
            MatMut::row_major(&mut c, 2, 3).unwrap(),
        )
        .unwrap();
        assert_eq!(c, vec![0.0; 6], "beta = 0 must not read C");
        // alpha == 0: A and B are not referenced (NaN there does not propagate).
        let a = vec![f32::NAN; 4];
        let mut c = vec![3.0f32; 4];
        g.gemm(
            0.0,
            MatRef::row_major(&a, 2, 2).unwrap(),
            MatRef::row_major(&a, 2, 2).unwrap(),
            2.0,
            MatMut::row_major(&mut c, 2, 2).unwrap(),
        )
        .unwrap();
        assert_eq!(c, vec![6.0; 4]);
    }
}

#[test]
fn negative_strides_match_the_reference() {
    // matrixmultiply accepts negative strides; so do we. Walk A backwards through a buffer.
    let (m, k, n) = (13, 21, 19);
    let mut r = rng(77);
    let a = random_vec(&mut r, m * k);
    let b = random_vec(&mut r, k * n);
    for kern in kernels() {
        let g = Gemm::with_kernel(kern).threads(1);
        let mut ours = vec![0.0f32; m * n];
        let mut oracle = vec![0.0f32; m * n];
        // A reversed rows: row i of the view is row m-1-i of the buffer.
        unsafe {
            let a_last = a.as_ptr().add((m - 1) * k);
            g.sgemm(
                m,
                k,
                n,
                1.0,
                a_last,
                -(k as isize),
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                ours.as_mut_ptr(),
                n as isize,
                1,
            );
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a_last,
                -(k as isize),
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                oracle.as_mut_ptr(),
                n as isize,
                1,
            );
        }
        for (x, y) in ours.iter().zip(&oracle) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }
}

#[test]
fn agrees_with_matrixmultiply_on_trainer_and_square_shapes() {
    let shapes = [
        (10, 784, 30),
        (10, 30, 10),
        (1000, 784, 30),
        (1000, 30, 30),
        (100, 784, 100),
        (256, 256, 256),
        (300, 200, 500),
    ];
    for kern in kernels() {
        let g = Gemm::with_kernel(kern);
        for (s, &(m, k, n)) in shapes.iter().enumerate() {
            let mut r = rng(400 + s as u64);
            let a = random_vec(&mut r, m * k);
            let b = random_vec(&mut r, k * n);
            let c0 = random_vec(&mut r, m * n);
            let (mut ours, mut oracle) = (c0.clone(), c0.clone());
            // A as a transposed view (k x m storage), B row-major, C row-major.
            unsafe {
                g.sgemm(
                    m,
                    k,
                    n,
                    0.5,
                    a.as_ptr(),
                    1,
                    m as isize,
                    b.as_ptr(),
                    n as isize,
                    1,
                    0.25,
                    ours.as_mut_ptr(),
                    n as isize,
                    1,
                );
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    0.5,
                    a.as_ptr(),
                    1,
                    m as isize,
                    b.as_ptr(),
                    n as isize,
                    1,
                    0.25,
                    oracle.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
            let tol = 2.0 * (k as f32 + 4.0) * f32::EPSILON;
            for (i, (x, y)) in ours.iter().zip(&oracle).enumerate() {
                // Both are within k*eps*|a||b| of the truth (|a|,|b| <= 1), so within twice that of each other.
                assert!(
                    (x - y).abs() <= tol * (0.5 * k as f32 + 1.0),
                    "{} {m}x{k}x{n} cell {i}: {x} vs {y}",
                    g.kernel_name()
                );
            }
        }
    }
}

#[test]
fn every_kernel_gives_the_same_bits_with_its_default_blocking() {
    // Each sums every cell in k order with fused multiply-adds, whatever its tile and blocking.
    let all = kernels();
    if all.len() < 2 {
        println!("skipped: only {} kernel on this CPU", all.len());
        return;
    }
    for (s, &(m, k, n)) in [
        (37, 300, 99),
        (10, 784, 30),
        (784, 10, 30),
        (300, 1200, 500),
    ]
    .iter()
    .enumerate()
    {
        let mut r = rng(800 + s as u64);
        let a = random_vec(&mut r, m * k);
        let b = random_vec(&mut r, k * n);
        let c0 = random_vec(&mut r, m * n);
        let run = |kern: GemmKernel| {
            let mut c = c0.clone();
            Gemm::with_kernel(kern)
                .gemm(
                    0.9,
                    MatRef::row_major(&a, m, k).unwrap(),
                    MatRef::row_major(&b, k, n).unwrap(),
                    0.4,
                    MatMut::row_major(&mut c, m, n).unwrap(),
                )
                .unwrap();
            c
        };
        let first = run(all[0]);
        for &kern in &all[1..] {
            let other = run(kern);
            assert!(
                first
                    .iter()
                    .zip(&other)
                    .all(|(p, q)| p.to_bits() == q.to_bits()),
                "{m}x{k}x{n}: {} and {} differ",
                all[0].name,
                kern.name
            );
        }
    }
}

#[test]
fn bit_identical_for_one_two_three_threads() {
    let shapes = [
        (300, 200, 500),
        (1000, 784, 30),
        (37, 300, 999),
        (512, 512, 512),
        (100, 784, 100),
    ];
    for kern in kernels() {
        for (s, &(m, k, n)) in shapes.iter().enumerate() {
            let mut r = rng(600 + s as u64);
            let a = random_vec(&mut r, m * k);
            let b = random_vec(&mut r, k * n);
            let c0 = random_vec(&mut r, m * n);
            let run = |threads: usize| {
                let mut c = c0.clone();
                common::with_threads(threads, || {
                    let g = Gemm::with_kernel(kern).threads(threads);
                    g.gemm(
                        1.1,
                        MatRef::row_major(&a, m, k).unwrap(),
                        MatRef::row_major(&b, k, n).unwrap(),
                        0.7,
                        MatMut::row_major(&mut c, m, n).unwrap(),
                    )
                    .unwrap();
                });
                c
            };
            let one = run(1);
            for t in [2, 3] {
                let other = run(t);
                assert!(
                    one.iter()
                        .zip(&other)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{} {m}x{k}x{n}: {t} threads differ from 1",
                    kern.name
                );
            }
        }
    }
}

#[test]
fn safe_api_reports_shape_errors() {
    let a = vec![0.0f32; 6];
    let b = vec![0.0f32; 12];
    let mut c = vec![0.0f32; 8];
    let e = vanishing::gemm::gemm(
        1.0,
        MatRef::row_major(&a, 2, 3).unwrap(),
        MatRef::row_major(&b, 4, 3).unwrap(),
        0.0,
        MatMut::row_major(&mut c, 2, 3).unwrap(),
    );
    assert!(
        matches!(
            e,
            Err(Error::ShapeMismatch {
                left: (2, 3),
                right: (4, 3),
                ..
            })
        ),
        "{e:?}"
    );
    let e = vanishing::gemm::gemm(
        1.0,
        MatRef::row_major(&a, 2, 3).unwrap(),
        MatRef::row_major(&b, 3, 4).unwrap(),
        0.0,
        MatMut::row_major(&mut c, 2, 3).unwrap(),
    );
    assert!(
        matches!(
            e,
            Err(Error::ShapeMismatch {
                left: (2, 4),
                right: (2, 3),
                ..
            })
        ),
        "{e:?}"
    );
    assert!(e.unwrap_err().to_string().contains("C must be"));
    assert!(matches!(
        MatRef::row_major(&a, 3, 3),
        Err(Error::BufferTooSmall {
            needed: 9,
            len: 6,
            ..
        })
    ));
    assert!(matches!(
        MatRef::new(&a, 2, 2, 4, 2),
        Err(Error::BufferTooSmall { .. })
    ));
    assert!(matches!(
        MatMut::new(&mut c, 2, 3, 1, 1),
        Err(Error::OverlappingView { .. })
    ));
    assert!(MatRef::new(&a, 2, 3, 1, 2).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]
    #[test]
    fn random_shapes_and_strides(m in 0usize..40, k in 0usize..70, n in 0usize..50,
                                 la in 0usize..4, lb in 0usize..4, lc in 0usize..4,
                                 ab in 0usize..12, seed in 0u64..1000) {
        let alpha = [1.0, 0.0, -0.7, 2.5][ab % 4];
        let beta = [0.0, 1.0, 0.3][ab / 4];
        for kern in kernels() {
            run_case(&Gemm::with_kernel(kern).threads(1), m, k, n, LAYOUTS[la], LAYOUTS[lb], LAYOUTS[lc], alpha, beta, seed);
        }
    }
}

/// The rank-k update kernels (`W <- beta*W + alpha * X^T D` for depths up to 16: the SGD weight
/// update, which the driver sends to them when A is read by columns and B and C by rows) give
/// the contract's bits on an edge grid of every family: every depth, row counts around the
/// unroll, widths around every vector and chunk width (ragged chunks), padded row strides
/// (whose gaps must keep their guard bits), beta = 0 (C holds NaN and must not be read) and
/// beta != 0. (Row-packed C with beta != 0 runs on the microkernel: the same bits again.)
#[test]
fn rank_k_kernels_give_the_contract_bits_every_family() {
    let mut cases = 0;
    for isa in families() {
        let g = Gemm::with_isa(isa).threads(1);
        assert!(
            g.rank_k_name().is_some_and(|n| n.ends_with(isa.name())),
            "{isa:?} has a rank-k kernel in its default plan"
        );
        for k in 1..=vanishing::kernels::rank_k::MAX_RANK_K {
            // 6: whole 3-row blocks of AVX-512's streamed form; 113-240: past its 112 columns.
            for m in [1, 2, 5, 6, 17, 40] {
                for n in [
                    1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 49, 100, 113, 130, 240,
                ] {
                    // Beta = 0 runs on the rank-k kernel on every layout; beta != 0 on rows a
                    // line apart (Lines), which the driver sends to it (see rank_k_form).
                    for (lb, lc) in [
                        (Layout::RowMajor, Layout::RowMajor),
                        (Layout::Padded, Layout::Padded),
                        (Layout::Lines, Layout::Lines),
                    ] {
                        for (alpha, beta) in [(1.0, 0.0), (-0.37, 0.75)] {
                            let seed = (k * 1000 + m * 100 + n) as u64;
                            run_case(&g, m, k, n, Layout::ColMajor, lb, lc, alpha, beta, seed);
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    println!("{cases} rank-k cases");
}

/// The rank-k path and the microkernel path give the same bits on the trainer's update shapes
/// (784x10x30, 784x10x100, 30x10x10, 100x10x10), whichever the driver picks.
#[test]
fn rank_k_and_microkernel_paths_agree_on_trainer_updates() {
    for isa in families() {
        for (m, k, n) in [(784, 10, 30), (784, 10, 100), (30, 10, 10), (100, 10, 10)] {
            let mut r = rng(7);
            let x = random_vec(&mut r, k * m);
            let d = random_vec(&mut r, k * n);
            // Rows padded to whole lines, as the small-batch step keeps W^T (and as the
            // driver needs for beta != 0 on the rank-k kernel).
            let rs = n.div_ceil(16) * 16;
            let w0 = random_vec(&mut r, m * rs);
            let run = |on: bool| {
                let mut w = w0.clone();
                Gemm::with_isa(isa)
                    .threads(1)
                    .rank_k(on)
                    .gemm(
                        -0.01,
                        MatRef::row_major(&x, k, m).unwrap().t(),
                        MatRef::row_major(&d, k, n).unwrap(),
                        0.9999,
                        MatMut::new(&mut w, m, n, rs, 1).unwrap(),
                    )
                    .unwrap();
                w
            };
            let (a, b) = (run(true), run(false));
            assert!(
                a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
                "{isa:?} {m}x{k}x{n}: rank-k and microkernel differ"
            );
        }
    }
}

/// Cache-line prefetches riding on a product (`gemm_prefetching`: spread over the rank-k
/// kernel's row blocks, else issued before the work) change no bit, whatever the addresses
/// (null, unmapped, the top of the address space, inside the operands) and however many there
/// are (none, fewer than the row blocks, more): on every family, on the rank-k path and on the
/// microkernel path, for beta = 0 and beta != 0.
#[test]
fn prefetched_lines_change_no_bit() {
    let wild: Vec<usize> = (0..500)
        .map(|i| match i % 4 {
            0 => 0,
            1 => usize::MAX - 63,
            2 => 0x7000_0000_0000 + i * 4096,
            _ => i * 64,
        })
        .collect();
    for isa in families() {
        for rank_k in [true, false] {
            let g = Gemm::with_isa(isa).threads(1).rank_k(rank_k);
            for (m, k, n) in [(784, 10, 30), (30, 10, 10), (7, 3, 5), (1, 1, 1)] {
                let mut r = rng(11);
                let x = random_vec(&mut r, k * m);
                let d = random_vec(&mut r, k * n);
                let rs = n.div_ceil(16) * 16;
                let w0 = random_vec(&mut r, m * rs);
                for beta in [0.0, 0.9999] {
                    let run = |lines: &[usize]| {
                        let mut w = w0.clone();
                        g.gemm_prefetching(
                            -0.01,
                            MatRef::row_major(&x, k, m).unwrap().t(),
                            MatRef::row_major(&d, k, n).unwrap(),
                            beta,
                            MatMut::new(&mut w, m, n, rs, 1).unwrap(),
                            lines,
                        )
                        .unwrap();
                        w
                    };
                    let plain = run(&[]);
                    for count in [1, 100, 500] {
                        let with = run(&wild[..count]);
                        assert!(
                            plain
                                .iter()
                                .zip(&with)
                                .all(|(p, q)| p.to_bits() == q.to_bits()),
                            "{isa:?} rank-k {rank_k} {m}x{k}x{n} beta {beta}, {count} lines"
                        );
                    }
                }
            }
        }
    }
}

/// Threads sharing packed B (`share_packed_b_from(0)`: a split by rows with beta 0 packs each
/// block of B once, each thread packing a share of its panels) and the per-thread path
/// (beta != 0 across several kc blocks, where every thread keeps its own saved C) give the
/// contract's bits, with the guard
/// cells intact: problems large enough to be split, blocks small enough that every loop
/// iterates and the panels split unevenly, 2 and 3 threads, every kernel, B packed from rows,
/// from columns (the family's transposing packer) and from neither.
#[test]
fn threads_sharing_packed_b_give_the_contract_bits() {
    let blk = Blocking {
        mc: 2 * MR,
        kc: 32,
        nc: 3 * NR2,
    };
    for kern in kernels() {
        for threads in [2, 3] {
            common::with_threads(threads, || {
                let g = Gemm::with_kernel(kern)
                    .threads(threads)
                    .blocking(blk)
                    .share_packed_b_from(0);
                for (s, &(m, k, n)) in [(300, 150, 100), (250, 100, 170)].iter().enumerate() {
                    assert!(m * k * n >= vanishing::gemm::driver::PAR_MIN_MACS);
                    for lb in [Layout::RowMajor, Layout::ColMajor, Layout::General] {
                        let seed = 7300 + s as u64;
                        run_case(
                            &g,
                            m,
                            k,
                            n,
                            Layout::RowMajor,
                            lb,
                            Layout::RowMajor,
                            1.0,
                            0.0,
                            seed,
                        );
                        run_case(
                            &g,
                            m,
                            k,
                            n,
                            Layout::RowMajor,
                            lb,
                            Layout::Padded,
                            0.9,
                            0.5,
                            seed,
                        );
                    }
                }
            });
        }
    }
}
