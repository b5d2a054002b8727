//! x86-64 AVX-512F activation kernels: the vector operations of the shared kernels
//! ([`super::elementwise`]) on 16-lane vectors, with k-masked loads and stores for the tails,
//! their `#[target_feature]` wrappers, and the FMA peak probe. Only reached through an
//! [`crate::isa::Isa::Avx512`] that was checked against the CPU. (The GEMM microkernel of this
//! family is in `avx512_gemm.rs`.)
//!
//! On Zen 4, which executes 512-bit operations as two 256-bit halves, the gain is not wider
//! arithmetic but half the instructions per element: the AVX2 sigmoid is limited by issue, not
//! by its FMA pipes, and runs about 1.6x faster here.

use super::elementwise::{self, Simd};
use super::math::ElementFn;
use core::arch::x86_64::*;

/// The AVX-512F family's vector operations for the activation kernels.
pub struct Avx512;

/// `x`'s bits or-ed with `m` in every lane (AVX-512F has the integer `or`; the float one needs
/// AVX-512DQ).
#[inline(always)]
unsafe fn or_bits(x: __m512, m: __m512i) -> __m512 {
    // SAFETY: called only inside the AVX-512 wrappers (see the impl below).
    unsafe { _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(x), m)) }
}

/// `x`'s bits and-ed with `m` in every lane.
#[inline(always)]
unsafe fn and_bits(x: __m512, m: i32) -> __m512 {
    // SAFETY: called only inside the AVX-512 wrappers (see the impl below).
    unsafe {
        _mm512_castsi512_ps(_mm512_and_si512(
            _mm512_castps_si512(x),
            _mm512_set1_epi32(m),
        ))
    }
}

// SAFETY (every method): the trait's contract: only called from inside the
// `#[target_feature(enable = "avx512f")]` wrappers below, which are only reached for a CPU
// that was checked to have AVX-512F.
impl Simd for Avx512 {
    type V = __m512;
    type M = __mmask16;
    const LANES: usize = 16;
    const UNROLL: usize = 2;
    const CHEAP_MASKS: bool = true;
    const PEEL: bool = true;

    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        // SAFETY: see the impl; 16 floats at `p` are readable (caller).
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        // SAFETY: see the impl; 16 floats at `p` are writable (caller).
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> __m512 {
        // SAFETY: see the impl; masked-off lanes are not read (no fault).
        unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p) }
    }
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, v: __m512, n: usize) {
        // SAFETY: see the impl; masked-off lanes are not written.
        unsafe { _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as __mmask16, v) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn fnmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_fnmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn lt(a: __m512, b: __m512) -> __mmask16 {
        // SAFETY: see the impl.
        unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    unsafe fn gt(a: __m512, b: __m512) -> __mmask16 {
        // SAFETY: see the impl.
        unsafe { _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b) }
    }
    #[inline(always)]
    unsafe fn is_nan(a: __m512) -> __mmask16 {
        // SAFETY: see the impl.
        unsafe { _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a) }
    }
    #[inline(always)]
    unsafe fn select(m: __mmask16, t: __m512, f: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_mask_mov_ps(f, m, t) }
    }
    #[inline(always)]
    unsafe fn zero_where(m: __mmask16, v: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_maskz_mov_ps(!m, v) }
    }
    #[inline(always)]
    unsafe fn one_where(m: __mmask16) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_maskz_mov_ps(m, _mm512_set1_ps(1.0)) }
    }
    #[inline(always)]
    unsafe fn by_sign(x: __m512, neg: __m512, pos: __m512) -> __m512 {
        // Reading the sign bits into a mask needs AVX-512DQ; a compare does it with F alone.
        // SAFETY: see the impl.
        unsafe { _mm512_mask_mov_ps(neg, Self::gt(x, _mm512_setzero_ps()), pos) }
    }
    #[inline(always)]
    unsafe fn or(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { or_bits(a, _mm512_castps_si512(b)) }
    }
    #[inline(always)]
    unsafe fn sign(x: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { and_bits(x, i32::MIN) }
    }
    #[inline(always)]
    unsafe fn abs(x: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { and_bits(x, i32::MAX) }
    }
    #[inline(always)]
    unsafe fn shl23(x: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_castps_si512(x))) }
    }
    #[inline(always)]
    unsafe fn relu(x: __m512) -> __m512 {
        // max(0, x) returns x when x is NaN (the second operand wins on NaN).
        // SAFETY: see the impl.
        unsafe { _mm512_max_ps(_mm512_setzero_ps(), x) }
    }
    #[inline(always)]
    unsafe fn map_body<const F: u8>(x: *const f32, y: *mut f32, n: usize) {
        // SAFETY: see the impl; pointers as `elementwise::map`.
        unsafe { map_impl::<F>(x, y, n) }
    }
}

/// `y[i] = f(x[i])` for `i < n` ([`elementwise::map`] on 16-lane vectors, masked tails).
///
/// # Safety
/// The CPU must support AVX-512F; `x` readable and `y` writable for `n` floats; `x == y` (in
/// place) is allowed, any other overlap is not.
pub unsafe fn map(f: ElementFn, x: *const f32, y: *mut f32, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { elementwise::map_fn::<Avx512>(f, x, y, n) }
}

#[target_feature(enable = "avx512f")]
unsafe fn map_impl<const F: u8>(x: *const f32, y: *mut f32, n: usize) {
    // SAFETY: AVX-512F is enabled here (the caller checked the CPU); pointers as `map`.
    unsafe { elementwise::map::<Avx512>(ElementFn::ALL[F as usize], x, y, n) }
}

/// The fused layer epilogue over rows ([`elementwise::bias_act_rows`] on 16-lane vectors).
///
/// # Safety
/// The CPU must support the family's features; `t` describes valid memory as
/// [`super::BiasActRows`] says.
#[target_feature(enable = "avx512f")]
pub unsafe fn bias_act_rows(t: &super::BiasActRows) {
    // SAFETY: the family's features are enabled here; memory as documented.
    unsafe { elementwise::bias_act_rows::<Avx512>(t) }
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

/// `dst[i] = src[i] * scale` for bytes (the input gather from byte pixels): the scalar family's
/// loop compiled with AVX-512F, which the compiler vectorises (widen, convert, multiply); exact
/// for a power-of-two `scale`, and the same bits as the scalar family in any case (one rounding
/// of an exactly converted byte).
///
/// # Safety
/// The CPU must support AVX-512F; `src` readable for `n` bytes, `dst` writable for `n` floats.
#[target_feature(enable = "avx512f")]
pub unsafe fn scale_bytes(src: *const u8, dst: *mut f32, n: usize, scale: f32) {
    // SAFETY: forwarded contract.
    unsafe { super::scalar::scale_bytes(src, dst, n, scale) }
}

/// The momentum update ([`super::scalar::momentum`]): the scalar family's loop compiled with
/// AVX-512F and FMA, which the compiler vectorises with fused multiply-adds; the same bits.
///
/// # Safety
/// The CPU must support AVX-512F and FMA; `w`, `v` writable and `g` readable for `n` floats, distinct.
#[target_feature(enable = "avx512f,fma")]
pub unsafe fn momentum(w: *mut f32, v: *mut f32, g: *const f32, n: usize, mu: f32, decay: f32) {
    // SAFETY: forwarded contract.
    unsafe { super::scalar::momentum(w, v, g, n, mu, decay) }
}

/// A mini-batch gathered from byte rows with its blank-position map in one pass
/// ([`super::GatherRows`]): for each 64 positions, every row's 64 bytes are loaded once, ORed
/// into one register and converted to four vectors of floats (widen, convert, multiply: one
/// rounding of an exactly converted byte, the portable loop's bits); the OR's zero bytes are
/// the map's 64 bits for those positions. A ragged width ends with one more chunk read ending
/// at the width (positions it repeats get the same floats again; their bits are shifted out).
/// The byte compares use AVX2's 32-byte ones (AVX-512F has no byte compare; every CPU of this
/// family has AVX2).
///
/// Unless the caller expects blank positions ([`super::GatherRows::expect_blank`]), rows are
/// converted one by one and mapped after, which is faster for rows with no shared blank: the
/// row order converts faster than the chunk order, and the map pass stops after two rows.
/// Measured on Zen 5, 10 rows of 784: MNIST digits inside the training loop (lines in L2)
/// 0.36-0.38 -> 0.28-0.32 us against convert-then-map; dense random bytes (from L1/L2) 0.21 us
/// row by row, 0.25 in the chunk order. Deciding by a look at the first two rows instead of
/// the caller's hint cost the digits 0.035 us of the gain.
///
/// # Safety
/// The CPU must support AVX-512F and AVX2. (The lengths are checked: a mismatch panics.)
#[target_feature(enable = "avx512f,avx2")]
pub unsafe fn gather_rows(g: &mut super::GatherRows) {
    g.check();
    if g.zero_map.is_none() || !g.expect_blank || g.width < 64 || g.rows.is_empty() {
        // No map, no blank expected, no whole chunk, or no rows (every position blank).
        // Inlined here, so the conversion runs on 16-lane vectors.
        // SAFETY (the map pass): this family's CPU has AVX2.
        return super::scalar::gather_rows_then_map(g, |rows, width, out| unsafe {
            super::avx2::zero_byte_map(rows, width, out)
        });
    }
    let width = g.width;
    let whole = width / 64;
    // Chunk starts: every whole 64 positions, then (for a ragged width) the last 64.
    let tail = (!width.is_multiple_of(64)).then_some(width - 64);
    let dst = g.dst.as_mut_ptr();
    // SAFETY: AVX-512F (contract); every chunk start `lo` has `lo + 64 <= width`, so the
    // loads read inside each row and the stores write inside row `r` of `dst`
    // (`rows * width` floats, checked).
    unsafe {
        let scale = _mm512_set1_ps(g.scale);
        let zero = _mm256_setzero_si256();
        if let Some(map) = g.zero_map.as_deref_mut() {
            map.fill(0);
        }
        for lo in (0..whole).map(|c| 64 * c).chain(tail) {
            let mut any = _mm512_setzero_si512();
            for (r, row) in g.rows.iter().enumerate() {
                let src = row.as_ptr().add(lo);
                any = _mm512_or_si512(any, _mm512_loadu_si512(src.cast()));
                let out = dst.add(r * width + lo);
                for q in 0..4 {
                    let bytes = _mm_loadu_si128(src.add(16 * q).cast());
                    let floats = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
                    _mm512_storeu_ps(out.add(16 * q), _mm512_mul_ps(floats, scale));
                }
            }
            let Some(map) = g.zero_map.as_deref_mut() else {
                continue;
            };
            let blank =
                |half: __m256i| _mm256_movemask_epi8(_mm256_cmpeq_epi8(half, zero)) as u32 as u64;
            let bits = blank(_mm512_castsi512_si256(any))
                | blank(_mm512_extracti64x4_epi64::<1>(any)) << 32;
            if lo.is_multiple_of(64) {
                map[lo / 64] = bits;
            } else {
                // The tail chunk: its positions before 64*whole are done; the rest start a
                // word of their own.
                map[whole] = bits >> (64 * whole - lo);
            }
        }
    }
}

/// A layer's error rows with their bias sums and bias step ([`elementwise::delta_rows`] on
/// 16-lane vectors).
///
/// # Safety
/// The CPU must support the family's features; `t` describes valid memory as
/// [`super::DeltaRows`] says, its buffers distinct.
#[target_feature(enable = "avx512f")]
pub unsafe fn delta_rows(t: &super::DeltaRows) {
    // SAFETY: the family's features are enabled here; memory as documented.
    unsafe { elementwise::delta_rows::<Avx512>(t) }
}
