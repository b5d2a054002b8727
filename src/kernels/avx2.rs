//! x86-64 AVX2 + FMA activation kernels: the vector operations of the shared kernels
//! ([`super::elementwise`]) on 8-lane vectors, their `#[target_feature]` wrappers, and the FMA
//! peak probe (the GEMM microkernel is in [`super::avx2_gemm`]). Only reached through an
//! [`crate::isa::Isa::Avx2`] that was checked against the CPU.

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

use super::elementwise::{self, Simd};
use super::math::ElementFn;

/// The AVX2 + FMA family's vector operations for the activation kernels.
pub struct Avx2;

// SAFETY (every method): the trait's contract: only called from inside the
// `#[target_feature(enable = "avx2,fma")]` wrappers below, which are only reached for a CPU
// that was checked to have AVX2 and FMA.
impl Simd for Avx2 {
    type V = __m256;
    type M = __m256;
    const LANES: usize = 8;
    // Four independent vectors per iteration: each one is a long dependency chain.
    const UNROLL: usize = 4;
    const CHEAP_MASKS: bool = false;
    const PEEL: bool = true;

    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        // SAFETY: see the impl; 8 floats at `p` are readable (caller).
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        // SAFETY: see the impl; 8 floats at `p` are writable (caller).
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> __m256 {
        // SAFETY: see the impl; masked-off lanes are not read (no fault).
        unsafe { _mm256_maskload_ps(p, first_lanes(n)) }
    }
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, v: __m256, n: usize) {
        // SAFETY: see the impl; masked-off lanes are not written.
        unsafe { _mm256_maskstore_ps(p, first_lanes(n), v) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn fnmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_fnmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn lt(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    unsafe fn gt(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_cmp_ps::<_CMP_GT_OQ>(a, b) }
    }
    #[inline(always)]
    unsafe fn is_nan(a: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_cmp_ps::<_CMP_UNORD_Q>(a, a) }
    }
    #[inline(always)]
    unsafe fn select(m: __m256, t: __m256, f: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_blendv_ps(f, t, m) }
    }
    #[inline(always)]
    unsafe fn zero_where(m: __m256, v: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_andnot_ps(m, v) }
    }
    #[inline(always)]
    unsafe fn one_where(m: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_and_ps(m, _mm256_set1_ps(1.0)) }
    }
    #[inline(always)]
    unsafe fn by_sign(x: __m256, neg: __m256, pos: __m256) -> __m256 {
        // blendv selects by each lane's sign bit: no compare needed.
        // SAFETY: see the impl.
        unsafe { _mm256_blendv_ps(pos, neg, x) }
    }
    #[inline(always)]
    unsafe fn or(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_or_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sign(x: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_and_ps(x, _mm256_set1_ps(-0.0)) }
    }
    #[inline(always)]
    unsafe fn abs(x: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), x) }
    }
    #[inline(always)]
    unsafe fn shl23(x: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(x))) }
    }
    #[inline(always)]
    unsafe fn relu(x: __m256) -> __m256 {
        // max(0, x) returns x when x is NaN (the second operand wins on NaN).
        // SAFETY: see the impl.
        unsafe { _mm256_max_ps(_mm256_setzero_ps(), x) }
    }
    #[inline(always)]
    unsafe fn map_body<const F: u8>(x: *const f32, y: *mut f32, n: usize) {
        // SAFETY: see the impl; pointers as `elementwise::map`.
        unsafe { map_impl::<F>(x, y, n) }
    }
}

/// The mask of lanes `< n`, as `maskload`/`maskstore` read it (sign bit of each lane).
#[inline(always)]
unsafe fn first_lanes(n: usize) -> __m256i {
    // SAFETY: called only inside the AVX2 wrappers (see the impl above).
    unsafe {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
}

/// `y[i] = f(x[i])` for `i < n` ([`elementwise::map`] on 8-lane vectors).
///
/// # Safety
/// The CPU must support AVX2 and FMA; `x` readable and `y` writable for `n` floats; `x == y`
/// (in place) is allowed, any other overlap is not.
pub unsafe fn map(f: ElementFn, x: *const f32, y: *mut f32, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { elementwise::map_fn::<Avx2>(f, x, y, n) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn map_impl<const F: u8>(x: *const f32, y: *mut f32, n: usize) {
    // SAFETY: AVX2 and FMA are enabled here (the caller checked the CPU); pointers as `map`.
    unsafe { elementwise::map::<Avx2>(ElementFn::ALL[F as usize], x, y, n) }
}

/// The fused layer epilogue over rows ([`elementwise::bias_act_rows`] on 8-lane vectors).
///
/// # Safety
/// The CPU must support the family's features; `t` describes valid memory as
/// [`super::BiasActRows`] says.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn bias_act_rows(t: &super::BiasActRows) {
    // SAFETY: the family's features are enabled here; memory as documented.
    unsafe { elementwise::bias_act_rows::<Avx2>(t) }
}

/// `dst[i] = src[i] * scale` for bytes (the input gather from byte pixels): the scalar family's
/// loop compiled with AVX2 and FMA, which the compiler vectorises (widen, convert, multiply); exact
/// for a power-of-two `scale`, and the same bits as the scalar family in any case (one rounding
/// of an exactly converted byte).
///
/// # Safety
/// The CPU must support AVX2 and FMA; `src` readable for `n` bytes, `dst` writable for `n` floats.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn scale_bytes(src: *const u8, dst: *mut f32, n: usize, scale: f32) {
    // SAFETY: forwarded contract.
    unsafe { super::scalar::scale_bytes(src, dst, n, scale) }
}

/// The momentum update ([`super::scalar::momentum`]): the scalar family's loop compiled with
/// AVX2 and FMA, which the compiler vectorises with fused multiply-adds; the same bits.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `w`, `v` writable and `g` readable for `n` floats, distinct.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn momentum(w: *mut f32, v: *mut f32, g: *const f32, n: usize, mu: f32, decay: f32) {
    // SAFETY: forwarded contract.
    unsafe { super::scalar::momentum(w, v, g, n, mu, decay) }
}

/// [`super::scalar::zero_byte_map`] (the positions zero in every byte row, same contract, same
/// map) with 32-byte compares: each 32-position chunk of every row is ORed in a register, and
/// one compare and one move-mask give the chunk's 32 bits of the map directly, where the
/// portable form spends a dozen word operations per eight positions. A ragged tail is one more
/// chunk, read ending at the width (its positions already done are shifted out). The
/// AVX-512 family uses it too (every CPU it runs on has AVX2: `Isa::is_available`): the pass
/// reads ~8 KB from L1 and is load-bound at either width.
///
/// # Safety
/// The CPU must support AVX2. (The lengths are checked: a mismatch panics.)
#[target_feature(enable = "avx2")]
pub unsafe fn zero_byte_map(rows: &[&[u8]], width: usize, out: &mut [u64]) {
    if width < 32 || rows.is_empty() {
        // Nothing for a whole chunk (or no rows to read): the portable form.
        return super::scalar::zero_byte_map(rows, width, out);
    }
    assert!(
        out.len() == width.div_ceil(64) && rows.iter().all(|r| r.len() == width),
        "zero_byte_map: rows of {width} bytes into {} words",
        out.len()
    );
    out.fill(0);
    // Chunk starts: every whole 32 bytes, then (for a ragged width) the last 32 bytes.
    let whole = width / 32;
    let tail = (!width.is_multiple_of(32)).then_some(width - 32);
    let starts = (0..whole).map(|c| 32 * c).chain(tail);
    // Dense rows: when the first two share no zero position, nothing is zero in all (the
    // portable form's early stop).
    // SAFETY: AVX2 (contract); the rows hold `width >= 32` bytes (checked above).
    if rows.len() > 2 && !unsafe { first_two_share_a_zero(rows, width) } {
        return;
    }
    for lo in starts {
        // SAFETY: AVX2 (this function's contract); lo + 32 <= width (a chunk start).
        let mut bits = unsafe { zero_chunk(rows, lo) };
        // The tail chunk overlaps the last whole one: keep its new positions only.
        let first = if lo % 32 == 0 { lo } else { 32 * whole };
        bits >>= first - lo;
        // `first` is a multiple of 32, so its bits stay inside one word.
        out[first / 64] |= u64::from(bits) << (first % 64);
    }
}

/// The batch gather ([`super::scalar::gather_rows_then_map`]) compiled with AVX2: each row
/// converted (8 floats a vector), then this family's [`zero_byte_map`]. The map pass reads
/// the rows again, from L1.
///
/// # Safety
/// The CPU must support AVX2. (The lengths are checked: a mismatch panics.)
#[target_feature(enable = "avx2")]
pub unsafe fn gather_rows(g: &mut super::GatherRows) {
    // SAFETY: AVX2 (this function's contract) is all `zero_byte_map` needs.
    super::scalar::gather_rows_then_map(g, |rows, width, out| unsafe {
        zero_byte_map(rows, width, out)
    })
}

/// Whether the first two of `rows` (at least two) are both zero at some position below
/// `width`: when not, no position is zero in every row, and the map is empty (the dense-rows
/// early stop of the map passes; ~50 loads).
///
/// # Safety
/// The CPU must support AVX2; `width >= 32`, and the first two rows hold `width` bytes.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn first_two_share_a_zero(rows: &[&[u8]], width: usize) -> bool {
    let whole = width / 32;
    let tail = (!width.is_multiple_of(32)).then_some(width - 32);
    let mut shared = 0;
    for lo in (0..whole).map(|c| 32 * c).chain(tail) {
        // SAFETY: AVX2 (contract); lo + 32 <= width (a chunk start).
        shared |= unsafe { zero_chunk(&rows[..2], lo) };
    }
    shared != 0
}

/// The zero positions of the 32 bytes at `lo` in the OR of `rows`: bit `j` for position
/// `lo + j`.
///
/// # Safety
/// The CPU must support AVX2; `lo + 32 <=` every row's length.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn zero_chunk(rows: &[&[u8]], lo: usize) -> u32 {
    let mut any = _mm256_setzero_si256();
    for row in rows {
        // SAFETY: bytes lo..lo + 32 lie inside the row (caller).
        let v = unsafe { _mm256_loadu_si256(row.as_ptr().add(lo).cast()) };
        any = _mm256_or_si256(any, v);
    }
    _mm256_movemask_epi8(_mm256_cmpeq_epi8(any, _mm256_setzero_si256())) as u32
}

/// A layer's error rows with their bias sums and bias step ([`elementwise::delta_rows`] on
/// 8-lane vectors).
///
/// # Safety
/// The CPU must support the family's features; `t` describes valid memory as
/// [`super::DeltaRows`] says, its buffers distinct.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn delta_rows(t: &super::DeltaRows) {
    // SAFETY: the family's features are enabled here; memory as documented.
    unsafe { elementwise::delta_rows::<Avx2>(t) }
}
