//! Portable memory movers for the blocked GEMM: packing panels of A and B into the contiguous,
//! zero-padded layouts the microkernels stream, and scaling C when no product is needed.
//! These touch memory through raw pointers, which is why they live beside the kernels.

use super::MAX_MR;

/// A strided matrix operand: element `(i, j)` at `ptr + i*rs + j*cs`.
#[derive(Clone, Copy, Debug)]
pub struct Strided {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

/// Packs the `rows x depth` block of `a` into panels of `MR` rows (the kernel's `mr`, at most
/// [`MAX_MR`]): panel `q`, column `p`, row `i` goes to `dst[q*MR*depth + p*MR + i]`; rows past
/// `rows` are zero.
///
/// # Safety
/// Every element `(i, p)`, `i < rows`, `p < depth`, of `a` must be readable, and `dst` must hold
/// `ceil(rows/MR)*MR*depth` floats.
pub unsafe fn pack_a(rows: usize, depth: usize, a: Strided, dst: &mut [f32], mr: usize) {
    // One copy of the loops per tile height, so the inner loops run over a constant count.
    // SAFETY (all arms): forwarded contract.
    unsafe {
        match mr {
            6 => pack_a_rows::<6>(rows, depth, a, dst),
            12 => pack_a_rows::<12>(rows, depth, a, dst),
            _ => {
                assert!((1..=MAX_MR).contains(&mr), "a tile of {mr} rows");
                pack_a_any(rows, depth, a, dst, mr)
            }
        }
    }
}

/// [`pack_a`] for `MR`-row panels known at compile time.
///
/// # Safety
/// As [`pack_a`].
unsafe fn pack_a_rows<const MR: usize>(rows: usize, depth: usize, a: Strided, dst: &mut [f32]) {
    // SAFETY: forwarded contract.
    unsafe { pack_a_any(rows, depth, a, dst, MR) }
}

/// [`pack_a`] for any panel height up to [`MAX_MR`]; inlined into [`pack_a_rows`] with a
/// constant height.
///
/// # Safety
/// As [`pack_a`].
#[inline(always)]
#[allow(non_snake_case)]
unsafe fn pack_a_any(rows: usize, depth: usize, a: Strided, dst: &mut [f32], MR: usize) {
    let panels = rows.div_ceil(MR);
    debug_assert!(dst.len() >= panels * MR * depth);
    for q in 0..panels {
        let panel = &mut dst[q * MR * depth..(q + 1) * MR * depth];
        let live = (rows - q * MR).min(MR);
        let base = a.ptr.wrapping_offset((q * MR) as isize * a.rs);
        if live == MR && a.rs.unsigned_abs() >= a.cs.unsigned_abs() {
            // Rows are the long way round (row-major-like A): walk the MR rows side by side so
            // each one is read sequentially.
            let rows: [*const f32; MAX_MR] =
                std::array::from_fn(|i| base.wrapping_offset(i.min(MR - 1) as isize * a.rs));
            for (p, out) in panel.chunks_exact_mut(MR).enumerate() {
                let off = p as isize * a.cs;
                for (o, &r) in out.iter_mut().zip(&rows[..MR]) {
                    // SAFETY: (q*MR + i, p) is inside the block (full panel, p < depth).
                    *o = unsafe { *r.offset(off) };
                }
            }
            continue;
        }
        for (p, out) in panel.chunks_exact_mut(MR).enumerate() {
            let col = base.wrapping_offset(p as isize * a.cs);
            for (i, o) in out.iter_mut().enumerate() {
                *o = if i < live {
                    // SAFETY: (q*MR + i, p) is inside the block (i < live, p < depth).
                    unsafe { *col.offset(i as isize * a.rs) }
                } else {
                    0.0
                };
            }
        }
    }
}

/// Packs the `depth x cols` block of `b` into panels of `nr` columns: panel `q`, row `p`, column
/// `j` goes to `dst[q*nr*depth + p*nr + j]`; columns past `cols` are zero.
///
/// # Safety
/// Every element `(p, j)`, `p < depth`, `j < cols`, of `b` must be readable, and `dst` must hold
/// `ceil(cols/nr)*nr*depth` floats.
#[allow(non_snake_case)]
pub unsafe fn pack_b(depth: usize, cols: usize, b: Strided, dst: &mut [f32], NR: usize) {
    let panels = cols.div_ceil(NR);
    debug_assert!(dst.len() >= panels * NR * depth);
    for q in 0..panels {
        let panel = &mut dst[q * NR * depth..(q + 1) * NR * depth];
        let live = (cols - q * NR).min(NR);
        let base = b.ptr.wrapping_offset((q * NR) as isize * b.cs);
        for (p, out) in panel.chunks_exact_mut(NR).enumerate() {
            let row = base.wrapping_offset(p as isize * b.rs);
            if b.cs == 1 {
                // SAFETY: `live` contiguous elements of row p are inside the block.
                let src = unsafe { std::slice::from_raw_parts(row, live) };
                out[..live].copy_from_slice(src);
            } else {
                for (j, o) in out[..live].iter_mut().enumerate() {
                    // SAFETY: (p, q*NR + j) is inside the block (j < live).
                    *o = unsafe { *row.offset(j as isize * b.cs) };
                }
            }
            out[live..].fill(0.0);
        }
    }
}

/// `C <- beta * C` over an `m x n` block; with `beta == 0` C is overwritten with zeros, never
/// read (so NaN there does not survive).
///
/// # Safety
/// Every cell `(i, j)`, `i < m`, `j < n`, at `c + i*rsc + j*csc` must be writable.
pub unsafe fn scale_c(m: usize, n: usize, beta: f32, c: *mut f32, rsc: isize, csc: isize) {
    if beta == 1.0 {
        return;
    }
    for i in 0..m {
        for j in 0..n {
            // SAFETY: (i, j) is a cell of C (caller's contract).
            let cell = unsafe { &mut *c.offset(i as isize * rsc + j as isize * csc) };
            *cell = if beta == 0.0 { 0.0 } else { beta * *cell };
        }
    }
}
