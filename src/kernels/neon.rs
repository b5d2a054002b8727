//! aarch64 NEON (Advanced SIMD) kernels for activations and the FMA peak probe (the GEMM
//! microkernel is in [`super::neon_gemm`]). NEON is part of the aarch64 baseline, so these need
//! no `#[target_feature]`; they are still only reached through an [`crate::isa::Isa::Neon`]
//! that was checked against the CPU, like every other family.
//!
//! The method is the one every family shares (see [`crate::activation`]): the same operations
//! in the same order, fused multiply-adds where the others fuse, so NEON gives the scalar
//! family's bits for every input.

use super::math::*;
use core::arch::aarch64::*;

/// Floats per q register.
pub const LANES: usize = 4;

/// Runs `iters` (rounded up to a multiple of 64) rounds of 12 independent 4-lane FMAs (96 flop
/// per round) and returns a value that depends on all of them. Used to measure the machine's
/// FMA peak.
///
/// # Safety
/// The CPU must support NEON (every aarch64 CPU does).
pub unsafe fn fma_peak_probe(iters: usize) -> f32 {
    // SAFETY: NEON is available (caller); no memory is touched but locals.
    unsafe {
        let x = vdupq_n_f32(std::hint::black_box(0.999_999));
        let y = vdupq_n_f32(std::hint::black_box(1e-7));
        let mut acc = [vdupq_n_f32(1.0); 12];
        for _ in 0..iters.div_ceil(64) {
            for _ in 0..64 {
                for a in acc.iter_mut() {
                    *a = vfmaq_f32(y, *a, x);
                }
            }
            acc = std::hint::black_box(acc);
        }
        let mut sum = vdupq_n_f32(0.0);
        for a in acc {
            sum = vaddq_f32(sum, a);
        }
        vaddvq_f32(sum)
    }
}

#[inline(always)]
fn bits(x: float32x4_t) -> uint32x4_t {
    // SAFETY: a register reinterpretation, no memory access.
    unsafe { vreinterpretq_u32_f32(x) }
}

#[inline(always)]
fn float(x: uint32x4_t) -> float32x4_t {
    // SAFETY: a register reinterpretation, no memory access.
    unsafe { vreinterpretq_f32_u32(x) }
}

#[inline(always)]
fn splat(x: f32) -> float32x4_t {
    // SAFETY: register-only intrinsic; NEON is baseline on aarch64.
    unsafe { vdupq_n_f32(x) }
}

/// `a*b + c`, rounded once (the x86 families' `fmadd`).
#[inline(always)]
fn fmadd(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
    // SAFETY: register-only intrinsic.
    unsafe { vfmaq_f32(c, a, b) }
}

/// `c - a*b`, rounded once (the x86 families' `fnmadd`).
#[inline(always)]
fn fnmadd(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
    // SAFETY: register-only intrinsic.
    unsafe { vfmsq_f32(c, a, b) }
}

/// `2^K * exp(z)` for `z <= 0`, the scale folded into the exponent field; 0 where the result
/// would be subnormal; NaN stays NaN.
#[inline(always)]
fn exp_scaled<const K: i32>(z: float32x4_t) -> float32x4_t {
    // SAFETY (whole body): register-only intrinsics.
    unsafe {
        let magic = splat(ROUND_MAGIC + K as f32);
        // n = round(z*log2 e); the low bits of `biased` hold n + 127 + K, so shifted left by
        // 23 they are 2^(n+K).
        let biased = fmadd(z, splat(LOG2E), magic);
        let scale = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vreinterpretq_s32_f32(biased)));
        let n = vsubq_f32(biased, magic);
        let t = fnmadd(n, splat(LN2_HI), z);
        let t = fnmadd(n, splat(LN2_LO), t);
        let mut p = fmadd(splat(EXP_C5), t, splat(EXP_C4));
        p = fmadd(p, t, splat(EXP_C3));
        p = fmadd(p, t, splat(EXP_C2));
        p = fmadd(p, t, splat(EXP_C1));
        let e = fmadd(vmulq_f32(scale, t), p, scale);
        let tiny = vcltq_f32(
            z,
            splat(EXP_MIN_NORMAL_ARG - K as f32 * std::f32::consts::LN_2),
        );
        float(vbicq_u32(bits(e), tiny))
    }
}

#[inline(always)]
fn exp_nonpos(z: float32x4_t) -> float32x4_t {
    exp_scaled::<0>(z)
}

const SIGN: u32 = 0x8000_0000;

/// Lanes whose sign bit is set (negative numbers, -0 and negative NaNs).
#[inline(always)]
fn sign_set(x: float32x4_t) -> uint32x4_t {
    // SAFETY: register-only intrinsics.
    unsafe { vreinterpretq_u32_s32(vshrq_n_s32::<31>(vreinterpretq_s32_f32(x))) }
}

/// sigma(-|x|) = e/(1+e).
#[inline(always)]
fn sigmoid_small_side(x: float32x4_t) -> float32x4_t {
    // SAFETY: register-only intrinsics.
    unsafe {
        let e = exp_nonpos(float(vorrq_u32(bits(x), vdupq_n_u32(SIGN))));
        vdivq_f32(e, vaddq_f32(splat(1.0), e))
    }
}

/// sigma(x) and sigma'(x) from one exp.
#[inline(always)]
fn sigmoid_and_prime(x: float32x4_t) -> (float32x4_t, float32x4_t) {
    // SAFETY: register-only intrinsics.
    unsafe {
        let s = sigmoid_small_side(x);
        let one_minus = vsubq_f32(splat(1.0), s);
        // s where the sign bit is set, 1 - s otherwise (the x86 families' blend on the sign).
        (
            vbslq_f32(sign_set(x), s, one_minus),
            vmulq_f32(s, one_minus),
        )
    }
}

#[inline(always)]
fn element(f: ElementFn, x: float32x4_t) -> float32x4_t {
    let one = splat(1.0);
    // SAFETY: register-only intrinsics.
    unsafe {
        match f {
            ElementFn::Sigmoid => sigmoid_and_prime(x).0,
            ElementFn::SigmoidPrime => {
                let s = sigmoid_small_side(x);
                vmulq_f32(s, vsubq_f32(one, s))
            }
            ElementFn::Tanh => {
                let a = vabsq_f32(x);
                let sign = vandq_u32(bits(x), vdupq_n_u32(SIGN));
                let e = exp_nonpos(vmulq_f32(splat(-2.0), a));
                let big = vdivq_f32(vsubq_f32(one, e), vaddq_f32(one, e));
                let s = vmulq_f32(a, a);
                let mut p = splat(TANH_T0);
                p = fmadd(p, s, splat(TANH_T1));
                p = fmadd(p, s, splat(TANH_T2));
                p = fmadd(p, s, splat(TANH_T3));
                p = fmadd(p, s, splat(TANH_T4));
                let small = fmadd(vmulq_f32(a, s), p, a);
                let is_small = vcltq_f32(a, splat(TANH_SMALL));
                float(vorrq_u32(bits(vbslq_f32(is_small, small, big)), sign))
            }
            ElementFn::TanhPrime => {
                let r = exp_scaled::<2>(vmulq_f32(splat(-2.0), vabsq_f32(x)));
                let d = fmadd(splat(0.25), r, one);
                vdivq_f32(r, vmulq_f32(d, d))
            }
            // x where x > 0 or x is NaN, else +0 (as the scalar family).
            ElementFn::Relu => {
                let nan = vmvnq_u32(vceqq_f32(x, x));
                let keep = vorrq_u32(vcgtq_f32(x, splat(0.0)), nan);
                vbslq_f32(keep, x, splat(0.0))
            }
            ElementFn::ReluPrime => {
                let nan = vmvnq_u32(vceqq_f32(x, x));
                let d = float(vandq_u32(vcgtq_f32(x, splat(0.0)), bits(one)));
                vbslq_f32(nan, x, d)
            }
        }
    }
}

#[inline(always)]
fn act_and_prime(act: Activation, z: float32x4_t) -> (float32x4_t, float32x4_t) {
    match act {
        Activation::Sigmoid => sigmoid_and_prime(z),
        _ => (element(act.value_fn(), z), element(act.derivative_fn(), z)),
    }
}

/// `y[i] = f(x[i])` for `i < n`, 16 elements per iteration, the tail through a padded stack
/// buffer (so no lane reads or writes past `n`).
///
/// # Safety
/// NEON available; `x` readable and `y` writable for `n` floats; `x == y` (in place) is
/// allowed, any other overlap is not.
pub unsafe fn map(f: ElementFn, x: *const f32, y: *mut f32, n: usize) {
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

unsafe fn map_impl<const F: u8>(x: *const f32, y: *mut f32, n: usize) {
    let f = ElementFn::ALL[F as usize];
    let mut i = 0;
    // SAFETY: every access is at an index < n (loop bounds), or in the stack buffer.
    unsafe {
        // Four independent vectors per iteration: each one is a long dependency chain.
        while i + 16 <= n {
            let a = element(f, vld1q_f32(x.add(i)));
            let b = element(f, vld1q_f32(x.add(i + 4)));
            let c = element(f, vld1q_f32(x.add(i + 8)));
            let d = element(f, vld1q_f32(x.add(i + 12)));
            vst1q_f32(y.add(i), a);
            vst1q_f32(y.add(i + 4), b);
            vst1q_f32(y.add(i + 8), c);
            vst1q_f32(y.add(i + 12), d);
            i += 16;
        }
        while i + LANES <= n {
            vst1q_f32(y.add(i), element(f, vld1q_f32(x.add(i))));
            i += LANES;
        }
        if i < n {
            let len = n - i;
            let mut buf = [0.0f32; LANES];
            std::ptr::copy_nonoverlapping(x.add(i), buf.as_mut_ptr(), len);
            let v = element(f, vld1q_f32(buf.as_ptr()));
            vst1q_f32(buf.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(buf.as_ptr(), y.add(i), len);
        }
    }
}

/// Fused layer epilogue over one row: pre-activation `z + bias`; writes the activation in place
/// of `z` and the derivative to `deriv`, sharing one exp between the two for sigmoid.
///
/// # Safety
/// NEON available; `z`, `bias`, `deriv` valid for `n` floats, `deriv` not overlapping the
/// others.
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
        while i + LANES <= n {
            let zz = vaddq_f32(vld1q_f32(z.add(i)), vld1q_f32(bias.add(i)));
            let (a, d) = act_and_prime(act, zz);
            vst1q_f32(z.add(i), a);
            vst1q_f32(deriv.add(i), d);
            i += LANES;
        }
        if i < n {
            let len = n - i;
            let (mut zb, mut bb) = ([0.0f32; LANES], [0.0f32; LANES]);
            std::ptr::copy_nonoverlapping(z.add(i), zb.as_mut_ptr(), len);
            std::ptr::copy_nonoverlapping(bias.add(i), bb.as_mut_ptr(), len);
            let (a, d) = act_and_prime(
                act,
                vaddq_f32(vld1q_f32(zb.as_ptr()), vld1q_f32(bb.as_ptr())),
            );
            vst1q_f32(zb.as_mut_ptr(), a);
            vst1q_f32(bb.as_mut_ptr(), d);
            std::ptr::copy_nonoverlapping(zb.as_ptr(), z.add(i), len);
            std::ptr::copy_nonoverlapping(bb.as_ptr(), deriv.add(i), len);
        }
    }
}
