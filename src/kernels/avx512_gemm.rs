//! x86-64 AVX-512F GEMM microkernels (`sgemm.avx512.*`): the vector operations of the shared
//! microkernel ([`super::microkernel`]) for 16-lane zmm vectors, and its `#[target_feature]`
//! wrapper. Only reached through an [`crate::isa::Isa::Avx512`] that was checked against the CPU.
//!
//! With 32 zmm registers a tile can hold up to 28 accumulators: 12x32 (24 accumulators, 2 B
//! vectors and 1 broadcast per k step), 8x48 (24, 3 and 1) and 6x32 (12) are in the table.
//! Masked loads and stores are cheap here (`k`-masks), so ragged tiles use them directly.

use super::microkernel::{self, Lanes};
use super::rank_k::{self, RankK};
use super::sparse_depth::{self, SparseDepth};
use super::Tile;
use core::arch::x86_64::*;

/// Floats per zmm vector.
pub const LANES: usize = 16;

/// The AVX-512F family's vector operations.
pub struct Avx512;

// SAFETY (every method): the trait's contract: only called from inside `tile_body` below, which
// has AVX-512F enabled and is only reached for a CPU that was checked to have it.
impl Lanes for Avx512 {
    type V = __m512;
    type Mask = __mmask16;
    const LANES: usize = LANES;
    const BLEND_RAGGED_STORES: bool = false;

    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m512 {
        // SAFETY: see the impl; `p` is readable (caller).
        unsafe { _mm512_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        // SAFETY: see the impl; 16 floats at `p` are readable (caller).
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f32, m: __mmask16) -> __m512 {
        // SAFETY: see the impl; masked-off lanes are not read.
        unsafe { _mm512_maskz_loadu_ps(m, p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        // SAFETY: see the impl; 16 floats at `p` are writable (caller).
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f32, m: __mmask16, v: __m512) {
        // SAFETY: see the impl; masked-off lanes are not written.
        unsafe { _mm512_mask_storeu_ps(p, m, v) }
    }
    #[inline(always)]
    unsafe fn blend(old: __m512, new: __m512, m: __mmask16) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_mask_blend_ps(m, old, new) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mask(cols: usize, h: usize) -> __mmask16 {
        let live = cols.saturating_sub(LANES * h).min(LANES);
        ((1u32 << live) - 1) as __mmask16
    }

    const RANK_K_REGS: usize = 24;

    #[inline(always)]
    unsafe fn rank_k<const K: usize>(t: &RankK) {
        // SAFETY: forwarded contract (AVX-512F checked when the kernel was chosen).
        unsafe { rank_k_body::<K>(t) }
    }

    #[inline(always)]
    unsafe fn body<
        const PACKED: bool,
        const MASK_B: bool,
        const MR: usize,
        const NV: usize,
        const R: usize,
        const H: usize,
    >(
        t: &Tile,
    ) {
        // SAFETY: forwarded contract (AVX-512F checked when the kernel was chosen).
        unsafe { tile_body::<PACKED, MASK_B, MR, NV, R, H>(t) }
    }
}

/// The shared microkernel body compiled with AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F; as [`microkernel::body`].
#[target_feature(enable = "avx512f")]
unsafe fn tile_body<
    const PACKED: bool,
    const MASK_B: bool,
    const MR: usize,
    const NV: usize,
    const R: usize,
    const H: usize,
>(
    t: &Tile,
) {
    // SAFETY: forwarded contract, inside AVX-512F code.
    unsafe { microkernel::body::<Avx512, PACKED, MASK_B, MR, NV, R, H>(t) }
}

/// The AVX-512 microkernel `MR` rows by `NV` zmm vectors (`sgemm.avx512.<MR>x<16*NV>`).
///
/// # Safety
/// The CPU must support AVX-512F, and `t` must satisfy the microkernel contract in [`super`]
/// with `mr = MR`, `nr = 16*NV` (unit column stride for C).
pub unsafe fn gemm_tile<const MR: usize, const NV: usize>(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { microkernel::gemm_tile::<Avx512, MR, NV>(t) }
}

/// The shared rank-k update body compiled with AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F; as [`rank_k::body`].
#[target_feature(enable = "avx512f")]
unsafe fn rank_k_body<const K: usize>(t: &RankK) {
    // SAFETY: forwarded contract, inside AVX-512F code.
    unsafe {
        // Wider than the held form's chunk of two vectors: the streamed form, 7 vectors by 3
        // rows (21 sums, 7 vectors of D and a broadcast: 29 of the 32 zmm registers), one pass
        // over W up to 112 columns where the held form makes one per 32. [784,100,10]'s update
        // (784x10x100, rows padded to 112) on Zen 5: 9.5-9.8 us held, 8.1-8.2 us streamed; 7x2
        // took 10.6 and 4x4 9.6. Up to 32 columns the held form stays: streamed 2x6 measured
        // the same there (2.37-2.42 us on 784x10x30).
        if t.cols > 2 * LANES {
            rank_k::streamed_body::<Avx512, K, 7, 3>(t)
        } else if t.cols <= LANES {
            // One vector of columns (the 10-wide output layer's rows, padded to 16): a chunk
            // of two would carry a dead vector whose masked loads and stores, one pair per row,
            // cost more than the live one (Zen 5, 30x10x10 on rows of 16: 0.183 us with two,
            // 0.082 with one).
            rank_k::body::<Avx512, K, 1>(t)
        } else {
            match rank_k::vectors_for(K, Avx512::RANK_K_REGS) {
                1 => rank_k::body::<Avx512, K, 1>(t),
                _ => rank_k::body::<Avx512, K, 2>(t),
            }
        }
    }
}

/// The AVX-512F rank-k update (`rank_k.avx512`).
///
/// # Safety
/// The CPU must support AVX-512F, and `t` must satisfy [`rank_k::body`]'s contract.
pub unsafe fn rank_k_update(t: &RankK) {
    // SAFETY: forwarded contract.
    unsafe { rank_k::by_depth::<Avx512>(t) }
}

/// Packs one whole 12-row panel of A whose rows are contiguous (unit column stride, rows `rs`
/// floats apart) into the microkernel's layout, `dst[p*12 + i] = src[i*rs + p]` for `p <
/// depth` (a copy: no arithmetic, so no bit can change). The portable packer moves one float
/// per load and store and held 7 % of a 256^3 product's time on Zen 5; `transpose_panel`
/// moves 16 columns of four rows per three shuffles a row.
///
/// # Safety
/// The CPU must support AVX-512F; `src.offset(i*rs + p)` must be readable for `i < 12`,
/// `p < depth`; `dst` must hold `12*depth` floats.
pub unsafe fn pack_a_panel_12(src: *const f32, rs: isize, depth: usize, dst: &mut [f32]) {
    // SAFETY: forwarded contract, with all 12 rows live.
    unsafe { transpose_panel::<12>(src, rs, 12, depth, dst) }
}

/// Packs one `nr`-column panel of B whose columns are contiguous (unit row stride, columns
/// `cs` floats apart: B is the transpose of a row-major matrix, as the trainer's backward
/// product `delta W` reads `W^T`): `dst[p*nr + j] = src[j*cs + p]` for `j < live`, zero for
/// `live <= j < nr`. The portable packer gathers one float per load there (Zen 5, the
/// 30x30 panel of a 10x30x30 backward product: 39 % of its 0.39 us).
///
/// # Safety
/// The CPU must support AVX-512F; `src.offset(j*cs + p)` must be readable for `j < live <= nr`,
/// `p < depth`; `dst` must hold `nr*depth` floats.
pub unsafe fn pack_b_panel_32(
    src: *const f32,
    cs: isize,
    live: usize,
    depth: usize,
    dst: &mut [f32],
) {
    // SAFETY: forwarded contract.
    unsafe { transpose_panel::<32>(src, cs, live, depth, dst) }
}

/// [`pack_b_panel_32`] for 48-column panels (the 8x48 kernel).
///
/// # Safety
/// As [`pack_b_panel_32`] with `nr = 48`.
pub unsafe fn pack_b_panel_48(
    src: *const f32,
    cs: isize,
    live: usize,
    depth: usize,
    dst: &mut [f32],
) {
    // SAFETY: forwarded contract.
    unsafe { transpose_panel::<48>(src, cs, live, depth, dst) }
}

/// `dst[p*W + i] = src[i*rs + p]` for `i < live`, `0.0` for `live <= i < W`, `p < depth`: a
/// `live x depth` block of contiguous rows written column by column, `W` floats a column
/// (`W` a multiple of 4). Each block of 16 columns is loaded four rows at a time (the last,
/// ragged block through a mask), transposed within 128-bit lanes (eight shuffles per four
/// rows) and written as four-float pieces, each column's `W` floats contiguous. A copy: no
/// arithmetic, so no bit of any float changes.
///
/// # Safety
/// The CPU must support AVX-512F; `src.offset(i*rs + p)` must be readable for `i < live <= W`,
/// `p < depth`; `dst` must hold `W*depth` floats.
#[target_feature(enable = "avx512f")]
unsafe fn transpose_panel<const W: usize>(
    src: *const f32,
    rs: isize,
    live: usize,
    depth: usize,
    dst: &mut [f32],
) {
    const { assert!(W.is_multiple_of(4)) };
    assert!(
        live <= W && dst.len() >= W * depth,
        "a {W}-wide panel of depth {depth}"
    );
    let out = dst.as_mut_ptr();
    // One block of 16 columns at p0 (`cols` of them live); `$whole`: all 16, so the loads need
    // no mask and every column is stored, with no test in the loop (the ragged block tests).
    // (Macros, not closures: a closure is a function of its own, without this one's target
    // features, and its intrinsics would not be inlined.)
    macro_rules! block {
        ($p0:expr, $cols:expr, $whole:literal) => {{
            let (p0, cols): (usize, usize) = ($p0, $cols);
            let mask = ((1u32 << cols) - 1) as __mmask16;
            for g in 0..W / 4 {
                macro_rules! row {
                    ($r:literal) => {{
                        let i = 4 * g + $r;
                        if i < live {
                            let at = src.wrapping_offset(i as isize * rs + p0 as isize);
                            // SAFETY: row i < live holds columns p0..p0 + cols (p0 + cols <=
                            // depth), readable (caller); masked-off lanes are not read.
                            unsafe {
                                if $whole {
                                    _mm512_loadu_ps(at)
                                } else {
                                    _mm512_maskz_loadu_ps(mask, at)
                                }
                            }
                        } else {
                            _mm512_setzero_ps()
                        }
                    }};
                }
                let (r0, r1, r2, r3) = (row!(0), row!(1), row!(2), row!(3));
                // A 4x4 transpose inside each 128-bit lane L: afterwards lane L of c[j] holds
                // column 4L + j of the four rows.
                let t0 = _mm512_unpacklo_ps(r0, r1);
                let t1 = _mm512_unpackhi_ps(r0, r1);
                let t2 = _mm512_unpacklo_ps(r2, r3);
                let t3 = _mm512_unpackhi_ps(r2, r3);
                macro_rules! pairs {
                    ($op:ident, $a:expr, $b:expr) => {
                        _mm512_castpd_ps($op(_mm512_castps_pd($a), _mm512_castps_pd($b)))
                    };
                }
                let c = [
                    pairs!(_mm512_unpacklo_pd, t0, t2),
                    pairs!(_mm512_unpackhi_pd, t0, t2),
                    pairs!(_mm512_unpacklo_pd, t1, t3),
                    pairs!(_mm512_unpackhi_pd, t1, t3),
                ];
                macro_rules! lane {
                    ($l:literal) => {
                        for (j, v) in c.iter().enumerate() {
                            if $whole || 4 * $l + j < cols {
                                let p = p0 + 4 * $l + j;
                                // SAFETY: p < depth, so floats p*W + 4g .. +4 lie inside `dst`.
                                unsafe {
                                    _mm_storeu_ps(
                                        out.add(p * W + 4 * g),
                                        _mm512_extractf32x4_ps::<$l>(*v),
                                    )
                                };
                            }
                        }
                    };
                }
                lane!(0);
                lane!(1);
                lane!(2);
                lane!(3);
            }
        }};
    }
    let whole = depth / LANES * LANES;
    for p0 in (0..whole).step_by(LANES) {
        block!(p0, LANES, true);
    }
    if whole < depth {
        block!(whole, depth - whole, false);
    }
}

/// The AVX-512 sparse-depth forward (`sparse_depth.avx512`, [`sparse_depth::body`]): tiles of
/// up to 12 rows by two vectors (24 sums of the 32 zmm registers, as the 12x32 microkernel),
/// so the trainer's batch of 10 by 32 columns is one tile.
///
/// # Safety
/// The CPU must support AVX-512F; as [`sparse_depth::body`].
#[target_feature(enable = "avx512f")]
pub unsafe fn sparse_depth(t: &SparseDepth) {
    // SAFETY: forwarded contract, inside AVX-512F code.
    unsafe { sparse_depth::body::<Avx512, 12, 2>(t) }
}
