//! Portable memory movers for the blocked GEMM: packing panels of A and B into the contiguous,
//! zero-padded layouts the microkernels stream, and scaling C when no product is needed.
//! These touch memory through raw pointers, which is why they live beside the kernels.

use super::{PackAPanel, PackBPanel, MAX_MR};

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
/// Whole panels of contiguous rows (`a.cs == 1`) go through `panel`, the kernel family's
/// packer for `mr`-row panels, when it has one ([`super::GemmKernel`]); the rest through the
/// portable loops. Either way the same floats land in the same places.
///
/// # Safety
/// Every element `(i, p)`, `i < rows`, `p < depth`, of `a` must be readable, and `dst` must hold
/// `ceil(rows/MR)*MR*depth` floats; `panel`, if given, packs `mr`-row panels and the CPU runs
/// its family.
pub unsafe fn pack_a(
    rows: usize,
    depth: usize,
    a: Strided,
    dst: &mut [f32],
    mr: usize,
    panel: Option<PackAPanel>,
) {
    if let Some(pack_panel) = panel.filter(|_| a.cs == 1) {
        let whole = rows / mr;
        for q in 0..whole {
            let src = a.ptr.wrapping_offset((q * mr) as isize * a.rs);
            // SAFETY: rows q*mr .. (q+1)*mr are whole rows of the block with unit column
            // stride, readable for `depth` columns; the panel's `mr*depth` floats lie in `dst`
            // (sized for every panel); the family was checked (caller).
            unsafe {
                pack_panel(
                    src,
                    a.rs,
                    depth,
                    &mut dst[q * mr * depth..(q + 1) * mr * depth],
                )
            };
        }
        if whole * mr < rows {
            let rest = Strided {
                ptr: a.ptr.wrapping_offset((whole * mr) as isize * a.rs),
                ..a
            };
            // SAFETY: the ragged last panel of the same block, into its own place in `dst`.
            unsafe {
                pack_a(
                    rows - whole * mr,
                    depth,
                    rest,
                    &mut dst[whole * mr * depth..],
                    mr,
                    None,
                )
            };
        }
        return;
    }
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
/// `ceil(cols/nr)*nr*depth` floats; `panel`, if given, packs `NR`-column panels and the CPU
/// runs its family.
///
/// Panels of contiguous columns (`b.rs == 1`, `b.cs != 1`) go through `panel`, the kernel
/// family's packer, when it has one ([`super::GemmKernel`]); the rest through the portable
/// loops. Either way the same floats land in the same places.
#[allow(non_snake_case)]
pub unsafe fn pack_b(
    depth: usize,
    cols: usize,
    b: Strided,
    dst: &mut [f32],
    NR: usize,
    panel: Option<PackBPanel>,
) {
    let panels = cols.div_ceil(NR);
    debug_assert!(dst.len() >= panels * NR * depth);
    if let Some(pack_panel) = panel.filter(|_| b.rs == 1 && b.cs != 1) {
        for q in 0..panels {
            let live = (cols - q * NR).min(NR);
            let src = b.ptr.wrapping_offset((q * NR) as isize * b.cs);
            // SAFETY: columns q*NR .. q*NR + live of the block are contiguous (rs == 1) and
            // readable for `depth` rows; the panel's NR*depth floats lie in `dst` (sized for
            // every panel); the family was checked (caller).
            unsafe {
                pack_panel(
                    src,
                    b.cs,
                    live,
                    depth,
                    &mut dst[q * NR * depth..(q + 1) * NR * depth],
                )
            };
        }
        return;
    }
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

#[cfg(test)]
mod tests {
    use super::{pack_a, pack_b, Strided};
    use crate::kernels::GemmKernel;

    /// Every family's panel packer puts every float where the portable packer does, bit for bit
    /// (NaN payloads and signed zeros included), over depths around its 16-column blocks, row
    /// counts with and without a ragged last panel, and row strides wider than the depth;
    /// with a non-unit column stride the panel packer is not used and the result is the same.
    #[test]
    fn panel_packers_match_the_portable_packer() {
        let with_panel: Vec<GemmKernel> = GemmKernel::available()
            .into_iter()
            .filter(|k| k.pack_a_panel.is_some())
            .collect();
        if with_panel.is_empty() {
            eprintln!("skipped: no kernel family of this CPU has a panel packer");
            return;
        }
        let mut bits = 0x9e37_79b9u32;
        for k in with_panel {
            let mr = k.mr;
            for rows in [1, mr - 1, mr, mr + 1, 2 * mr, 3 * mr + 5] {
                for depth in [0, 1, 15, 16, 17, 31, 32, 33, 100, 257] {
                    for pad in [0, 3, 16] {
                        let rs = depth + pad;
                        let a: Vec<f32> = (0..rows * rs + 1)
                            .map(|_| {
                                bits = bits.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                                f32::from_bits(bits)
                            })
                            .collect();
                        let panels = rows.div_ceil(mr);
                        let mut want = vec![1.5f32; panels * mr * depth];
                        let mut got = want.clone();
                        let src = Strided {
                            ptr: a.as_ptr(),
                            rs: rs as isize,
                            cs: 1,
                        };
                        // SAFETY: `a` holds rows x rs floats (every (i, p), p < depth <= rs),
                        // the buffers hold panels*mr*depth floats, and the kernel's family is
                        // available on this CPU.
                        unsafe {
                            pack_a(rows, depth, src, &mut want, mr, None);
                            pack_a(rows, depth, src, &mut got, mr, k.pack_a_panel);
                        }
                        let same = want
                            .iter()
                            .zip(&got)
                            .all(|(x, y)| x.to_bits() == y.to_bits());
                        assert!(same, "{} rows {rows} depth {depth} rs {rs}", k.name);
                        // Column-major (cs = rows): the portable loops either way.
                        if depth > 0 {
                            let cm = Strided {
                                ptr: a.as_ptr(),
                                rs: 1,
                                cs: rows as isize,
                            };
                            let mut w2 = vec![0.0f32; panels * mr * depth];
                            let mut g2 = w2.clone();
                            // SAFETY: (i, p) at i + p*rows < rows*depth <= a.len().
                            unsafe {
                                pack_a(rows, depth, cm, &mut w2, mr, None);
                                pack_a(rows, depth, cm, &mut g2, mr, k.pack_a_panel);
                            }
                            assert!(w2.iter().zip(&g2).all(|(x, y)| x.to_bits() == y.to_bits()));
                        }
                    }
                }
            }
        }
    }

    /// Every family's B panel packer (B read by contiguous columns, the transpose of a
    /// row-major matrix) puts every float where the portable packer does, bit for bit, zero
    /// padding included: column counts with and without a ragged last panel (and fewer than
    /// one panel), depths around its 16-float blocks, column strides wider than the depth. With
    /// contiguous rows instead the panel packer is not used and the result is the same.
    #[test]
    fn b_panel_packers_match_the_portable_packer() {
        let with_panel: Vec<GemmKernel> = GemmKernel::available()
            .into_iter()
            .filter(|k| k.pack_b_panel.is_some())
            .collect();
        if with_panel.is_empty() {
            eprintln!("skipped: no kernel family of this CPU has a B panel packer");
            return;
        }
        let mut bits = 0x85eb_ca6bu32;
        for k in with_panel {
            let nr = k.nr;
            for cols in [1, 3, 10, 30, nr - 1, nr, nr + 1, 2 * nr + 7] {
                for depth in [0, 1, 10, 15, 16, 17, 30, 33, 100] {
                    for pad in [0, 2, 16] {
                        let cs = depth + pad;
                        let b: Vec<f32> = (0..cols * cs + 1)
                            .map(|_| {
                                bits = bits.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                                f32::from_bits(bits)
                            })
                            .collect();
                        let panels = cols.div_ceil(nr);
                        let mut want = vec![1.5f32; panels * nr * depth];
                        let mut got = vec![-2.5f32; panels * nr * depth];
                        let src = Strided {
                            ptr: b.as_ptr(),
                            rs: 1,
                            cs: cs as isize,
                        };
                        // SAFETY: `b` holds cols x cs floats (every (p, j) at p + j*cs with
                        // p < depth <= cs), the buffers hold panels*nr*depth floats, and the
                        // kernel's family is available on this CPU.
                        unsafe {
                            pack_b(depth, cols, src, &mut want, nr, None);
                            pack_b(depth, cols, src, &mut got, nr, k.pack_b_panel);
                        }
                        let same = want
                            .iter()
                            .zip(&got)
                            .all(|(x, y)| x.to_bits() == y.to_bits());
                        assert!(same, "{} cols {cols} depth {depth} cs {cs}", k.name);
                        // Row-major (rs = cols): the portable loops either way.
                        if depth > 0 {
                            let rm = Strided {
                                ptr: b.as_ptr(),
                                rs: cols as isize,
                                cs: 1,
                            };
                            let mut w2 = vec![0.0f32; panels * nr * depth];
                            let mut g2 = w2.clone();
                            // SAFETY: (p, j) at p*cols + j < depth*cols <= b.len().
                            unsafe {
                                pack_b(depth, cols, rm, &mut w2, nr, None);
                                pack_b(depth, cols, rm, &mut g2, nr, k.pack_b_panel);
                            }
                            assert!(w2.iter().zip(&g2).all(|(x, y)| x.to_bits() == y.to_bits()));
                        }
                    }
                }
            }
        }
    }
}
