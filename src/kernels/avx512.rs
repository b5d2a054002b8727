//! x86-64 AVX-512F activation kernels: the same method and constants as `avx2.rs` on 16-lane
//! vectors, with masked loads and stores for the tails. Only reached through an
//! [`crate::isa::Isa::Avx512`] that was checked against the CPU. (The GEMM microkernel of this
//! family is in `avx512_gemm.rs`.)
//!
//! On Zen 4, which executes 512-bit operations as two 256-bit halves, the gain is not wider
//! arithmetic but half the instructions per element: the AVX2 sigmoid is limited by issue, not
//! by its FMA pipes, and runs about 1.6x faster here.

use super::math::*;
use core::arch::x86_64::*;

#[target_feature(enable = "avx512f")]
#[inline]
fn or_bits(x: __m512, m: i32) -> __m512 {
    _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(x),
        _mm512_set1_epi32(m),
    ))
}

#[target_feature(enable = "avx512f")]
#[inline]
fn abs(x: __m512) -> __m512 {
    _mm512_castsi512_ps(_mm512_and_si512(
        _mm512_castps_si512(x),
        _mm512_set1_epi32(i32::MAX),
    ))
}

/// `2^K * exp(z)` (see the AVX2 twin): 0 where it would be subnormal, NaN stays NaN.
#[target_feature(enable = "avx512f")]
#[inline]
fn exp_scaled<const K: i32>(z: __m512) -> __m512 {
    let magic = _mm512_set1_ps(ROUND_MAGIC + K as f32);
    let biased = _mm512_fmadd_ps(z, _mm512_set1_ps(LOG2E), magic);
    let scale = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_castps_si512(biased)));
    let n = _mm512_sub_ps(biased, magic);
    let t = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), z);
    let t = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), t);
    let mut p = _mm512_fmadd_ps(_mm512_set1_ps(EXP_C5), t, _mm512_set1_ps(EXP_C4));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(EXP_C3));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(EXP_C2));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(EXP_C1));
    let e = _mm512_fmadd_ps(_mm512_mul_ps(scale, t), p, scale);
    let tiny = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(
        z,
        _mm512_set1_ps(EXP_MIN_NORMAL_ARG - K as f32 * std::f32::consts::LN_2),
    );
    _mm512_maskz_mov_ps(!tiny, e)
}

/// sigma(-|x|) = e/(1+e), e = exp(-|x|).
#[target_feature(enable = "avx512f")]
#[inline]
fn sigmoid_small_side(x: __m512) -> __m512 {
    let e = exp_scaled::<0>(or_bits(x, i32::MIN));
    _mm512_div_ps(e, _mm512_add_ps(_mm512_set1_ps(1.0), e))
}

/// sigma(x) and sigma'(x) from one exp.
#[target_feature(enable = "avx512f")]
#[inline]
fn sigmoid_and_prime(x: __m512) -> (__m512, __m512) {
    let s = sigmoid_small_side(x);
    let one_minus = _mm512_sub_ps(_mm512_set1_ps(1.0), s);
    let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, _mm512_setzero_ps());
    (
        _mm512_mask_mov_ps(s, pos, one_minus),
        _mm512_mul_ps(s, one_minus),
    )
}

#[target_feature(enable = "avx512f")]
#[inline]
fn element(f: ElementFn, x: __m512) -> __m512 {
    let one = _mm512_set1_ps(1.0);
    match f {
        ElementFn::Sigmoid => sigmoid_and_prime(x).0,
        ElementFn::SigmoidPrime => sigmoid_and_prime(x).1,
        ElementFn::Tanh => {
            let a = abs(x);
            let sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(i32::MIN));
            let e = exp_scaled::<0>(_mm512_mul_ps(_mm512_set1_ps(-2.0), a));
            let big = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
            let s = _mm512_mul_ps(a, a);
            let mut p = _mm512_fmadd_ps(_mm512_set1_ps(TANH_T0), s, _mm512_set1_ps(TANH_T1));
            p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(TANH_T2));
            p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(TANH_T3));
            p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(TANH_T4));
            let small = _mm512_fmadd_ps(_mm512_mul_ps(a, s), p, a);
            let is_small = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, _mm512_set1_ps(TANH_SMALL));
            let t = _mm512_mask_mov_ps(big, is_small, small);
            _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), sign))
        }
        ElementFn::TanhPrime => {
            let r = exp_scaled::<2>(_mm512_mul_ps(_mm512_set1_ps(-2.0), abs(x)));
            let d = _mm512_fmadd_ps(_mm512_set1_ps(0.25), r, one);
            _mm512_div_ps(r, _mm512_mul_ps(d, d))
        }
        // max(0, x) returns x when x is NaN (the second operand wins on NaN).
        ElementFn::Relu => _mm512_max_ps(_mm512_setzero_ps(), x),
        ElementFn::ReluPrime => {
            let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, _mm512_setzero_ps());
            let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
            _mm512_mask_mov_ps(_mm512_maskz_mov_ps(pos, one), nan, x)
        }
    }
}

/// `y[i] = f(x[i])` for `i < n`; the tail through masked loads and stores (no access past `n`).
///
/// # Safety
/// The CPU must support AVX-512F; `x` readable and `y` writable for `n` floats; `x == y` (in
/// place) is allowed, any other overlap is not.
pub unsafe fn map(f: ElementFn, x: *const f32, y: *mut f32, n: usize) {
    // One monomorphised loop per function, so no dispatch runs per vector.
    // SAFETY: forwarded contract.
    unsafe {
        match f {
            ElementFn::Sigmoid => map_impl::<{ ElementFn::Sigmoid as u8 }>(x, y, n),
            ElementFn::SigmoidPrime => map_impl::<{ ElementFn::SigmoidPrime as u8 }>(x, y, n),
            ElementFn::Tanh => map_impl::<{ ElementFn::Tanh as u8 }>(x, y, n),
            ElementFn::TanhPrime => map_impl::<{ ElementFn::TanhPrime as u8 }>(x, y, n),
            ElementFn::Relu => map_impl::<{ ElementFn::Relu as u8 }>(x, y, n),
            ElementFn::ReluPrime => map_impl::<{ ElementFn::ReluPrime as u8 }>(x, y, n),
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn map_impl<const F: u8>(x: *const f32, y: *mut f32, n: usize) {
    let f = ElementFn::ALL[F as usize];
    // SAFETY: full vectors stay below n; masked accesses touch only lanes < n.
    unsafe {
        // Long inputs: a masked first vector up to the next 64-byte boundary of `x`, so the
        // main loop's loads never straddle two cache lines: on a 16-byte-aligned 4096-float
        // input that straddling cost 3-4 % of the whole pass (Emerald Rapids). Elements are
        // independent, so the grouping changes no bits.
        let mut i = if n >= ALIGN_PEEL_MIN {
            (x as usize).wrapping_neg() % 64 / 4
        } else {
            0
        };
        if i > 0 {
            let m: __mmask16 = (1u16 << i) - 1;
            let v = element(f, _mm512_maskz_loadu_ps(m, x));
            _mm512_mask_storeu_ps(y, m, v);
        }
        while i + 32 <= n {
            let a = element(f, _mm512_loadu_ps(x.add(i)));
            let b = element(f, _mm512_loadu_ps(x.add(i + 16)));
            _mm512_storeu_ps(y.add(i), a);
            _mm512_storeu_ps(y.add(i + 16), b);
            i += 32;
        }
        while i < n {
            let m: __mmask16 = if n - i >= 16 {
                0xFFFF
            } else {
                (1u16 << (n - i)) - 1
            };
            let v = element(f, _mm512_maskz_loadu_ps(m, x.add(i)));
            _mm512_mask_storeu_ps(y.add(i), m, v);
            i += 16;
        }
    }
}

/// Fused layer epilogue over one row (see the AVX2 twin): activation in place of `z + bias`,
/// derivative into `deriv`.
///
/// # Safety
/// The CPU must support AVX-512F; `z`, `bias`, `deriv` valid for `n` floats, `deriv` not
/// overlapping the others.
#[target_feature(enable = "avx512f")]
pub unsafe fn bias_act_row(
    act: Activation,
    z: *mut f32,
    bias: *const f32,
    deriv: *mut f32,
    n: usize,
) {
    let mut i = 0;
    // SAFETY: masked accesses touch only lanes < n.
    unsafe {
        while i < n {
            let m: __mmask16 = if n - i >= 16 {
                0xFFFF
            } else {
                (1u16 << (n - i)) - 1
            };
            let zz = _mm512_add_ps(
                _mm512_maskz_loadu_ps(m, z.add(i)),
                _mm512_maskz_loadu_ps(m, bias.add(i)),
            );
            let (a, d) = match act {
                Activation::Sigmoid => sigmoid_and_prime(zz),
                _ => (
                    element(act.value_fn(), zz),
                    element(act.derivative_fn(), zz),
                ),
            };
            _mm512_mask_storeu_ps(z.add(i), m, a);
            _mm512_mask_storeu_ps(deriv.add(i), m, d);
            i += 16;
        }
    }
}

/// Runs `iters` (rounded up to a multiple of 64) rounds of 12 independent 16-lane FMAs (384
/// flop per round) and returns a value that depends on all of them: one core's 512-bit FMA
/// peak, the 100 % of the AVX-512 GEMM's "% of peak". Twelve chains cover a 4-cycle latency on
/// two FMA pipes with room to spare.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn fma_peak_probe(iters: usize) -> f32 {
    let x = _mm512_set1_ps(std::hint::black_box(0.999_999));
    let y = _mm512_set1_ps(std::hint::black_box(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); 12];
    for _ in 0..iters.div_ceil(64) {
        for _ in 0..64 {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, x, y);
            }
        }
        // Keeps the loop from being folded; rare enough not to cost throughput.
        acc = std::hint::black_box(acc);
    }
    let mut sum = _mm512_setzero_ps();
    for a in acc {
        sum = _mm512_add_ps(sum, a);
    }
    _mm512_reduce_add_ps(sum)
}
