//! x86-64 AVX-512F GEMM microkernels (`sgemm.avx512.6x32`, `sgemm.avx512.12x32`). Only reached
//! through an [`crate::isa::Isa::Avx512`] that was checked against the CPU.
//!
//! Register tile: `MR` rows (6 or 12) x 32 columns = 12 or 24 zmm accumulators, 2 zmm for the B
//! row and 1 for the broadcast A element (15 or 27 of the 32 zmm registers). Per k step: 2 loads,
//! `MR` broadcasts and `2*MR` FMAs of 16 lanes, half the instructions per multiply-add of the
//! 6x16 AVX2 kernel (on Zen 4, which runs each 512-bit FMA as two 256-bit halves, that is what
//! lifts the issue-bound AVX2 kernel); the taller tile loads B half as often per FMA. The body is
//! generic over the live rows `R` (1..=MR) and 16-lane halves `H` (1 or 2), so an edge tile of 4
//! rows or 10 columns does only the work it needs.
//! The arithmetic is the contract's fixed recurrence (see [`super`]), so results are bit-identical
//! to the AVX2 and scalar kernels for any blocking.

use super::Tile;
use core::arch::x86_64::*;

/// Columns of the AVX-512 tile: two 16-lane vectors.
pub const NR: usize = 32;

/// The 6x32 AVX-512 microkernel (`sgemm.avx512.6x32`: 12 zmm accumulators).
///
/// # Safety
/// The CPU must support AVX-512F, and `t` must satisfy the microkernel contract in [`super`]
/// with `mr = 6`, `nr = 32` (unit column stride for C).
pub unsafe fn gemm_tile_6x32(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { gemm_tile::<6>(t) }
}

/// The 12x32 AVX-512 microkernel (`sgemm.avx512.12x32`: 24 zmm accumulators).
///
/// # Safety
/// As [`gemm_tile_6x32`] with `mr = 12`.
pub unsafe fn gemm_tile_12x32(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { gemm_tile::<12>(t) }
}

/// An AVX-512 microkernel `MR` rows tall: picks the body for packed or strided operands.
///
/// # Safety
/// As [`gemm_tile_6x32`] with `mr = MR`.
unsafe fn gemm_tile<const MR: usize>(t: &Tile) {
    // SAFETY: forwarded contract; `rows` and the half count match the tile (see `by_shape`).
    unsafe {
        if t.b_full_rows < t.k {
            by_shape::<MR, false, true>(t)
        } else if t.rsa == 1 && t.csa == MR as isize && t.rsb == NR as isize {
            by_shape::<MR, true, false>(t)
        } else {
            by_shape::<MR, false, false>(t)
        }
    }
}

/// Calls `$f::<PACKED, MASK_B, R, H>` for the tile's live rows `R` (1 to 12) and 16-lane halves
/// `H`, with `PACKED` a packed A panel of `$mr` rows.
macro_rules! dispatch_rows {
    ($t:expr, $mr:expr, $packed:expr, $mask:expr, [$($r:literal)*]) => {{
        let halves = if $t.cols > 16 { 2 } else { 1 };
        match ($t.rows, halves) {
            $(
                ($r, 2) if $r <= $mr => tile_impl::<$packed, $mask, $mr, $r, 2>($t),
                ($r, 1) if $r <= $mr => tile_impl::<$packed, $mask, $mr, $r, 1>($t),
            )*
            _ => unreachable!("tile of {} rows in a kernel of {}", $t.rows, $mr),
        }
    }};
}

/// Picks the monomorphised body for the tile's live rows and halves.
///
/// # Safety
/// As [`gemm_tile`].
unsafe fn by_shape<const MR: usize, const PACKED: bool, const MASK_B: bool>(t: &Tile) {
    // SAFETY: forwarded contract; R == t.rows <= MR and H covers t.cols.
    unsafe {
        if MR == 12 {
            dispatch_rows!(t, 12, PACKED, MASK_B, [12 11 10 9 8 7 6 5 4 3 2 1])
        } else {
            dispatch_rows!(t, 6, PACKED, MASK_B, [6 5 4 3 2 1])
        }
    }
}

/// Lane masks selecting columns `j < cols` of the two 16-lane halves of a 32-column row.
fn column_masks(cols: usize) -> [__mmask16; 2] {
    let bits = if cols >= 32 {
        u32::MAX
    } else {
        (1u32 << cols) - 1
    };
    [bits as u16, (bits >> 16) as u16]
}

/// `R` rows of `H` halves from `ptr` (row stride `rs`, unit column stride): whole halves where
/// the half is full or the row may be read wide, else only the live lanes.
///
/// Forced inline into the kernel (not a `#[target_feature]` function itself, which could not be):
/// a separate call would pass the tile through memory.
///
/// # Safety
/// The CPU must support AVX-512F; rows `i < R` must hold `cols` readable floats, or 32 when
/// `wide`.
#[inline(always)]
unsafe fn load_rows<const R: usize, const H: usize, const FULL: bool>(
    ptr: *const f32,
    rs: isize,
    wide: bool,
    masks: &[__mmask16; 2],
) -> [[__m512; H]; R] {
    // SAFETY: AVX-512F is available (caller's contract).
    let mut out = [[unsafe { _mm512_setzero_ps() }; H]; R];
    for (i, row) in out.iter_mut().enumerate() {
        let p = ptr.wrapping_offset(i as isize * rs);
        for (h, v) in row.iter_mut().enumerate() {
            let q = p.wrapping_add(16 * h);
            // SAFETY: AVX-512F is available; plain loads where the half is full or the row may be read 32 wide (masked
            // loads are slow on Zen 4), else only the live cells are read (caller's contract).
            *v = unsafe {
                if FULL || wide || masks[h] == u16::MAX {
                    _mm512_loadu_ps(q)
                } else {
                    _mm512_maskz_loadu_ps(masks[h], q)
                }
            };
        }
    }
    out
}

#[target_feature(enable = "avx512f")]
unsafe fn tile_impl<
    const PACKED: bool,
    const MASK_B: bool,
    const MR: usize,
    const R: usize,
    const H: usize,
>(
    t: &Tile,
) {
    let masks = column_masks(t.cols);
    let (rsa, csa, rsb) = if PACKED {
        (1isize, MR as isize, NR as isize)
    } else {
        (t.rsa, t.csa, t.rsb)
    };
    let a: [*const f32; R] = std::array::from_fn(|i| t.a.wrapping_offset(i as isize * rsa));
    let mut b = t.b;
    let mut acc = if t.load {
        // SAFETY: C rows hold `cols` readable floats, or 32 with c_full_rows (contract).
        unsafe { load_rows::<R, H, false>(t.c, t.rsc, t.c_full_rows, &masks) }
    } else {
        [[_mm512_setzero_ps(); H]; R]
    };
    let mut off = 0isize;
    // One k step; `$masked` rows read B through the column masks. Rows of B that hold 32
    // readable floats come first, so the common loop carries no per-row test.
    macro_rules! k_steps {
        ($range:expr, $masked:expr) => {
            for _ in $range {
                let mut bv = [_mm512_setzero_ps(); H];
                for (h, v) in bv.iter_mut().enumerate() {
                    let ptr = b.wrapping_add(16 * h);
                    // SAFETY: the first b_full_rows rows of the B strip hold 32 readable floats,
                    // the rest `cols`, read through masks (masked-off lanes are not read).
                    *v = unsafe {
                        if $masked {
                            _mm512_maskz_loadu_ps(masks[h], ptr)
                        } else {
                            _mm512_loadu_ps(ptr)
                        }
                    };
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    // SAFETY: rows i < R = rows are valid rows of the A strip and
                    // `off = p*csa`, p < k.
                    let x = _mm512_set1_ps(unsafe { *a[i].offset(off) });
                    for (c, v) in row.iter_mut().zip(bv) {
                        *c = _mm512_fmadd_ps(x, v, *c);
                    }
                }
                b = b.wrapping_offset(rsb);
                off += csa;
            }
        };
    }
    let whole = if MASK_B { t.b_full_rows.min(t.k) } else { t.k };
    k_steps!(0..whole, false);
    if MASK_B {
        k_steps!(whole..t.k, true);
    }
    // SAFETY: forwarded contract (R == rows, H halves cover cols, C contiguous).
    unsafe {
        if t.cols == 16 * H {
            write_tile::<R, H, true>(t, acc, &masks)
        } else {
            write_tile::<R, H, false>(t, acc, &masks)
        }
    };
}

/// The end of every tile: the raw partial sums, or `alpha*S (+ beta*c0)` on the last k block,
/// into C's live cells. `FULL` says at compile time that every half is full. Forced inline into
/// the kernel, as [`load_rows`] is.
///
/// # Safety
/// The CPU must support AVX-512F; the tile contract, with `R == t.rows`, `H` halves covering
/// `t.cols`, and C contiguous.
#[inline(always)]
unsafe fn write_tile<const R: usize, const H: usize, const FULL: bool>(
    t: &Tile,
    mut acc: [[__m512; H]; R],
    masks: &[__mmask16; 2],
) {
    // SAFETY (every intrinsic below): AVX-512F is available (caller's contract).
    if t.finish {
        let alpha = unsafe { _mm512_set1_ps(t.alpha) };
        for row in acc.iter_mut() {
            for v in row.iter_mut() {
                *v = unsafe { _mm512_mul_ps(alpha, *v) };
            }
        }
        if t.beta != 0.0 {
            // Every row is loaded before any is stored: a ragged row's store shares a cache line
            // with the next row's start, and loading that row afterwards would stall on
            // store-to-load forwarding.
            // SAFETY: c0 rows hold `cols` readable floats, or 32 with c0_full_rows (contract).
            let old = unsafe { load_rows::<R, H, FULL>(t.c0, t.rs0, t.c0_full_rows, masks) };
            let beta = unsafe { _mm512_set1_ps(t.beta) };
            for (row, o) in acc.iter_mut().zip(&old) {
                for (v, &c) in row.iter_mut().zip(o) {
                    *v = unsafe { _mm512_fmadd_ps(beta, c, *v) };
                }
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        let c = t.c.wrapping_offset(i as isize * t.rsc);
        for (h, &v) in row.iter().enumerate() {
            let ptr = c.wrapping_add(16 * h);
            // SAFETY: row i < rows of the C tile; the mask selects exactly the cells j < cols
            // of this half.
            unsafe {
                if FULL || masks[h] == u16::MAX {
                    _mm512_storeu_ps(ptr, v);
                } else if masks[h] != 0 {
                    _mm512_mask_storeu_ps(ptr, masks[h], v);
                }
            }
        }
    }
}
