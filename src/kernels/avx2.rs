//! x86-64 AVX2 + FMA kernels for activations and the FMA peak probe (the GEMM microkernel is in
//! [`super::avx2_gemm`]). Every function here is `#[target_feature(enable = "avx2,fma")]` and is
//! only reached through an [`crate::isa::Isa::Avx2`] that was checked against the CPU.

use core::arch::x86_64::*;

/// Runs `iters` (rounded up to a multiple of 64) rounds of 12 independent 8-lane FMAs (192 flop per round) and returns a value
/// that depends on all of them, so the work cannot be optimised away. Used to measure the
/// machine's FMA peak, the 100 % of the GEMM benchmark tables.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn fma_peak_probe(iters: usize) -> f32 {
    let x = _mm256_set1_ps(std::hint::black_box(0.999_999));
    let y = _mm256_set1_ps(std::hint::black_box(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); 12];
    for _ in 0..iters.div_ceil(64) {
        for _ in 0..64 {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, x, y);
            }
        }
        // Keeps the loop from being folded; rare enough not to cost throughput.
        acc = std::hint::black_box(acc);
    }
    let mut out = [0.0f32; 8];
    let mut sum = _mm256_setzero_ps();
    for a in acc {
        sum = _mm256_add_ps(sum, a);
    }
    // SAFETY: `out` holds 8 floats.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sum) };
    out.iter().sum()
}

use super::math::*;

/// `exp(z)` for `z <= 0`, 8 lanes, the shared method with FMA: see [`crate::activation`].
/// Lanes below [`EXP_MIN_NORMAL_ARG`] give 0; NaN lanes give NaN.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn exp_nonpos(z: __m256) -> __m256 {
    exp_scaled::<0>(z)
}

/// `2^K * exp(z)`, the scale folded into the exponent field (normal wherever the true value is);
/// 0 where it would be subnormal.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn exp_scaled<const K: i32>(z: __m256) -> __m256 {
    let magic = _mm256_set1_ps(ROUND_MAGIC + K as f32);
    // n = round(z*log2 e); the low bits of `biased` hold n + 127 + K, so shifted left by 23 they
    // are 2^(n+K). Lanes where n < -126 - K get a wrong scale and are zeroed below.
    let biased = _mm256_fmadd_ps(z, _mm256_set1_ps(LOG2E), magic);
    let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(biased)));
    let n = _mm256_sub_ps(biased, magic);
    let t = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), z);
    let t = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), t);
    let mut p = _mm256_fmadd_ps(_mm256_set1_ps(EXP_C5), t, _mm256_set1_ps(EXP_C4));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(EXP_C3));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(EXP_C2));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(EXP_C1));
    // 2^(n+K) * exp(t) = s + (s*t)*p
    let e = _mm256_fmadd_ps(_mm256_mul_ps(scale, t), p, scale);
    let tiny = _mm256_cmp_ps::<_CMP_LT_OQ>(
        z,
        _mm256_set1_ps(EXP_MIN_NORMAL_ARG - K as f32 * std::f32::consts::LN_2),
    );
    _mm256_andnot_ps(tiny, e)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn abs(x: __m256) -> __m256 {
    _mm256_andnot_ps(_mm256_set1_ps(-0.0), x)
}

/// sigma(-|x|) = e/(1+e).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn sigmoid_small_side(x: __m256) -> __m256 {
    // -|x| by setting the sign bit: one instruction.
    let e = exp_nonpos(_mm256_or_ps(x, _mm256_set1_ps(-0.0)));
    // A true division: it runs on the divider, not on the two FMA pipes this kernel saturates
    // (a reciprocal estimate plus Newton steps measured slower here).
    _mm256_div_ps(e, _mm256_add_ps(_mm256_set1_ps(1.0), e))
}

/// sigma(x) and sigma'(x) from one exp.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn sigmoid_and_prime(x: __m256) -> (__m256, __m256) {
    let one = _mm256_set1_ps(1.0);
    let s = sigmoid_small_side(x);
    let one_minus = _mm256_sub_ps(one, s);
    // blendv selects by each lane's sign bit: s where x is negative (or -0), 1 - s otherwise
    // (+0 gives 1 - 0.5 = 0.5 as well).
    (
        _mm256_blendv_ps(one_minus, s, x),
        _mm256_mul_ps(s, one_minus),
    )
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn element(f: ElementFn, x: __m256) -> __m256 {
    let one = _mm256_set1_ps(1.0);
    {
        match f {
            ElementFn::Sigmoid => sigmoid_and_prime(x).0,
            ElementFn::SigmoidPrime => {
                let s = sigmoid_small_side(x);
                _mm256_mul_ps(s, _mm256_sub_ps(one, s))
            }
            ElementFn::Tanh => {
                // Computed on |x|, the sign restored last (so tanh(-0) = -0).
                let a = abs(x);
                let sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0));
                let e = exp_nonpos(_mm256_mul_ps(_mm256_set1_ps(-2.0), a));
                let big = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
                let s = _mm256_mul_ps(a, a);
                let mut p = _mm256_set1_ps(TANH_T0);
                p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(TANH_T1));
                p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(TANH_T2));
                p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(TANH_T3));
                p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(TANH_T4));
                let small = _mm256_fmadd_ps(_mm256_mul_ps(a, s), p, a);
                let is_small = _mm256_cmp_ps::<_CMP_LT_OQ>(a, _mm256_set1_ps(TANH_SMALL));
                _mm256_or_ps(_mm256_blendv_ps(big, small, is_small), sign)
            }
            ElementFn::TanhPrime => {
                // r = 4e = 2^2 exp(-2|x|) built in the exponent (normal wherever the result is).
                let r = exp_scaled::<2>(_mm256_mul_ps(_mm256_set1_ps(-2.0), abs(x)));
                let d = _mm256_fmadd_ps(_mm256_set1_ps(0.25), r, one);
                _mm256_div_ps(r, _mm256_mul_ps(d, d))
            }
            // max(0, x) returns x when x is NaN (the second operand wins on NaN).
            ElementFn::Relu => _mm256_max_ps(_mm256_setzero_ps(), x),
            ElementFn::ReluPrime => {
                let d = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_setzero_ps()), one);
                _mm256_blendv_ps(d, x, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x))
            }
        }
    }
}

/// `y[i] = f(x[i])` for `i < n`, 32 elements (4 vectors) per iteration; inputs of
/// [`ALIGN_PEEL_MIN`] or more start with the elements up to a 32-byte boundary; partial vectors
/// go through masked loads and stores (no lane reads or writes past `n`).
///
/// # Safety
/// The CPU must support AVX2 and FMA; `x` readable and `y` writable for `n` floats; `x == y`
/// (in place) is allowed, any other overlap is not.
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

#[target_feature(enable = "avx2,fma")]
unsafe fn map_impl<const F: u8>(x: *const f32, y: *mut f32, n: usize) {
    let f = ElementFn::ALL[F as usize];
    // SAFETY: every access below is at an index < n (loop bounds), or masked off.
    unsafe {
        // Long inputs: the elements up to the next 32-byte boundary of `x` first, so no load
        // of the main loop straddles two cache lines (on a 16-byte-aligned 4096-float input
        // that cost 3-5 % of the whole pass on Emerald Rapids). Elements are independent, so
        // the grouping changes no bits.
        let lead = if n >= ALIGN_PEEL_MIN {
            (x as usize).wrapping_neg() % 32 / 4
        } else {
            0
        };
        if lead > 0 {
            partial(f, x, y, lead);
        }
        let mut i = lead;
        // Four independent vectors per iteration: each one is a long dependency chain.
        while i + 32 <= n {
            let a = element(f, _mm256_loadu_ps(x.add(i)));
            let b = element(f, _mm256_loadu_ps(x.add(i + 8)));
            let c = element(f, _mm256_loadu_ps(x.add(i + 16)));
            let d = element(f, _mm256_loadu_ps(x.add(i + 24)));
            _mm256_storeu_ps(y.add(i), a);
            _mm256_storeu_ps(y.add(i + 8), b);
            _mm256_storeu_ps(y.add(i + 16), c);
            _mm256_storeu_ps(y.add(i + 24), d);
            i += 32;
        }
        while i + 8 <= n {
            _mm256_storeu_ps(y.add(i), element(f, _mm256_loadu_ps(x.add(i))));
            i += 8;
        }
        if i < n {
            partial(f, x.add(i), y.add(i), n - i);
        }
    }
}

/// `y[j] = f(x[j])` for `j < len <= 8`, through masked loads and stores (lanes at or past
/// `len` are neither read nor written, so no access goes past the operand).
///
/// # Safety
/// AVX2 and FMA; `x` readable and `y` writable for `len` floats (equal pointers allowed).
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn partial(f: ElementFn, x: *const f32, y: *mut f32, len: usize) {
    debug_assert!(len <= 8);
    let live = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(len as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    // SAFETY: the mask enables only lanes < len, which the caller guarantees are valid; masked
    // lanes are not accessed (no fault, no store).
    unsafe {
        let v = element(f, _mm256_maskload_ps(x, live));
        _mm256_maskstore_ps(y, live, v);
    }
}

/// Fused layer epilogue over one row: pre-activation `z + bias`; writes the activation in place
/// of `z` and the derivative to `deriv`, sharing one exp between the two for sigmoid.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `z`, `bias`, `deriv` valid for `n` floats, `deriv` not
/// overlapping the others.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn bias_act_row(
    act: Activation,
    z: *mut f32,
    bias: *const f32,
    deriv: *mut f32,
    n: usize,
) {
    let mut i = 0;
    // SAFETY: every access is at an index < n, or in the stack buffers.
    unsafe {
        while i + 8 <= n {
            let zz = _mm256_add_ps(_mm256_loadu_ps(z.add(i)), _mm256_loadu_ps(bias.add(i)));
            let (a, d) = act_and_prime(act, zz);
            _mm256_storeu_ps(z.add(i), a);
            _mm256_storeu_ps(deriv.add(i), d);
            i += 8;
        }
        if i < n {
            let len = n - i;
            let (mut zb, mut bb) = ([0.0f32; 8], [0.0f32; 8]);
            std::ptr::copy_nonoverlapping(z.add(i), zb.as_mut_ptr(), len);
            std::ptr::copy_nonoverlapping(bias.add(i), bb.as_mut_ptr(), len);
            let (a, d) = act_and_prime(
                act,
                _mm256_add_ps(_mm256_loadu_ps(zb.as_ptr()), _mm256_loadu_ps(bb.as_ptr())),
            );
            _mm256_storeu_ps(zb.as_mut_ptr(), a);
            _mm256_storeu_ps(bb.as_mut_ptr(), d);
            std::ptr::copy_nonoverlapping(zb.as_ptr(), z.add(i), len);
            std::ptr::copy_nonoverlapping(bb.as_ptr(), deriv.add(i), len);
        }
    }
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn act_and_prime(act: Activation, z: __m256) -> (__m256, __m256) {
    match act {
        Activation::Sigmoid => sigmoid_and_prime(z),
        _ => (element(act.value_fn(), z), element(act.derivative_fn(), z)),
    }
}
