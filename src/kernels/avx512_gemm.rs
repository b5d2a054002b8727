//! x86-64 AVX-512F GEMM microkernel (`sgemm.avx512.6x32`). Only reached through an
//! [`crate::isa::Isa::Avx512`] that was checked against the CPU.
//!
//! Register tile: 6 rows x 32 columns = 12 zmm accumulators, 2 zmm for the B row and 1 for the
//! broadcast A element, 15 of the 32 zmm registers. Per k step: 2 loads, 6 broadcasts and 12
//! FMAs of 16 lanes, so half the instructions per multiply-add of the 6x16 AVX2 kernel; on Zen 4,
//! which runs each 512-bit FMA as two 256-bit halves, that is what lifts the issue-bound AVX2
//! kernel. Each cell is `fma(beta, c, alpha*acc)` summed in k order with fused multiply-adds,
//! exactly as in the AVX2 kernel, so both give bit-identical results.

use super::{Tile, MR};
use core::arch::x86_64::*;

/// Columns of the AVX-512 tile: two 16-lane vectors.
pub const NR: usize = 32;

/// AVX-512 GEMM microkernel.
///
/// # Safety
/// The CPU must support AVX-512F, and `t` must satisfy the microkernel contract in [`super`]
/// with `nr = 32`.
pub unsafe fn gemm_tile(t: &Tile) {
    // SAFETY (all arms): forwarded contract; the packed arm's strides are the constants the
    // specialisation assumes, and ragged in-place B rows are only read through masks.
    unsafe {
        if t.b_full_rows < t.k {
            tile_impl::<false, true>(t)
        } else if t.rsa == 1 && t.csa == MR as isize && t.rsb == NR as isize {
            tile_impl::<true, false>(t)
        } else {
            tile_impl::<false, false>(t)
        }
    }
}

/// Lane masks selecting columns `j < cols` of the two 16-lane halves of a 32-column row.
fn column_masks(cols: usize) -> (__mmask16, __mmask16) {
    let bits = if cols >= 32 {
        u32::MAX
    } else {
        (1u32 << cols) - 1
    };
    (bits as u16, (bits >> 16) as u16)
}

#[target_feature(enable = "avx512f")]
unsafe fn tile_impl<const PACKED: bool, const MASK_B: bool>(t: &Tile) {
    let (mlo, mhi) = column_masks(t.cols);
    let (rsa, csa, rsb) = if PACKED {
        (1isize, MR as isize, NR as isize)
    } else {
        (t.rsa, t.csa, t.rsb)
    };
    // Packed panels are zero-padded to MR rows; unpacked, rows past `rows` repeat the last one.
    let last = if PACKED {
        MR as isize - 1
    } else {
        (t.rows - 1) as isize
    };
    let row = |i: isize| t.a.wrapping_offset(i.min(last) * rsa);
    let (a0, a1, a2, a3, a4, a5) = (row(0), row(1), row(2), row(3), row(4), row(5));
    let mut b = t.b;
    let zero = _mm512_setzero_ps();
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) =
        (zero, zero, zero, zero, zero, zero);
    let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) =
        (zero, zero, zero, zero, zero, zero);
    let mut off = 0isize;
    for p in 0..t.k {
        // SAFETY: row p of the B strip holds 32 readable floats when p < b_full_rows, else
        // `cols` read through masks; A rows a0..a5 are valid rows of the strip and
        // `off = p*csa` with p < k (contract).
        unsafe {
            let (b0, b1) = if MASK_B && p >= t.b_full_rows {
                (
                    _mm512_maskz_loadu_ps(mlo, b),
                    _mm512_maskz_loadu_ps(mhi, b.wrapping_add(16)),
                )
            } else {
                (_mm512_loadu_ps(b), _mm512_loadu_ps(b.add(16)))
            };
            let x = _mm512_set1_ps(*a0.offset(off));
            c00 = _mm512_fmadd_ps(x, b0, c00);
            c01 = _mm512_fmadd_ps(x, b1, c01);
            let x = _mm512_set1_ps(*a1.offset(off));
            c10 = _mm512_fmadd_ps(x, b0, c10);
            c11 = _mm512_fmadd_ps(x, b1, c11);
            let x = _mm512_set1_ps(*a2.offset(off));
            c20 = _mm512_fmadd_ps(x, b0, c20);
            c21 = _mm512_fmadd_ps(x, b1, c21);
            let x = _mm512_set1_ps(*a3.offset(off));
            c30 = _mm512_fmadd_ps(x, b0, c30);
            c31 = _mm512_fmadd_ps(x, b1, c31);
            let x = _mm512_set1_ps(*a4.offset(off));
            c40 = _mm512_fmadd_ps(x, b0, c40);
            c41 = _mm512_fmadd_ps(x, b1, c41);
            let x = _mm512_set1_ps(*a5.offset(off));
            c50 = _mm512_fmadd_ps(x, b0, c50);
            c51 = _mm512_fmadd_ps(x, b1, c51);
        }
        b = b.wrapping_offset(rsb);
        off += csa;
    }
    let alpha = _mm512_set1_ps(t.alpha);
    let beta = _mm512_set1_ps(t.beta);
    let acc = [
        [c00, c01],
        [c10, c11],
        [c20, c21],
        [c30, c31],
        [c40, c41],
        [c50, c51],
    ];
    if t.csc == 1 {
        // Contiguous rows. Every C row of the tile is loaded before any is stored: a ragged
        // row's store shares a cache line with the next row's start, and loading that row after
        // the store would stall on store-to-load forwarding.
        let mut old = [[_mm512_setzero_ps(); 2]; MR];
        if t.beta != 0.0 {
            for (i, o) in old.iter_mut().enumerate().take(t.rows) {
                let c = t.c.wrapping_offset(i as isize * t.rsc);
                // SAFETY: row i < rows of the C tile. Plain loads where the row may be read 32
                // wide (c_full_rows) or the half is full; otherwise only live cells are read.
                unsafe {
                    o[0] = if mlo == u16::MAX || t.c_full_rows {
                        _mm512_loadu_ps(c)
                    } else {
                        _mm512_maskz_loadu_ps(mlo, c)
                    };
                    if mhi != 0 {
                        o[1] = if mhi == u16::MAX || t.c_full_rows {
                            _mm512_loadu_ps(c.add(16))
                        } else {
                            _mm512_maskz_loadu_ps(mhi, c.wrapping_add(16))
                        };
                    }
                }
            }
        }
        for (i, ([lo, hi], [olo, ohi])) in acc.into_iter().zip(old).enumerate().take(t.rows) {
            let c = t.c.wrapping_offset(i as isize * t.rsc);
            let mut lo = _mm512_mul_ps(alpha, lo);
            let mut hi = _mm512_mul_ps(alpha, hi);
            if t.beta != 0.0 {
                lo = _mm512_fmadd_ps(beta, olo, lo);
                hi = _mm512_fmadd_ps(beta, ohi, hi);
            }
            // SAFETY: row i < rows of the C tile; the masks select exactly the cells j < cols.
            unsafe {
                if mlo == u16::MAX {
                    _mm512_storeu_ps(c, lo);
                } else {
                    _mm512_mask_storeu_ps(c, mlo, lo);
                }
                if mhi == u16::MAX {
                    _mm512_storeu_ps(c.add(16), hi);
                } else if mhi != 0 {
                    _mm512_mask_storeu_ps(c.wrapping_add(16), mhi, hi);
                }
            }
        }
        return;
    }
    // Strided C: through a temporary tile with the same arithmetic.
    let mut tmp = [[0.0f32; NR]; MR];
    for (dst, [lo, hi]) in tmp.iter_mut().zip(acc) {
        // SAFETY: `dst` holds 32 floats.
        unsafe {
            _mm512_storeu_ps(dst.as_mut_ptr(), _mm512_mul_ps(alpha, lo));
            _mm512_storeu_ps(dst.as_mut_ptr().add(16), _mm512_mul_ps(alpha, hi));
        }
    }
    for (i, tmp_row) in tmp.iter().enumerate().take(t.rows) {
        for (j, &v) in tmp_row.iter().enumerate().take(t.cols) {
            // SAFETY: (i, j) is a valid cell of the C tile (contract).
            let c = unsafe { &mut *t.c.offset(i as isize * t.rsc + j as isize * t.csc) };
            *c = if t.beta == 0.0 {
                v
            } else {
                t.beta.mul_add(*c, v)
            };
        }
    }
}
