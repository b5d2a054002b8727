//! aarch64 NEON GEMM microkernels (`sgemm.neon.*`): the vector operations of the shared
//! microkernel ([`super::microkernel`]) for 4-lane q registers. Only reached through an
//! [`crate::isa::Isa::Neon`] that was checked against the CPU (NEON is baseline on aarch64).
//!
//! aarch64 has 32 q registers, so a tile can hold 24 accumulators: 8x12 (8 rows by 3 vectors:
//! 24 accumulators, 3 B vectors, 2 A vectors = 29 registers), the shape of OpenBLAS's and
//! BLIS's Cortex-A / Neoverse sgemm kernels, and 12x8 (24 accumulators, 2 B vectors, 3 A
//! vectors). On packed A the k step loads the tile's column of A as whole vectors and
//! multiplies by element (`fmla v.4s, v.4s, v.s[lane]`): per k step, 8x12 issues 24 FMAs for
//! 5 loads instead of 24 FMAs for 3 loads and 8 broadcasts.

use super::microkernel::{self, Lanes};
use super::rank_k::{self, RankK};
use super::sparse_depth::{self, SparseDepth};
use super::Tile;
use core::arch::aarch64::*;

/// Floats per q register.
pub const LANES: usize = 4;

/// The NEON family's vector operations.
pub struct Neon;

// SAFETY (every method): the trait's contract: only called from inside the microkernel for a
// CPU checked to have NEON; pointer arguments readable/writable for the lanes touched.
impl Lanes for Neon {
    type V = float32x4_t;
    /// The number of live lanes (0..=4): NEON has no masked loads or stores, so ragged vectors
    /// go lane by lane.
    type Mask = usize;
    const LANES: usize = LANES;
    const BLEND_RAGGED_STORES: bool = false;
    const LANE_FMA: bool = true;

    #[inline(always)]
    unsafe fn zero() -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vdupq_n_f32(0.0) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vdupq_n_f32(x) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> float32x4_t {
        // SAFETY: see the impl; `p` is readable (caller).
        unsafe { vld1q_dup_f32(p) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> float32x4_t {
        // SAFETY: see the impl; 4 floats at `p` are readable (caller).
        unsafe { vld1q_f32(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f32, live: usize) -> float32x4_t {
        let mut buf = [0.0f32; LANES];
        // SAFETY: see the impl; only the `live` lanes at `p` are read.
        unsafe {
            std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), live.min(LANES));
            vld1q_f32(buf.as_ptr())
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: float32x4_t) {
        // SAFETY: see the impl; 4 floats at `p` are writable (caller).
        unsafe { vst1q_f32(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(p: *mut f32, live: usize, v: float32x4_t) {
        let mut buf = [0.0f32; LANES];
        // SAFETY: see the impl; only the `live` lanes at `p` are written.
        unsafe {
            vst1q_f32(buf.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(buf.as_ptr(), p, live.min(LANES));
        }
    }
    #[inline(always)]
    unsafe fn blend(old: float32x4_t, new: float32x4_t, live: usize) -> float32x4_t {
        // SAFETY: see the impl; register-only intrinsics.
        unsafe {
            let idx = vld1q_u32([0u32, 1, 2, 3].as_ptr());
            let m = vcltq_u32(idx, vdupq_n_u32(live as u32));
            vbslq_f32(m, new, old)
        }
    }
    #[inline(always)]
    unsafe fn fmadd(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vfmaq_f32(c, a, b) }
    }
    #[inline(always)]
    unsafe fn fmadd_lane(
        b: float32x4_t,
        a: float32x4_t,
        lane: usize,
        c: float32x4_t,
    ) -> float32x4_t {
        // SAFETY: see the impl. `lane` is a constant after the microkernel's loops unroll, so
        // the match folds to one `fmla v.4s, v.4s, v.s[lane]`.
        unsafe {
            match lane {
                0 => vfmaq_laneq_f32::<0>(c, b, a),
                1 => vfmaq_laneq_f32::<1>(c, b, a),
                2 => vfmaq_laneq_f32::<2>(c, b, a),
                _ => vfmaq_laneq_f32::<3>(c, b, a),
            }
        }
    }
    #[inline(always)]
    unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: see the impl.
        unsafe { vmulq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn mask(cols: usize, h: usize) -> usize {
        cols.saturating_sub(LANES * h).min(LANES)
    }

    const RANK_K_REGS: usize = 24;

    #[inline(always)]
    unsafe fn rank_k<const K: usize>(t: &RankK) {
        // SAFETY: forwarded contract (NEON checked when the kernel was chosen).
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
        // SAFETY: forwarded contract (NEON checked when the kernel was chosen; it is baseline
        // on aarch64, so no target-feature wrapper is needed).
        unsafe { microkernel::body::<Neon, PACKED, MASK_B, MR, NV, R, H>(t) }
    }
}

/// The NEON microkernel `MR` rows by `NV` q vectors (`sgemm.neon.<MR>x<4*NV>`).
///
/// # Safety
/// The CPU must support NEON, and `t` must satisfy the microkernel contract in [`super`] with
/// `mr = MR`, `nr = 4*NV` (unit column stride for C).
pub unsafe fn gemm_tile<const MR: usize, const NV: usize>(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { microkernel::gemm_tile::<Neon, MR, NV>(t) }
}

/// The shared rank-k update body compiled with NEON.
///
/// # Safety
/// The CPU must support NEON; as [`rank_k::body`].
#[target_feature(enable = "neon")]
unsafe fn rank_k_body<const K: usize>(t: &RankK) {
    // SAFETY: forwarded contract, inside NEON code.
    unsafe {
        match rank_k::vectors_for(K, Neon::RANK_K_REGS) {
            1 => rank_k::body::<Neon, K, 1>(t),
            _ => rank_k::body::<Neon, K, 2>(t),
        }
    }
}

/// The NEON rank-k update (`rank_k.neon`).
///
/// # Safety
/// The CPU must support NEON, and `t` must satisfy [`rank_k::body`]'s contract.
pub unsafe fn rank_k_update(t: &RankK) {
    // SAFETY: forwarded contract.
    unsafe { rank_k::by_depth::<Neon>(t) }
}

/// The NEON sparse-depth forward (`sparse_depth.neon`, [`sparse_depth::body`]): tiles of up
/// to 6 rows by four vectors (24 sums, four rows of B and a broadcast: 29 of the 32 registers).
///
/// # Safety
/// The CPU must support NEON; as [`sparse_depth::body`].
#[target_feature(enable = "neon")]
pub unsafe fn sparse_depth(t: &SparseDepth) {
    // SAFETY: forwarded contract, inside NEON code.
    unsafe { sparse_depth::body::<Neon, 6, 4>(t) }
}
