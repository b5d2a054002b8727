//! Portable kernels, always built and tested: the reference every SIMD path is checked against.

use super::{Tile, MR};

/// Columns of the portable kernel's tile.
pub const NR: usize = 16;

/// Portable GEMM microkernel (`sgemm.scalar.6x16`): plain multiply-add (unfused, so it is fast on
/// any target), accumulators in a local array the compiler keeps in vector registers.
///
/// # Safety
/// See the microkernel contract in [`super`].
pub unsafe fn gemm_tile(t: &Tile) {
    let mut acc = [[0.0f32; NR]; MR];
    let last = t.rows - 1;
    let mut padded = [0.0f32; NR];
    for p in 0..t.k {
        let row = t.b.wrapping_offset(p as isize * t.rsb);
        let brow: &[f32; NR] = if p < t.b_full_rows {
            // SAFETY: row p of the B strip holds NR readable floats (contract).
            unsafe { &*(row as *const [f32; NR]) }
        } else {
            // SAFETY: row p holds `cols` readable floats (contract); the rest stays zero.
            padded[..t.cols].copy_from_slice(unsafe { std::slice::from_raw_parts(row, t.cols) });
            &padded
        };
        for (i, acc_row) in acc.iter_mut().enumerate() {
            let r = i.min(last) as isize;
            // SAFETY: row r < rows and column p < k of A are inside the strip (contract).
            let a = unsafe { *t.a.offset(r * t.rsa + p as isize * t.csa) };
            for (acc_ij, &b) in acc_row.iter_mut().zip(brow) {
                *acc_ij += a * b;
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate().take(t.rows) {
        for (j, &v) in acc_row.iter().enumerate().take(t.cols) {
            // SAFETY: (i, j) is a valid cell of the C tile (contract).
            let c = unsafe { &mut *t.c.offset(i as isize * t.rsc + j as isize * t.csc) };
            let scaled = t.alpha * v;
            *c = if t.beta == 0.0 {
                scaled
            } else {
                scaled + t.beta * *c
            };
        }
    }
}

use super::math::*;

/// `exp(z)` for `z <= 0` following the shared method (round, Cody-Waite reduction, polynomial,
/// exponent-bit reconstruction); 0 below [`EXP_MIN_NORMAL_ARG`]. NaN propagates.
#[inline(always)]
fn exp_nonpos(z: f32) -> f32 {
    exp_scaled::<0>(z)
}

/// `2^K * exp(z)`, the scale folded into the exponent field, so the result is normal wherever
/// the true value is; 0 where `2^K exp(z)` would be subnormal.
#[inline(always)]
fn exp_scaled<const K: i32>(z: f32) -> f32 {
    if z < EXP_MIN_NORMAL_ARG - K as f32 * std::f32::consts::LN_2 {
        return 0.0;
    }
    // n = round(z*log2 e); `biased` holds n + 127 + K in its low bits, so its bits shifted
    // left by 23 are 2^(n+K). n >= -126 - K here, so that exponent field is valid.
    let biased = z * LOG2E + (ROUND_MAGIC + K as f32);
    let scale = f32::from_bits(biased.to_bits() << 23);
    let n = biased - (ROUND_MAGIC + K as f32);
    let t = z - n * LN2_HI;
    let t = t - n * LN2_LO;
    let p = EXP_C1 + t * (EXP_C2 + t * (EXP_C3 + t * (EXP_C4 + t * EXP_C5)));
    // 2^(n+K) * exp(t) = s + (s*t)*p
    let st = scale * t;
    scale + st * p
}

/// sigma(-|x|) = e/(1+e) with e = exp(-|x|): the small side, free of cancellation.
#[inline(always)]
fn sigmoid_small_side(x: f32) -> f32 {
    let e = exp_nonpos(-x.abs());
    e / (1.0 + e)
}

/// One element of an [`ElementFn`].
#[inline(always)]
pub fn element(f: ElementFn, x: f32) -> f32 {
    match f {
        ElementFn::Sigmoid => {
            let s = sigmoid_small_side(x);
            if x > 0.0 {
                1.0 - s
            } else {
                s
            }
        }
        ElementFn::SigmoidPrime => {
            let s = sigmoid_small_side(x);
            s * (1.0 - s)
        }
        ElementFn::Tanh => {
            // Computed on |x|, the sign restored last (so tanh(-0) = -0).
            let a = x.abs();
            let t = if a < TANH_SMALL {
                let s = a * a;
                a + a * s * (TANH_T4 + s * (TANH_T3 + s * (TANH_T2 + s * (TANH_T1 + s * TANH_T0))))
            } else {
                let e = exp_nonpos(-2.0 * a);
                (1.0 - e) / (1.0 + e)
            };
            t.copysign(x)
        }
        ElementFn::TanhPrime => {
            // r = 4e = 2^2 exp(-2|x|) built in the exponent, so the result stays normal
            // wherever the true value is (e itself is subnormal there); then e = r/4.
            let r = exp_scaled::<2>(-2.0 * x.abs());
            let d = 1.0 + 0.25 * r;
            r / (d * d)
        }
        ElementFn::Relu => {
            if x > 0.0 || x.is_nan() {
                x
            } else {
                0.0
            }
        }
        ElementFn::ReluPrime => {
            if x > 0.0 {
                1.0
            } else if x.is_nan() {
                x
            } else {
                0.0
            }
        }
    }
}

/// `y[i] = f(x[i])` for `i < n`.
///
/// # Safety
/// `x` must be readable and `y` writable for `n` floats; they may be the same pointer (in place)
/// but must not otherwise overlap.
pub unsafe fn map(f: ElementFn, x: *const f32, y: *mut f32, n: usize) {
    for i in 0..n {
        // SAFETY: i < n (caller's contract); each element is read before it is written.
        unsafe { *y.add(i) = element(f, *x.add(i)) };
    }
}

/// Fused layer epilogue over one row: `z <- z + bias` is the pre-activation; writes
/// `out = act(z)` in place of `z` and `deriv = act'(z)`.
///
/// # Safety
/// `z`, `bias`, `deriv` must each be valid for `n` floats and `deriv` must not overlap the others.
pub unsafe fn bias_act_row(
    act: Activation,
    z: *mut f32,
    bias: *const f32,
    deriv: *mut f32,
    n: usize,
) {
    let (vf, df) = (act.value_fn(), act.derivative_fn());
    for i in 0..n {
        // SAFETY: i < n (caller's contract).
        unsafe {
            let zz = *z.add(i) + *bias.add(i);
            *z.add(i) = element(vf, zz);
            *deriv.add(i) = element(df, zz);
        }
    }
}
