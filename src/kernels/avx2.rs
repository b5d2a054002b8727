//! x86-64 AVX2 + FMA kernels. Every function here is `#[target_feature(enable = "avx2,fma")]`
//! and is only reached through an [`crate::isa::Isa::Avx2`] that was checked against the CPU.

use super::{Tile, MR, NR};
use core::arch::x86_64::*;

/// AVX2 GEMM microkernel (`sgemm.avx2.6x16`).
///
/// Register tile: 6 rows x 16 columns = 12 ymm accumulators, plus 2 ymm for the B row and 1 for
/// the broadcast A element: 15 of the 16 ymm registers. Each k step issues 12 independent FMAs,
/// enough to cover the FMA latency (4-5 cycles) on two FMA pipes.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `t` must satisfy the microkernel contract in [`super`].
pub unsafe fn gemm_tile(t: &Tile) {
    if t.rsa == 1 && t.csa == MR as isize && t.rsb == NR as isize {
        // SAFETY: forwarded contract; packed strides are the constants the specialisation assumes.
        unsafe { tile_impl::<true>(t) }
    } else {
        // SAFETY: forwarded contract.
        unsafe { tile_impl::<false>(t) }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn tile_impl<const PACKED: bool>(t: &Tile) {
    let (rsa, csa, rsb) = if PACKED {
        (1isize, MR as isize, NR as isize)
    } else {
        (t.rsa, t.csa, t.rsb)
    };
    // Packed panels are zero-padded to MR rows. Unpacked, rows past `rows` repeat the last valid
    // row: they are computed and thrown away, which keeps the loop branch-free without reading
    // outside A.
    let last = if PACKED {
        MR as isize - 1
    } else {
        (t.rows - 1) as isize
    };
    let row = |i: isize| t.a.wrapping_offset(i.min(last) * rsa);
    let (a0, a1, a2, a3, a4, a5) = (row(0), row(1), row(2), row(3), row(4), row(5));
    let mut b = t.b;

    let zero = _mm256_setzero_ps();
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) =
        (zero, zero, zero, zero, zero, zero);
    let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) =
        (zero, zero, zero, zero, zero, zero);

    let mut off = 0isize;
    for _ in 0..t.k {
        // SAFETY: row p of the B strip holds NR = 16 readable floats; A rows a0..a5 are valid
        // rows of the strip and `off = p*csa` with p < k (contract).
        unsafe {
            let b0 = _mm256_loadu_ps(b);
            let b1 = _mm256_loadu_ps(b.add(8));
            let x = _mm256_broadcast_ss(&*a0.offset(off));
            c00 = _mm256_fmadd_ps(x, b0, c00);
            c01 = _mm256_fmadd_ps(x, b1, c01);
            let x = _mm256_broadcast_ss(&*a1.offset(off));
            c10 = _mm256_fmadd_ps(x, b0, c10);
            c11 = _mm256_fmadd_ps(x, b1, c11);
            let x = _mm256_broadcast_ss(&*a2.offset(off));
            c20 = _mm256_fmadd_ps(x, b0, c20);
            c21 = _mm256_fmadd_ps(x, b1, c21);
            let x = _mm256_broadcast_ss(&*a3.offset(off));
            c30 = _mm256_fmadd_ps(x, b0, c30);
            c31 = _mm256_fmadd_ps(x, b1, c31);
            let x = _mm256_broadcast_ss(&*a4.offset(off));
            c40 = _mm256_fmadd_ps(x, b0, c40);
            c41 = _mm256_fmadd_ps(x, b1, c41);
            let x = _mm256_broadcast_ss(&*a5.offset(off));
            c50 = _mm256_fmadd_ps(x, b0, c50);
            c51 = _mm256_fmadd_ps(x, b1, c51);
        }
        b = b.wrapping_offset(rsb);
        off += csa;
    }

    let alpha = _mm256_set1_ps(t.alpha);
    let acc = [
        [c00, c01],
        [c10, c11],
        [c20, c21],
        [c30, c31],
        [c40, c41],
        [c50, c51],
    ];
    if t.rows == MR && t.cols == NR && t.csc == 1 {
        let beta = _mm256_set1_ps(t.beta);
        for (i, [lo, hi]) in acc.into_iter().enumerate() {
            let c = t.c.wrapping_offset(i as isize * t.rsc);
            let mut lo = _mm256_mul_ps(alpha, lo);
            let mut hi = _mm256_mul_ps(alpha, hi);
            // SAFETY: full tile with unit column stride: 16 contiguous writable (and, when beta
            // != 0, readable) cells per row (contract).
            unsafe {
                if t.beta != 0.0 {
                    lo = _mm256_fmadd_ps(beta, _mm256_loadu_ps(c), lo);
                    hi = _mm256_fmadd_ps(beta, _mm256_loadu_ps(c.add(8)), hi);
                }
                _mm256_storeu_ps(c, lo);
                _mm256_storeu_ps(c.add(8), hi);
            }
        }
        return;
    }
    // Edge tile or strided C: go through a temporary tile with the same arithmetic.
    let mut tmp = [[0.0f32; NR]; MR];
    for (dst, [lo, hi]) in tmp.iter_mut().zip(acc) {
        // SAFETY: `dst` is a 16-float array; unaligned stores are allowed.
        unsafe {
            _mm256_storeu_ps(dst.as_mut_ptr(), _mm256_mul_ps(alpha, lo));
            _mm256_storeu_ps(dst.as_mut_ptr().add(8), _mm256_mul_ps(alpha, hi));
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
