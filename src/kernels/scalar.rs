//! Portable kernels, always built and tested: the reference every SIMD path is checked against.

use super::{Tile, MR, NR};

/// Portable GEMM microkernel (`sgemm.scalar.6x16`): plain multiply-add (unfused, so it is fast on
/// any target), accumulators in a local array the compiler keeps in vector registers.
///
/// # Safety
/// See the microkernel contract in [`super`].
pub unsafe fn gemm_tile(t: &Tile) {
    let mut acc = [[0.0f32; NR]; MR];
    let last = t.rows - 1;
    for p in 0..t.k {
        // SAFETY: row p of the B strip holds NR readable floats (contract).
        let brow: &[f32; NR] = unsafe { &*(t.b.offset(p as isize * t.rsb) as *const [f32; NR]) };
        for (i, acc_row) in acc.iter_mut().enumerate() {
            let r = i.min(last) as isize;
            // SAFETY: row r < rows and column p < k of A are inside the strip (contract).
            let a = unsafe { *t.a.offset(r * t.rsa + p as isize * t.csa) };
            for (acc_ij, &b) in acc_row.iter_mut().zip(brow) {
                *acc_ij += a * b;
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate().take(t.rows) {
        for (j, &v) in acc_row.iter().enumerate().take(t.cols) {
            // SAFETY: (i, j) is a valid cell of the C tile (contract).
            let c = unsafe { &mut *t.c.offset(i as isize * t.rsc + j as isize * t.csc) };
            let scaled = t.alpha * v;
            *c = if t.beta == 0.0 {
                scaled
            } else {
                scaled + t.beta * *c
            };
        }
    }
}
