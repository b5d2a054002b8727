//! x86-64 AVX2 + FMA GEMM microkernels (`sgemm.avx2.*`): the vector operations of the shared
//! microkernel ([`super::microkernel`]) for 8-lane ymm vectors, and its `#[target_feature]`
//! wrapper. Only reached through an [`crate::isa::Isa::Avx2`] that was checked against the CPU.
//!
//! With 16 ymm registers: 6x16 (12 accumulators, 2 B vectors, 1 broadcast: 15 registers; each k
//! step issues 12 independent FMAs, enough to cover a 4-5 cycle FMA latency on two pipes) and
//! 4x24 (12 accumulators, 3 B vectors, 1 broadcast: 16).

use super::microkernel::{self, Lanes};
use super::rank_k::{self, RankK};
use super::sparse_depth::{self, SparseDepth};
use super::Tile;
use core::arch::x86_64::*;

/// Floats per ymm vector.
pub const LANES: usize = 8;

/// The AVX2 + FMA family's vector operations.
pub struct Avx2;

// SAFETY (every method): the trait's contract: only called from inside `tile_body` below, which
// has AVX2 and FMA enabled and is only reached for a CPU that was checked to have them.
impl Lanes for Avx2 {
    type V = __m256;
    type Mask = __m256i;
    const LANES: usize = LANES;
    // vmaskmovps stores are slow on AMD.
    const BLEND_RAGGED_STORES: bool = true;

    #[inline(always)]
    unsafe fn zero() -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m256 {
        // SAFETY: see the impl; `p` is readable (caller).
        unsafe { _mm256_broadcast_ss(&*p) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        // SAFETY: see the impl; 8 floats at `p` are readable (caller).
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f32, m: __m256i) -> __m256 {
        // SAFETY: see the impl; masked-off lanes are not read.
        unsafe { _mm256_maskload_ps(p, m) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        // SAFETY: see the impl; 8 floats at `p` are writable (caller).
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f32, m: __m256i, v: __m256) {
        // SAFETY: see the impl; masked-off lanes are not written.
        unsafe { _mm256_maskstore_ps(p, m, v) }
    }
    #[inline(always)]
    unsafe fn blend(old: __m256, new: __m256, m: __m256i) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_blendv_ps(old, new, _mm256_castsi256_ps(m)) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mask(cols: usize, h: usize) -> __m256i {
        let live = cols.saturating_sub(LANES * h).min(LANES) as i32;
        // SAFETY: see the impl.
        unsafe {
            _mm256_cmpgt_epi32(
                _mm256_set1_epi32(live),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            )
        }
    }

    // Only the held form reads this, and AVX2 runs the streamed one (see `rank_k_body`).
    const RANK_K_REGS: usize = 12;

    #[inline(always)]
    unsafe fn rank_k<const K: usize>(t: &RankK) {
        // SAFETY: forwarded contract (AVX2 and FMA checked when the kernel was chosen).
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
        // SAFETY: forwarded contract (AVX2 and FMA checked when the kernel was chosen).
        unsafe { tile_body::<PACKED, MASK_B, MR, NV, R, H>(t) }
    }
}

/// The shared microkernel body compiled with AVX2 and FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA; as [`microkernel::body`].
#[target_feature(enable = "avx2,fma")]
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
    // SAFETY: forwarded contract, inside AVX2 + FMA code.
    unsafe { microkernel::body::<Avx2, PACKED, MASK_B, MR, NV, R, H>(t) }
}

/// The AVX2 microkernel `MR` rows by `NV` ymm vectors (`sgemm.avx2.<MR>x<8*NV>`).
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `t` must satisfy the microkernel contract in
/// [`super`] with `mr = MR`, `nr = 8*NV` (unit column stride for C).
pub unsafe fn gemm_tile<const MR: usize, const NV: usize>(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { microkernel::gemm_tile::<Avx2, MR, NV>(t) }
}

/// The shared rank-k update compiled with AVX2 and FMA, in its streamed form
/// ([`rank_k::streamed_body`]): with 16 ymm registers the held form ([`rank_k::body`]) cannot
/// keep `D`'s rows, the sums and the broadcasts in registers at the book's depth and spills.
/// Blocks of 2 rows by 4 vectors (32 columns), or 4 rows by 2 vectors when that leaves fewer
/// lanes of the ragged last chunk idle.
///
/// Measured against the held form on an AMD EPYC Zen 3 (family 25 model 1, one pinned core,
/// `perf-gate --base` with the held form as the base, 196 pairs): the trainer's update 784x10x30
/// on padded rows with beta = decay -22.6 % [-23.0, -22.3] (8.5 -> 6.5 us), the plain
/// 784x10x30 on rows of 30 -19.4 % (11.7 -> 9.5 us), the whole small-batch step -10.9 %. In an
/// interleaved probe of the block shapes (a first version, one core, best of 15, GFLOP/s,
/// k = 10), 784x32: held 57.6, 2x4 68.0, 4x2 71.8; 784x112: held 54.1, 2x4 67.8, 4x2 39.1
/// (half of its last chunk idle); 30x16: held 61.3, 2x4 74.2, 4x2 12.0.
///
/// # Safety
/// The CPU must support AVX2 and FMA; as [`rank_k::body`].
#[target_feature(enable = "avx2,fma")]
unsafe fn rank_k_body<const K: usize>(t: &RankK) {
    // SAFETY: forwarded contract, inside AVX2 and FMA code.
    unsafe {
        // The wider chunk unless its ragged last chunk leaves more lanes idle than the
        // narrower one's would (30 columns: 2 idle either way, so 4 vectors; 16 or 112: 16
        // idle against none, so 2).
        let idle = |width: usize| (width - t.cols % width) % width;
        if idle(4 * LANES) <= idle(2 * LANES) {
            rank_k::streamed_body::<Avx2, K, 4, 2>(t)
        } else {
            rank_k::streamed_body::<Avx2, K, 2, 4>(t)
        }
    }
}

/// The AVX2 and FMA rank-k update (`rank_k.avx2`).
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `t` must satisfy [`rank_k::body`]'s contract.
pub unsafe fn rank_k_update(t: &RankK) {
    // SAFETY: forwarded contract.
    unsafe { rank_k::by_depth::<Avx2>(t) }
}

/// Packs one 16-column panel of B whose columns are contiguous (unit row stride, columns `cs`
/// floats apart: the transpose of a row-major matrix, as the trainer's backward product reads
/// `W^T`): `dst[p*16 + j] = src[j*cs + p]` for `j < live`, zero for `live <= j < 16`. A copy
/// through 8x8 transposes (`transpose_panel`), where the portable packer gathers one float
/// per load.
///
/// # Safety
/// The CPU must support AVX2; `src.offset(j*cs + p)` must be readable for `j < live <= 16`,
/// `p < depth`; `dst` must hold `16*depth` floats.
pub unsafe fn pack_b_panel_16(
    src: *const f32,
    cs: isize,
    live: usize,
    depth: usize,
    dst: &mut [f32],
) {
    // SAFETY: forwarded contract.
    unsafe { transpose_panel::<16>(src, cs, live, depth, dst) }
}

/// [`pack_b_panel_16`] for 24-column panels (the 4x24 kernel).
///
/// # Safety
/// As [`pack_b_panel_16`] with 24 columns.
pub unsafe fn pack_b_panel_24(
    src: *const f32,
    cs: isize,
    live: usize,
    depth: usize,
    dst: &mut [f32],
) {
    // SAFETY: forwarded contract.
    unsafe { transpose_panel::<24>(src, cs, live, depth, dst) }
}

/// `dst[p*W + i] = src[i*rs + p]` for `i < live`, `0.0` for `live <= i < W`, `p < depth`
/// (`W` a multiple of 8): each block of 8 columns of 8 rows is loaded (the last, ragged block
/// through a mask, which reads nothing past the live columns), transposed in registers
/// (unpack, shuffle, then swap 128-bit halves) and stored as 8 contiguous floats per column. A
/// copy: no arithmetic, so no bit of any float changes.
///
/// # Safety
/// The CPU must support AVX2; `src.offset(i*rs + p)` must be readable for `i < live <= W`,
/// `p < depth`; `dst` must hold `W*depth` floats.
#[target_feature(enable = "avx2")]
unsafe fn transpose_panel<const W: usize>(
    src: *const f32,
    rs: isize,
    live: usize,
    depth: usize,
    dst: &mut [f32],
) {
    const { assert!(W.is_multiple_of(LANES)) };
    assert!(
        live <= W && dst.len() >= W * depth,
        "a {W}-wide panel of depth {depth}"
    );
    let out = dst.as_mut_ptr();
    for p0 in (0..depth).step_by(LANES) {
        let cols = (depth - p0).min(LANES);
        let mask = _mm256_cmpgt_epi32(
            _mm256_set1_epi32(cols as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        );
        for g in 0..W / LANES {
            // (Macros, not closures: a closure is a function of its own, without this one's
            // target features, and its intrinsics would not be inlined.)
            macro_rules! row {
                ($r:literal) => {{
                    let i = LANES * g + $r;
                    if i < live {
                        let at = src.wrapping_offset(i as isize * rs + p0 as isize);
                        // SAFETY: row i < live holds columns p0..p0 + cols (p0 + cols <=
                        // depth), readable (caller); masked-off lanes are not read.
                        unsafe { _mm256_maskload_ps(at, mask) }
                    } else {
                        _mm256_setzero_ps()
                    }
                }};
            }
            let r = [
                row!(0),
                row!(1),
                row!(2),
                row!(3),
                row!(4),
                row!(5),
                row!(6),
                row!(7),
            ];
            let t = [
                _mm256_unpacklo_ps(r[0], r[1]),
                _mm256_unpackhi_ps(r[0], r[1]),
                _mm256_unpacklo_ps(r[2], r[3]),
                _mm256_unpackhi_ps(r[2], r[3]),
                _mm256_unpacklo_ps(r[4], r[5]),
                _mm256_unpackhi_ps(r[4], r[5]),
                _mm256_unpacklo_ps(r[6], r[7]),
                _mm256_unpackhi_ps(r[6], r[7]),
            ];
            // Within each 128-bit half, u[c] holds column c (and c + 4 in the upper half) of
            // rows 0-3 (u[0..4]) or rows 4-7 (u[4..8]).
            let u = [
                _mm256_shuffle_ps::<0x44>(t[0], t[2]),
                _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
                _mm256_shuffle_ps::<0x44>(t[1], t[3]),
                _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
                _mm256_shuffle_ps::<0x44>(t[4], t[6]),
                _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
                _mm256_shuffle_ps::<0x44>(t[5], t[7]),
                _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
            ];
            let c = [
                _mm256_permute2f128_ps::<0x20>(u[0], u[4]),
                _mm256_permute2f128_ps::<0x20>(u[1], u[5]),
                _mm256_permute2f128_ps::<0x20>(u[2], u[6]),
                _mm256_permute2f128_ps::<0x20>(u[3], u[7]),
                _mm256_permute2f128_ps::<0x31>(u[0], u[4]),
                _mm256_permute2f128_ps::<0x31>(u[1], u[5]),
                _mm256_permute2f128_ps::<0x31>(u[2], u[6]),
                _mm256_permute2f128_ps::<0x31>(u[3], u[7]),
            ];
            for (j, v) in c.iter().enumerate().take(cols) {
                // SAFETY: p0 + j < depth, so floats (p0 + j)*W + 8g .. +8 lie inside `dst`.
                unsafe { _mm256_storeu_ps(out.add((p0 + j) * W + LANES * g), *v) };
            }
        }
    }
}

/// The AVX2 sparse-depth forward (`sparse_depth.avx2`, [`sparse_depth::body`]): tiles of up
/// to 6 rows by two vectors (12 sums, two rows of B and a broadcast: 15 of the 16 ymm
/// registers, as the 6x16 microkernel).
///
/// # Safety
/// The CPU must support AVX2 and FMA; as [`sparse_depth::body`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sparse_depth(t: &SparseDepth) {
    // SAFETY: forwarded contract, inside AVX2 and FMA code.
    unsafe { sparse_depth::body::<Avx2, 6, 2>(t) }
}
