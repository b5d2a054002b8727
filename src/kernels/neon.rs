//! aarch64 NEON (Advanced SIMD) activation kernels: the vector operations of the shared kernels
//! ([`super::elementwise`]) on 4-lane vectors, and the FMA peak probe (the GEMM microkernel is
//! in [`super::neon_gemm`]). NEON is part of the aarch64 baseline, so these need no
//! `#[target_feature]`; they are still only reached through an [`crate::isa::Isa::Neon`] that
//! was checked against the CPU, like every other family. Same operations in the same order as
//! every family, so NEON gives the scalar family's bits for every input.

use super::elementwise::{self, Simd};
use super::math::ElementFn;
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

/// The NEON family's vector operations for the activation kernels.
pub struct Neon;

// SAFETY (every method): NEON is baseline on aarch64 and these are only reached through an
// `Isa::Neon` checked against the CPU; pointer methods touch only the lanes documented in
// the trait, which the caller guarantees are valid.
impl Simd for Neon {
    type V = float32x4_t;
    type M = uint32x4_t;
    const LANES: usize = LANES;
    // Four independent vectors per iteration: each one is a long dependency chain.
    const UNROLL: usize = 4;
    // 16-byte vectors: an unaligned load rarely splits a line, and NEON handles it cheaply.
    const CHEAP_MASKS: bool = false;
    const PEEL: bool = false;

    #[inline(always)]
    unsafe fn splat(x: f32) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vdupq_n_f32(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> float32x4_t {
        // SAFETY: see the impl; 4 floats at `p` are readable.
        unsafe { vld1q_f32(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: float32x4_t) {
        // SAFETY: see the impl; 4 floats at `p` are writable.
        unsafe { vst1q_f32(p, v) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> float32x4_t {
        // NEON has no masked load: through a zeroed stack buffer.
        let mut buf = [0.0f32; LANES];
        // SAFETY: see the impl; `n < 4` floats at `p` are readable and fit in `buf`.
        unsafe {
            std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            vld1q_f32(buf.as_ptr())
        }
    }
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, v: float32x4_t, n: usize) {
        let mut buf = [0.0f32; LANES];
        // SAFETY: see the impl; `n < 4` floats at `p` are writable.
        unsafe {
            vst1q_f32(buf.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(buf.as_ptr(), p, n);
        }
    }
    #[inline(always)]
    unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vaddq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vsubq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vmulq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vdivq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vfmaq_f32(c, a, b) }
    }
    #[inline(always)]
    unsafe fn fnmadd(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vfmsq_f32(c, a, b) }
    }
    #[inline(always)]
    unsafe fn lt(a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        // SAFETY: see the impl.
        unsafe { vcltq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn gt(a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        // SAFETY: see the impl.
        unsafe { vcgtq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn is_nan(a: float32x4_t) -> uint32x4_t {
        // SAFETY: see the impl.
        unsafe { vmvnq_u32(vceqq_f32(a, a)) }
    }
    #[inline(always)]
    unsafe fn select(m: uint32x4_t, t: float32x4_t, f: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vbslq_f32(m, t, f) }
    }
    #[inline(always)]
    unsafe fn zero_where(m: uint32x4_t, v: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { float(vbicq_u32(bits(v), m)) }
    }
    #[inline(always)]
    unsafe fn one_where(m: uint32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { float(vandq_u32(m, bits(vdupq_n_f32(1.0)))) }
    }
    #[inline(always)]
    unsafe fn by_sign(x: float32x4_t, neg: float32x4_t, pos: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe {
            // All ones where the sign bit is set (negative numbers, -0, negative NaNs).
            let sign_set = vreinterpretq_u32_s32(vshrq_n_s32::<31>(vreinterpretq_s32_f32(x)));
            vbslq_f32(sign_set, neg, pos)
        }
    }
    #[inline(always)]
    unsafe fn or(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { float(vorrq_u32(bits(a), bits(b))) }
    }
    #[inline(always)]
    unsafe fn sign(x: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { float(vandq_u32(bits(x), vdupq_n_u32(0x8000_0000))) }
    }
    #[inline(always)]
    unsafe fn abs(x: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vabsq_f32(x) }
    }
    #[inline(always)]
    unsafe fn shl23(x: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vreinterpretq_f32_s32(vshlq_n_s32::<23>(vreinterpretq_s32_f32(x))) }
    }
    #[inline(always)]
    unsafe fn relu(x: float32x4_t) -> float32x4_t {
        // x where x > 0 or x is NaN, else +0 (as the scalar family; `fmax` would give 0 for
        // NaN).
        // SAFETY: see the impl.
        unsafe {
            let keep = vorrq_u32(vcgtq_f32(x, vdupq_n_f32(0.0)), Self::is_nan(x));
            vbslq_f32(keep, x, vdupq_n_f32(0.0))
        }
    }
    #[inline(always)]
    unsafe fn map_body<const F: u8>(x: *const f32, y: *mut f32, n: usize) {
        // SAFETY: see the impl; pointers as `elementwise::map`.
        unsafe { map_impl::<F>(x, y, n) }
    }
}

/// `y[i] = f(x[i])` for `i < n` ([`elementwise::map`] on 4-lane vectors).
///
/// # Safety
/// NEON available; `x` readable and `y` writable for `n` floats; `x == y` (in place) is
/// allowed, any other overlap is not.
pub unsafe fn map(f: ElementFn, x: *const f32, y: *mut f32, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { elementwise::map_fn::<Neon>(f, x, y, n) }
}

unsafe fn map_impl<const F: u8>(x: *const f32, y: *mut f32, n: usize) {
    // SAFETY: NEON is baseline; pointers as `map`.
    unsafe { elementwise::map::<Neon>(ElementFn::ALL[F as usize], x, y, n) }
}

/// The fused layer epilogue over rows ([`elementwise::bias_act_rows`] on 4-lane vectors).
///
/// # Safety
/// The CPU must support the family's features; `t` describes valid memory as
/// [`super::BiasActRows`] says.
#[target_feature(enable = "neon")]
pub unsafe fn bias_act_rows(t: &super::BiasActRows) {
    // SAFETY: the family's features are enabled here; memory as documented.
    unsafe { elementwise::bias_act_rows::<Neon>(t) }
}

/// `dst[i] = src[i] * scale` for bytes (the input gather from byte pixels): the scalar family's
/// loop compiled with NEON, which the compiler vectorises (widen, convert, multiply); exact
/// for a power-of-two `scale`, and the same bits as the scalar family in any case (one rounding
/// of an exactly converted byte).
///
/// # Safety
/// The CPU must support NEON; `src` readable for `n` bytes, `dst` writable for `n` floats.
#[target_feature(enable = "neon")]
pub unsafe fn scale_bytes(src: *const u8, dst: *mut f32, n: usize, scale: f32) {
    // SAFETY: forwarded contract.
    unsafe { super::scalar::scale_bytes(src, dst, n, scale) }
}

/// The momentum update ([`super::scalar::momentum`]): the scalar family's loop compiled with
/// NEON, which the compiler vectorises with fused multiply-adds; the same bits.
///
/// # Safety
/// The CPU must support NEON; `w`, `v` writable and `g` readable for `n` floats, distinct.
#[target_feature(enable = "neon")]
pub unsafe fn momentum(w: *mut f32, v: *mut f32, g: *const f32, n: usize, mu: f32, decay: f32) {
    // SAFETY: forwarded contract.
    unsafe { super::scalar::momentum(w, v, g, n, mu, decay) }
}

/// [`super::scalar::zero_byte_map`] compiled with NEON (the same map).
///
/// # Safety
/// The CPU must support NEON. (The lengths are checked: a mismatch panics.)
#[target_feature(enable = "neon")]
pub unsafe fn zero_byte_map(rows: &[&[u8]], width: usize, out: &mut [u64]) {
    super::scalar::zero_byte_map(rows, width, out)
}

/// The batch gather ([`super::scalar::gather_rows_then_map`]) compiled with NEON: each row
/// converted, then the portable map.
///
/// # Safety
/// The CPU must support NEON. (The lengths are checked: a mismatch panics.)
#[target_feature(enable = "neon")]
pub unsafe fn gather_rows(g: &mut super::GatherRows) {
    super::scalar::gather_rows_then_map(g, super::scalar::zero_byte_map)
}

/// A layer's error rows with their bias sums and bias step ([`elementwise::delta_rows`] on
/// 4-lane vectors).
///
/// # Safety
/// The CPU must support the family's features; `t` describes valid memory as
/// [`super::DeltaRows`] says, its buffers distinct.
#[target_feature(enable = "neon")]
pub unsafe fn delta_rows(t: &super::DeltaRows) {
    // SAFETY: the family's features are enabled here; memory as documented.
    unsafe { elementwise::delta_rows::<Neon>(t) }
}
