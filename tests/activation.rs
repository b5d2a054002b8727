//! Activation kernels against f64 references, on every ISA this CPU has.

mod common;

use rand::RngExt;
use vanishing::activation::{self, Activation, ActivationKernels, ElementFn, ULP_BOUND};
use vanishing::isa::Isa;
use vanishing::kernels::GatherRows;

/// Distance in units in the last place between two finite f32 values (ordered bit patterns).
fn ulp_distance(a: f32, b: f32) -> u64 {
    let key = |x: f32| {
        let i = x.to_bits() as i32;
        (if i < 0 { i32::MIN - i } else { i }) as i64
    };
    (key(a) - key(b)).unsigned_abs()
}

fn reference(f: ElementFn, x: f64) -> f64 {
    match f {
        ElementFn::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        ElementFn::SigmoidPrime => {
            let e = (-x.abs()).exp();
            e / ((1.0 + e) * (1.0 + e))
        }
        ElementFn::Tanh => x.tanh(),
        ElementFn::TanhPrime => {
            let c = x.cosh();
            1.0 / (c * c)
        }
        ElementFn::Relu => x.max(0.0),
        ElementFn::ReluPrime => {
            if x > 0.0 || x.is_nan() {
                1.0
            } else {
                0.0
            }
        }
        ElementFn::Softsign if x.is_infinite() => x.signum(),
        ElementFn::Softsign => x / (1.0 + x.abs()),
        ElementFn::SoftsignPrime => 1.0 / ((1.0 + x.abs()) * (1.0 + x.abs())),
    }
}

/// Checks one output against the contract in `activation`'s docs; returns its ULP error.
fn check(f: ElementFn, x: f32, y: f32, who: &str) -> u64 {
    if x.is_nan() {
        assert!(y.is_nan(), "{who} {f:?}({x}) = {y}, expected NaN");
        return 0;
    }
    let r = reference(f, x as f64);
    let rf = r as f32;
    if r.abs() < f32::MIN_POSITIVE as f64 {
        assert!(y.abs() <= f32::MIN_POSITIVE && (y == 0.0 || y.signum() as f64 == r.signum()),
            "{who} {f:?}({x:e}) = {y:e}, true value {r:e} is subnormal: expected within [0, MIN_POSITIVE]");
        return 0;
    }
    let d = ulp_distance(y, rf);
    assert!(
        d <= ULP_BOUND as u64,
        "{who} {f:?}({x:e}) = {y:e}, reference {r:e}: {d} ULP > {ULP_BOUND}"
    );
    d
}

fn specials() -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        1e-45,
        -1e-45,
        0.625,
        -0.625,
        0.624_999_94,
        17.0,
        17.5,
        88.72,
        -88.72,
        87.336_54,
        -87.336_54,
        -87.336_55,
        -87.4,
        -103.97,
        -104.0,
        9.01,
        -9.01,
        16.635532,
        103.0,
    ];
    for k in -45..=2 {
        let m = 10f32.powi(k);
        v.extend([m, -m, 3.7 * m, -3.7 * m]);
    }
    v
}

fn dense_grid() -> Vec<f32> {
    let n = 400_000;
    let mut v: Vec<f32> = (0..=n)
        .map(|i| -110.0 + 220.0 * i as f32 / n as f32)
        .collect();
    let mut r = common::rng(3);
    v.extend((0..200_000).map(|_| r.random_range(-110.0f32..110.0)));
    v.extend(specials());
    v
}

const ALL: [ElementFn; 8] = ElementFn::ALL;

#[test]
fn within_ulp_bound_on_dense_grid_every_isa() {
    let xs = dense_grid();
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        for f in ALL {
            let mut y = vec![0.0; xs.len()];
            k.apply(f, &xs, &mut y);
            let worst = xs
                .iter()
                .zip(&y)
                .map(|(&x, &y)| check(f, x, y, k.sigmoid_name()))
                .max()
                .unwrap();
            println!("{:?} {f:?}: max {worst} ULP on the dense grid", isa);
        }
    }
}

#[test]
fn special_values() {
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        let x = [
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            0.0,
            -0.0,
            100.0,
            -100.0,
        ];
        let mut y = [0.0; 7];
        k.apply(ElementFn::Sigmoid, &x, &mut y);
        assert_eq!(&y[..2], &[1.0, 0.0], "{isa:?}");
        assert!(y[2].is_nan());
        assert_eq!(&y[3..], &[0.5, 0.5, 1.0, 0.0], "{isa:?}");
        k.apply(ElementFn::Tanh, &x, &mut y);
        assert_eq!(&y[..2], &[1.0, -1.0]);
        assert!(y[2].is_nan());
        assert_eq!(y[3].to_bits(), 0.0f32.to_bits());
        assert_eq!(y[4].to_bits(), (-0.0f32).to_bits());
        k.apply(ElementFn::Relu, &x, &mut y);
        assert_eq!(&y[..2], &[f32::INFINITY, 0.0]);
        assert!(y[2].is_nan());
        // sigma'(30) is about 9.4e-14, not the 0 the textbook formula gives in f32.
        let mut d = [0.0f32; 1];
        k.apply(ElementFn::SigmoidPrime, &[30.0], &mut d);
        assert!(
            d[0] > 9e-14 && d[0] < 1e-13,
            "{isa:?} sigma'(30) = {}",
            d[0]
        );
        let s = 1.0 / (1.0 + (-30.0f32).exp());
        assert_eq!(
            s * (1.0 - s),
            0.0,
            "the textbook form underflows, which is why we avoid it"
        );
    }
}

#[test]
fn outputs_bounded_and_monotone() {
    let mut xs = dense_grid();
    xs.retain(|x| !x.is_nan());
    xs.sort_by(|a, b| a.total_cmp(b));
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        for (f, lo, hi) in [
            (ElementFn::Sigmoid, 0.0, 1.0),
            (ElementFn::Tanh, -1.0, 1.0),
            (ElementFn::Softsign, -1.0, 1.0),
        ] {
            let mut y = vec![0.0; xs.len()];
            k.apply(f, &xs, &mut y);
            for (i, w) in y.windows(2).enumerate() {
                assert!(
                    w[0] <= w[1],
                    "{isa:?} {f:?} not monotone at x = {} -> {}: {} > {}",
                    xs[i],
                    xs[i + 1],
                    w[0],
                    w[1]
                );
            }
            assert!(
                y.iter().all(|&v| (lo..=hi).contains(&v)),
                "{isa:?} {f:?} out of range"
            );
        }
    }
}

#[test]
fn tails_and_in_place_match_scalar_every_isa() {
    let scalar = ActivationKernels::for_isa(Isa::Scalar);
    let mut r = common::rng(11);
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        for len in (0..=33).chain([100, 1000, 4097]) {
            let x: Vec<f32> = (0..len).map(|_| r.random_range(-12.0f32..12.0)).collect();
            for f in ALL {
                let mut y = vec![f32::NAN; len + 3];
                k.apply(f, &x, &mut y[..len]);
                assert!(
                    y[len..].iter().all(|v| v.is_nan()),
                    "{isa:?} {f:?} len {len}: wrote past the end"
                );
                let mut inplace = x.clone();
                k.apply_inplace(f, &mut inplace);
                assert_eq!(
                    &y[..len],
                    &inplace[..],
                    "{isa:?} {f:?} len {len}: in place differs"
                );
                let mut s = vec![0.0; len];
                scalar.apply(f, &x, &mut s);
                for i in 0..len {
                    assert_same_bits(isa, f, x[i], y[i], s[i]);
                }
            }
        }
    }
}

/// The SIMD families peel the first elements up to a cache-line boundary of the input, so
/// every start alignment of input and output takes a different path through the kernel:
/// each must give the scalar bits and write nothing outside the output.
#[test]
fn every_start_alignment_matches_scalar_every_isa() {
    let scalar = ActivationKernels::for_isa(Isa::Scalar);
    let mut r = common::rng(12);
    let src: Vec<f32> = (0..1100).map(|_| r.random_range(-12.0f32..12.0)).collect();
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        for x_off in 0..16 {
            for y_off in [0, 1, 5, 8, 15] {
                // Below ALIGN_PEEL_MIN (512) the kernels do not peel; at and above it they do.
                for len in (0..=40).chain([63, 64, 65, 100, 511, 512, 513, 530, 1000]) {
                    let x = &src[x_off..x_off + len];
                    for f in [ElementFn::Sigmoid, ElementFn::Tanh, ElementFn::ReluPrime] {
                        let mut out = vec![f32::NAN; len + 32];
                        k.apply(f, x, &mut out[y_off..y_off + len]);
                        let outside = out[..y_off].iter().chain(&out[y_off + len..]);
                        assert!(
                            outside.into_iter().all(|v| v.is_nan()),
                            "{isa:?} {f:?} x+{x_off} y+{y_off} len {len}: wrote outside"
                        );
                        let mut s = vec![0.0; len];
                        scalar.apply(f, x, &mut s);
                        for i in 0..len {
                            assert_same_bits(isa, f, x[i], out[y_off + i], s[i]);
                        }
                        let mut inplace = x.to_vec();
                        k.apply_inplace(f, &mut inplace);
                        assert_eq!(&inplace[..], &out[y_off..y_off + len], "{isa:?} {f:?}");
                    }
                }
            }
        }
    }
}

/// Every family follows one method with the same fused multiply-adds, so a result is the same
/// bits on scalar, AVX2 and AVX-512 (NaN in gives some NaN out on each).
fn assert_same_bits(isa: Isa, f: ElementFn, x: f32, got: f32, scalar: f32) {
    assert!(
        got.to_bits() == scalar.to_bits() || (got.is_nan() && scalar.is_nan()),
        "{isa:?} {f:?}({x:e}) = {got:e} ({:#x}) but scalar gives {scalar:e} ({:#x})",
        got.to_bits(),
        scalar.to_bits()
    );
}

#[test]
fn every_family_gives_the_scalar_bits_on_a_dense_sweep() {
    // Every 251st f32 bit pattern (about 17 million inputs: all exponents, signs, both zeros,
    // subnormals, infinities, NaNs), through every function of every family.
    let x: Vec<f32> = (0..=u32::MAX / 251)
        .map(|i| f32::from_bits(i * 251))
        .collect();
    let scalar = ActivationKernels::for_isa(Isa::Scalar);
    for f in ALL {
        let mut want = vec![0.0; x.len()];
        scalar.apply(f, &x, &mut want);
        for isa in common::families().into_iter().filter(|&i| i != Isa::Scalar) {
            let mut got = vec![0.0; x.len()];
            ActivationKernels::for_isa(isa).apply(f, &x, &mut got);
            for ((&xi, &g), &w) in x.iter().zip(&got).zip(&want) {
                assert_same_bits(isa, f, xi, g, w);
            }
        }
    }
    if Isa::available() == [Isa::Scalar] {
        println!("skipped: no SIMD family on this CPU to compare with scalar");
    }
}

/// Every activation of the fused pass.
const ACTIVATIONS: [Activation; 4] = [
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
    Activation::Softsign,
];

/// The strided pass (the small-batch step's padded rows, one call per layer) gives each row
/// the bits of the contiguous pass, on every family and activation, at strides from the
/// column count up; the cells between rows are neither read into a live cell nor written;
/// slices too short for their rows, and rows that would overlap, are refused.
#[test]
fn strided_bias_activation_matches_the_contiguous_rows() {
    let mut r = common::rng(13);
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        for act in ACTIVATIONS {
            for (rows, cols, stride) in [
                (1, 1, 1),
                (10, 30, 32),
                (10, 10, 16),
                (16, 100, 112),
                (3, 17, 17),
                (5, 33, 48),
                (0, 8, 16),
            ] {
                let z: Vec<f32> = (0..rows * stride)
                    .map(|_| r.random_range(-6.0f32..6.0))
                    .collect();
                let b: Vec<f32> = (0..cols).map(|_| r.random_range(-2.0f32..2.0)).collect();
                // Contiguous rows through the plain pass: the expected bits.
                let mut want_a: Vec<f32> = (0..rows)
                    .flat_map(|i| z[i * stride..i * stride + cols].to_vec())
                    .collect();
                let mut want_d = vec![0.0; want_a.len()];
                if rows > 0 {
                    k.bias_activation(act, &mut want_a, &b, &mut want_d)
                        .unwrap();
                }
                let mut a = z.clone();
                let mut d = vec![f32::NAN; z.len()];
                k.bias_activation_strided(act, rows, stride, &mut a, &b, &mut d)
                    .unwrap();
                for i in 0..rows {
                    for j in 0..stride {
                        let (q, what) = (
                            i * stride + j,
                            format!("{isa:?} {act:?} {rows}x{cols}/{stride} [{i},{j}]"),
                        );
                        if j < cols {
                            assert_eq!(
                                a[q].to_bits(),
                                want_a[i * cols + j].to_bits(),
                                "{what} activation"
                            );
                            assert_eq!(
                                d[q].to_bits(),
                                want_d[i * cols + j].to_bits(),
                                "{what} derivative"
                            );
                        } else {
                            assert_eq!(
                                a[q].to_bits(),
                                z[q].to_bits(),
                                "{what}: padding of z written"
                            );
                            assert!(d[q].is_nan(), "{what}: padding of deriv written");
                        }
                    }
                }
            }
        }
        let (mut z, mut d) = (vec![0.0; 40], vec![0.0; 40]);
        let bias = [0.0; 8];
        assert!(k
            .bias_activation_strided(Activation::Sigmoid, 5, 8, &mut z[..39], &bias, &mut d)
            .is_err());
        assert!(k
            .bias_activation_strided(Activation::Sigmoid, 5, 8, &mut z, &bias, &mut d[..39])
            .is_err());
        assert!(k
            .bias_activation_strided(Activation::Sigmoid, 2, 4, &mut z, &bias, &mut d)
            .is_err());
        assert!(k
            .bias_activation_strided(Activation::Sigmoid, 5, 8, &mut z, &bias, &mut d)
            .is_ok());
    }
}

#[test]
fn fused_bias_activation_matches_separate_passes() {
    let mut r = common::rng(12);
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        for act in ACTIVATIONS {
            // Rows around every vector width: whole vectors, a last vector overlapping the one
            // before it (n above a width), and contiguous rows shorter than a vector (taken
            // as one flat array: (7, 8), (100, 10), (9, 3), (5, 1), (33, 15), (4, 7)).
            for (rows, n) in [
                (1, 1),
                (10, 30),
                (3, 17),
                (7, 8),
                (2, 100),
                (100, 10),
                (9, 3),
                (5, 1),
                (33, 15),
                (4, 7),
                (4, 31),
                (3, 9),
                (6, 20),
                (2, 5),
            ] {
                let z: Vec<f32> = (0..rows * n)
                    .map(|_| r.random_range(-6.0f32..6.0))
                    .collect();
                let b: Vec<f32> = (0..n).map(|_| r.random_range(-2.0f32..2.0)).collect();
                let pre: Vec<f32> = z.iter().enumerate().map(|(i, v)| v + b[i % n]).collect();
                let (mut want_a, mut want_d) = (vec![0.0; pre.len()], vec![0.0; pre.len()]);
                k.apply(act.value_fn(), &pre, &mut want_a);
                k.apply(act.derivative_fn(), &pre, &mut want_d);
                let mut a = z.clone();
                let mut d = vec![0.0; z.len()];
                k.bias_activation(act, &mut a, &b, &mut d).unwrap();
                assert_eq!(a, want_a, "{isa:?} {act:?} {rows}x{n} activation");
                assert_eq!(d, want_d, "{isa:?} {act:?} {rows}x{n} derivative");
            }
        }
        let mut z = vec![0.0; 10];
        assert!(k
            .bias_activation(Activation::Sigmoid, &mut z, &[0.0; 3], &mut [0.0; 10])
            .is_err());
        // With no bias there are no whole rows to speak of: refused, not a division by zero.
        assert!(k
            .bias_activation(Activation::Sigmoid, &mut z, &[], &mut [0.0; 10])
            .is_err());
        assert!(k
            .bias_activation(Activation::Sigmoid, &mut z, &[0.0; 5], &mut [0.0; 9])
            .is_err());
    }
}

#[test]
#[should_panic(expected = "length")]
fn length_mismatch_panics() {
    activation::sigmoid(&[0.0; 3], &mut [0.0; 4]);
}

/// Every f32 bit pattern through the selected sigmoid kernel. Minutes of CPU: run with
/// `cargo test --release --test activation -- --ignored --nocapture`.
#[test]
#[ignore]
fn exhaustive_sigmoid_all_f32() {
    use rayon::prelude::*;
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        let worst = (0u32..=u16::MAX as u32)
            .into_par_iter()
            .map(|hi| {
                let x: Vec<f32> = (0..=u16::MAX as u32)
                    .map(|lo| f32::from_bits(hi << 16 | lo))
                    .collect();
                let mut y = vec![0.0; x.len()];
                k.apply(ElementFn::Sigmoid, &x, &mut y);
                x.iter()
                    .zip(&y)
                    .map(|(&x, &y)| check(ElementFn::Sigmoid, x, y, k.sigmoid_name()))
                    .max()
                    .unwrap()
            })
            .max()
            .unwrap();
        println!("{}: max {worst} ULP over all 2^32 inputs", k.sigmoid_name());
    }
}

/// The byte-to-float gather kernel of every family: every byte value, every length around the
/// vector widths, exact (`byte / 256` is representable) and equal to the scalar family's bits.
#[test]
fn scale_bytes_is_exact_on_every_family() {
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        for len in (0..=70).chain([255, 256, 784, 1000]) {
            let src: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let mut dst = vec![f32::NAN; len + 1];
            k.scale_bytes(&src, &mut dst[..len], vanishing::data::PIXEL_SCALE);
            for (i, (&b, &v)) in src.iter().zip(&dst).enumerate() {
                assert_eq!(v, b as f32 / 256.0, "{isa:?} len {len} element {i}");
            }
            assert!(dst[len].is_nan(), "{isa:?} len {len}: wrote past the end");
        }
        let every: Vec<u8> = (0..=255).collect();
        let mut out = vec![0.0; 256];
        k.scale_bytes(&every, &mut out, 0.1);
        for (&b, &v) in every.iter().zip(&out) {
            assert_eq!(v.to_bits(), (b as f32 * 0.1).to_bits(), "{isa:?} byte {b}");
        }
    }
}

/// Ten rows of `width` bytes, nonzero everywhere but at position `z`, where all ten are 0.
fn ten_rows_sharing_one_zero(
    r: &mut rand_chacha::ChaCha8Rng,
    width: usize,
    z: usize,
) -> Vec<Vec<u8>> {
    (0..10)
        .map(|_| {
            (0..width)
                .map(|i| if i == z { 0 } else { r.random_range(1..=255u8) })
                .collect()
        })
        .collect()
}

/// The batch gather of every family against its definition: every float `byte * scale`
/// (bit for bit, for the pixel scale and for 0.1, whose products round), every cell written,
/// and the map exactly the positions zero in every row with the bits past the width clear;
/// over widths around the 64-byte chunks of the fused AVX-512 pass and its ragged tail,
/// batches of 0 to 16 rows, sparse, dense and single-shared-zero rows, with and without the
/// map. Also the length checks.
#[test]
fn gather_rows_converts_every_byte_and_maps_the_blank_positions() {
    let mut r = common::rng(5);
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        let check = |rows: &[Vec<u8>], width: usize, scale: f32, what: &str| {
            let slices: Vec<&[u8]> = rows.iter().map(|v| v.as_slice()).collect();
            let want: Vec<u32> = rows
                .iter()
                .flatten()
                .map(|&b| (f32::from(b) * scale).to_bits())
                .collect();
            // Both passes (the hint picks one where a family has two), with and without a map.
            for (expect_blank, with_map) in [(false, true), (true, true), (true, false)] {
                let mut dst = vec![f32::NAN; rows.len() * width];
                let mut map = vec![u64::MAX; width.div_ceil(64)];
                k.gather_rows(GatherRows {
                    rows: &slices,
                    width,
                    scale,
                    dst: &mut dst,
                    zero_map: with_map.then_some(&mut map[..]),
                    expect_blank,
                });
                let got: Vec<u32> = dst.iter().map(|v| v.to_bits()).collect();
                let case = format!(
                    "{isa:?} {what}: width {width}, {} rows, expect_blank {expect_blank}, map {with_map}",
                    rows.len()
                );
                assert_eq!(got, want, "{case}: the floats");
                if !with_map {
                    assert!(
                        map.iter().all(|&w| w == u64::MAX),
                        "{case}: no map asked for"
                    );
                    continue;
                }
                for i in 0..map.len() * 64 {
                    let blank = i < width && rows.iter().all(|row| row[i] == 0);
                    assert_eq!(
                        map[i / 64] >> (i % 64) & 1 == 1,
                        blank,
                        "{case}: position {i}"
                    );
                }
            }
        };
        for width in [
            1, 15, 16, 63, 64, 65, 100, 127, 128, 129, 191, 192, 193, 784,
        ] {
            for nrows in [0, 1, 2, 10, 16] {
                for dense in [false, true] {
                    let rows: Vec<Vec<u8>> = (0..nrows)
                        .map(|_| {
                            (0..width)
                                .map(|_| match r.random_bool(if dense { 0.02 } else { 0.7 }) {
                                    true => 0,
                                    false => r.random_range(1..=255u8),
                                })
                                .collect()
                        })
                        .collect();
                    let what = if dense { "dense" } else { "sparse" };
                    check(&rows, width, vanishing::data::PIXEL_SCALE, what);
                    check(&rows, width, 0.1, what);
                }
            }
            // One position zero in all of ten otherwise dense rows, wherever it is.
            for z in (0..width).step_by(if width > 200 { 7 } else { 1 }) {
                let rows = ten_rows_sharing_one_zero(&mut r, width, z);
                check(
                    &rows,
                    width,
                    vanishing::data::PIXEL_SCALE,
                    "one shared zero",
                );
            }
        }
        let refused = |rows: &[&[u8]], width: usize, dst: usize, map: usize| {
            std::panic::catch_unwind(|| {
                let mut out = vec![0.0; dst];
                let mut words = vec![0u64; map];
                k.gather_rows(GatherRows {
                    rows,
                    width,
                    scale: 1.0,
                    dst: &mut out,
                    zero_map: Some(&mut words),
                    expect_blank: true,
                })
            })
            .is_err()
        };
        let (a, b) = (&[1u8; 70][..], &[1u8; 69][..]);
        assert!(refused(&[a, b], 70, 140, 2), "{isa:?}: a short row");
        assert!(refused(&[a, a], 70, 139, 2), "{isa:?}: a short destination");
        assert!(refused(&[a, a], 70, 140, 1), "{isa:?}: a short map");
        assert!(!refused(&[a, a], 70, 140, 2), "{isa:?}: the right lengths");
    }
}

/// The zero-position map of every family against its definition (a position is marked when
/// its byte is 0 in every row), over widths around the 8-, 32- and 64-byte edges, sparse rows
/// (most bytes 0), nearly dense ones (the first two rows then rarely share a zero, and the
/// kernels stop early) and a single zero shared by every row, at each position in turn; and
/// bits past the width clear. Also the map of no rows (every position) and the length checks.
#[test]
fn zero_byte_map_marks_exactly_the_positions_zero_in_every_row() {
    let mut r = common::rng(3);
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        let check = |rows: &[Vec<u8>], width: usize, what: &str| {
            let slices: Vec<&[u8]> = rows.iter().map(|v| v.as_slice()).collect();
            let mut out = vec![u64::MAX; width.div_ceil(64)];
            k.zero_byte_map(&slices, width, &mut out);
            for i in 0..out.len() * 64 {
                let want = i < width && rows.iter().all(|row| row[i] == 0);
                let got = out[i / 64] >> (i % 64) & 1 == 1;
                assert_eq!(
                    got,
                    want,
                    "{isa:?} {what}: width {width}, {} rows, position {i}",
                    rows.len()
                );
            }
        };
        for width in [1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 95, 96, 97, 130, 784] {
            for nrows in [0, 1, 2, 3, 10, 16, 17] {
                for dense in [false, true] {
                    let rows: Vec<Vec<u8>> = (0..nrows)
                        .map(|_| {
                            (0..width)
                                .map(|_| {
                                    match (dense, r.random_bool(if dense { 0.02 } else { 0.7 })) {
                                        (_, true) => 0,
                                        (true, false) => r.random_range(1..=255u8),
                                        (false, false) => r.random(),
                                    }
                                })
                                .collect()
                        })
                        .collect();
                    check(&rows, width, if dense { "dense" } else { "sparse" });
                }
            }
            // One position zero in all of ten otherwise dense rows, wherever it is.
            for z in 0..width {
                let rows = ten_rows_sharing_one_zero(&mut r, width, z);
                check(&rows, width, "one shared zero");
            }
        }
        let result = std::panic::catch_unwind(|| {
            let mut out = vec![0u64; 1];
            k.zero_byte_map(&[&[0u8; 40][..], &[0u8; 39][..]], 40, &mut out)
        });
        assert!(
            result.is_err(),
            "{isa:?}: a row of the wrong length is refused"
        );
        let result = std::panic::catch_unwind(|| {
            let mut out = vec![0u64; 1];
            k.zero_byte_map(&[&[0u8; 65][..]], 65, &mut out)
        });
        assert!(result.is_err(), "{isa:?}: too few words is refused");
    }
}

/// The fused error pass of every family against the separate passes it replaces, computed here
/// element by element: the output's `a - e_y` (times the derivative under the quadratic
/// cost) or a hidden layer's `delta * deriv`, each column's sum from `+0` over the rows in
/// order, and `b - step * sum`; bit for bit, over row counts 0-16, column counts around every
/// vector width, strides from `cols` up, labels at every column, `+-0`, infinities and NaN
/// among the values. Cells past `cols` (padding) are never touched; the length and label
/// checks refuse bad arguments.
#[test]
fn error_rows_match_the_separate_passes_bit_for_bit() {
    use vanishing::activation::{ErrorRows, LayerError};
    let mut r = common::rng(11);
    const PAD: f32 = 12345.0;
    let value = |r: &mut rand_chacha::ChaCha8Rng| -> f32 {
        match r.random_range(0..40) {
            0 => 0.0,
            1 => -0.0,
            2 => f32::INFINITY,
            3 => f32::NAN,
            _ => r.random_range(-2.0f32..2.0),
        }
    };
    for isa in common::families() {
        let k = ActivationKernels::for_isa(isa);
        for cols in [1usize, 3, 4, 5, 8, 10, 15, 16, 17, 30, 31, 32, 33, 100] {
            for stride in [cols, cols.div_ceil(16) * 16, cols + 5] {
                for rows in [0, 1, 2, 3, 10, 16] {
                    for kind in 0..3 {
                        let len = rows * stride;
                        let cell = |i: usize| i % stride < cols;
                        let fill = |r: &mut rand_chacha::ChaCha8Rng| -> Vec<f32> {
                            (0..len)
                                .map(|i| if cell(i) { value(r) } else { PAD })
                                .collect()
                        };
                        let a = fill(&mut r);
                        let deriv = fill(&mut r);
                        let delta0 = fill(&mut r);
                        let labels: Vec<u8> =
                            (0..rows).map(|_| r.random_range(0..cols) as u8).collect();
                        let bias0: Vec<f32> = (0..cols).map(|_| value(&mut r)).collect();
                        let step = 0.01f32;
                        // The separate passes, one element at a time.
                        let mut want = delta0.clone();
                        for (row, &label) in labels.iter().enumerate() {
                            for j in 0..cols {
                                let at = row * stride + j;
                                want[at] = match kind {
                                    0 | 1 => {
                                        let mut v = a[at];
                                        if usize::from(label) == j {
                                            v -= 1.0;
                                        }
                                        if kind == 1 {
                                            v *= deriv[at];
                                        }
                                        v
                                    }
                                    _ => delta0[at] * deriv[at],
                                };
                            }
                        }
                        let mut want_sums = vec![0.0f32; cols];
                        for row in 0..rows {
                            for (j, s) in want_sums.iter_mut().enumerate() {
                                *s += want[row * stride + j];
                            }
                        }
                        let want_bias: Vec<f32> = bias0
                            .iter()
                            .zip(&want_sums)
                            .map(|(&b, &s)| b - step * s)
                            .collect();
                        for with_bias in [false, true] {
                            let mut delta = delta0.clone();
                            let mut sums = vec![f32::NAN; cols];
                            let mut bias = bias0.clone();
                            let error = match kind {
                                0 | 1 => LayerError::Output {
                                    a: &a,
                                    labels: &labels,
                                    times_deriv: kind == 1,
                                },
                                _ => LayerError::Hidden,
                            };
                            k.error_rows(ErrorRows {
                                error,
                                delta: &mut delta,
                                deriv: &deriv,
                                rows,
                                cols,
                                stride,
                                sums: &mut sums,
                                bias: with_bias.then_some((&mut bias[..], step)),
                            })
                            .unwrap();
                            let case = format!(
                                "{isa:?} kind {kind} rows {rows} cols {cols} stride {stride} bias {with_bias}"
                            );
                            // Bits, with every NaN one value: which NaN an operation with
                            // two NaN operands returns is not defined (Rust and the ISAs).
                            let bits = |v: &[f32]| {
                                v.iter()
                                    .map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() })
                                    .collect::<Vec<_>>()
                            };
                            assert_eq!(bits(&delta), bits(&want), "{case}: the error rows");
                            assert_eq!(bits(&sums), bits(&want_sums), "{case}: the sums");
                            let expect_bias = if with_bias { &want_bias } else { &bias0 };
                            assert_eq!(bits(&bias), bits(expect_bias), "{case}: the bias");
                        }
                    }
                }
            }
        }
        // Bad arguments are refused with an error, not a panic or a write.
        let (a, deriv) = (vec![0.5f32; 40], vec![1.0f32; 40]);
        let run = |labels: &[u8], delta_len: usize, sums_len: usize, rows: usize, stride: usize| {
            let mut delta = vec![0.0; delta_len];
            let mut sums = vec![0.0; sums_len];
            k.error_rows(ErrorRows {
                error: LayerError::Output {
                    a: &a,
                    labels,
                    times_deriv: false,
                },
                delta: &mut delta,
                deriv: &deriv,
                rows,
                cols: 10,
                stride,
                sums: &mut sums,
                bias: None,
            })
            .is_err()
        };
        assert!(!run(&[0, 9, 3], 30, 10, 3, 10), "{isa:?}: good arguments");
        assert!(
            run(&[0, 10, 3], 30, 10, 3, 10),
            "{isa:?}: a label past the outputs"
        );
        assert!(
            run(&[0, 9], 30, 10, 3, 10),
            "{isa:?}: fewer labels than rows"
        );
        assert!(
            run(&[0, 9, 3], 29, 10, 3, 10),
            "{isa:?}: a short error buffer"
        );
        assert!(run(&[0, 9, 3], 30, 9, 3, 10), "{isa:?}: short sums");
        assert!(run(&[0, 9, 3], 30, 10, 3, 9), "{isa:?}: overlapping rows");
        assert!(run(&[0, 9, 3, 1, 1], 50, 10, 5, 10), "{isa:?}: a short a");
    }
}
