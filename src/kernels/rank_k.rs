//! The small-k rank update `W <- beta*W + alpha * X^T D`, written once for every vector width.
//!
//! This is the SGD weight update of a mini-batch step (`W^T` of a layer, `X` the layer's input
//! rows, `D` its error rows, `k` the batch): a GEMM whose depth is the batch, so short (10 in the
//! book) that the general microkernel spends a large share of each tile on its epilogue, its
//! call and its tile bookkeeping. Here `D`'s `k` rows of one column chunk are loaded into
//! registers once, and every row of `W` is then read, updated and written exactly once while
//! `X`'s column is broadcast from where it lies. `k` is a compile-time constant of each body
//! ([`MAX_RANK_K`] instances), so the loop over `k` unrolls and `D` stays in registers.
//!
//! The arithmetic is the GEMM contract's ([`super::reference_cell`]): each cell's sum `S` starts
//! at `+0` and takes one fused multiply-add per term in `p` order, then the cell is `alpha*S`
//! (`beta == 0`: `W` is not read) or `fma(beta, w, alpha*S)`. So the bits equal those of the
//! general GEMM, of every other kernel and of the scalar family.

use super::microkernel::Lanes;

/// Largest depth (batch) the rank-k kernels take; deeper updates go through the general GEMM.
pub const MAX_RANK_K: usize = 16;

/// One rank-k update: `W (rows x cols) <- beta*W + alpha * X^T D` with `X` `k x rows` and `D`
/// `k x cols`. All three have unit column stride.
#[derive(Clone, Copy, Debug)]
pub struct RankK {
    /// Depth: the number of rows of `X` and `D`, `1..=MAX_RANK_K`.
    pub k: usize,
    /// Rows of `W` (columns of `X`).
    pub rows: usize,
    /// Columns of `W` and `D`.
    pub cols: usize,
    /// `X[p][i]` at `x + p*rsx + i`.
    pub x: *const f32,
    pub rsx: isize,
    /// `D[p][j]` at `d + p*rsd + j`.
    pub d: *const f32,
    pub rsd: isize,
    /// `W[i][j]` at `w + i*rsw + j`; only the `rows x cols` cells are read (when
    /// `beta != 0`) and written.
    pub w: *mut f32,
    pub rsw: isize,
    /// Non-zero (an update with `alpha == 0` is `beta*W`, which the caller does).
    pub alpha: f32,
    pub beta: f32,
    /// Cache lines to ask for while the update runs (see [`LinePrefetch`]).
    pub prefetch: LinePrefetch,
}

/// Byte addresses of cache lines the update asks the CPU to load into L2 while it passes over
/// `W`, one per block of rows (any left over at the end): the trainer's next mini-batches'
/// images. Issued all at once, about 130 lines of random images held the core's fill buffers
/// for about a microsecond (each miss waits on memory, and the core stalls once every buffer
/// waits); spread over the update's 196 row blocks they overlap its arithmetic. The addresses
/// need not be valid: a prefetch never faults and changes no result.
#[derive(Clone, Copy, Debug)]
pub struct LinePrefetch {
    pub lines: *const usize,
    pub len: usize,
}

impl LinePrefetch {
    /// No lines.
    pub const NONE: LinePrefetch = LinePrefetch {
        lines: std::ptr::null(),
        len: 0,
    };

    /// The lines of `lines` (which must outlive every use of the value).
    pub fn of(lines: &[usize]) -> LinePrefetch {
        LinePrefetch {
            lines: lines.as_ptr(),
            len: lines.len(),
        }
    }

    /// Issues line `q` if there is one.
    ///
    /// # Safety
    /// `lines` must be readable for `len` addresses (as made by [`LinePrefetch::of`], while its
    /// slice lives).
    #[inline(always)]
    unsafe fn issue(&self, q: usize) {
        if q < self.len {
            // SAFETY: q < len (caller's contract for the slice).
            super::prefetch_l2(unsafe { *self.lines.add(q) });
        }
    }
}

/// The update with `D`'s chunks of `NV` vectors held in registers while `W`'s rows stream past.
///
/// # Safety
/// The CPU must have `S`'s ISA (this is only inlined into the family's `#[target_feature]`
/// wrapper), and `t` must describe valid memory as [`RankK`] says (its `prefetch` lines
/// readable as [`LinePrefetch`] says), with `t.k == K`,
/// `1 <= K <= MAX_RANK_K` and `t.alpha != 0`. `W` must not overlap `X` or `D`.
#[inline(always)]
pub(crate) unsafe fn body<S: Lanes, const K: usize, const NV: usize>(t: &RankK) {
    debug_assert!(t.k == K && K >= 1 && K <= MAX_RANK_K);
    let chunk = NV * S::LANES;
    let whole = t.cols / chunk * chunk;
    // SAFETY: forwarded contract; the chunks lie inside W's columns.
    unsafe {
        // Prefetches ride along the row blocks in order, one each, from the first column chunk
        // on (see LinePrefetch).
        let mut issued = 0;
        match t.beta != 0.0 {
            true => {
                for j0 in (0..whole).step_by(chunk) {
                    chunk_pass::<S, K, NV, true, true>(t, j0, &mut issued);
                }
                if whole < t.cols {
                    chunk_pass::<S, K, NV, false, true>(t, whole, &mut issued);
                }
            }
            false => {
                for j0 in (0..whole).step_by(chunk) {
                    chunk_pass::<S, K, NV, true, false>(t, j0, &mut issued);
                }
                if whole < t.cols {
                    chunk_pass::<S, K, NV, false, false>(t, whole, &mut issued);
                }
            }
        }
        // More lines than row blocks: the rest now.
        while issued < t.prefetch.len {
            t.prefetch.issue(issued);
            issued += 1;
        }
    }
}

/// One column chunk `j0..j0 + NV*LANES` (only its live columns when not `FULL`) of every row
/// of `W`. `READ_W`: `beta != 0`, so the old `W` is read and kept as `fma(beta, w, alpha*S)`.
///
/// # Safety
/// As [`body`], with `j0 < t.cols` and, when `FULL`, `j0 + NV*LANES <= t.cols`. `issued` counts
/// the lines of `t.prefetch` issued so far.
#[inline(always)]
unsafe fn chunk_pass<
    S: Lanes,
    const K: usize,
    const NV: usize,
    const FULL: bool,
    const READ_W: bool,
>(
    t: &RankK,
    j0: usize,
    issued: &mut usize,
) {
    // SAFETY (every `S::` call below): the caller runs this with S's target features; the
    // pointers are inside the operands as noted at each access.
    unsafe {
        let alpha = S::splat(t.alpha);
        let beta = S::splat(t.beta);
        let live = (t.cols - j0).min(NV * S::LANES);
        // All-ones for the vectors before the ragged one, none after it.
        let mut masks = [S::mask(live, 0); NV];
        for (h, m) in masks.iter_mut().enumerate() {
            *m = S::mask(live, h);
        }
        // D's chunk: K rows of NV vectors, zero past the live columns.
        let mut dv = [[S::zero(); NV]; K];
        for (p, row) in dv.iter_mut().enumerate() {
            let dp = t.d.wrapping_offset(p as isize * t.rsd + j0 as isize);
            for (h, v) in row.iter_mut().enumerate() {
                // SAFETY: row p < k of D at columns j0 + h*LANES..: all readable when FULL,
                // else only the mask's (live) lanes are read.
                *v = if FULL {
                    S::load(dp.add(h * S::LANES))
                } else {
                    S::load_masked(dp.add(h * S::LANES), masks[h])
                };
            }
        }
        // Rows go ROWS at a time, so the out-of-order core sees independent FMA chains side by
        // side (each chain is K FMAs, a mul and an FMA long); the rest one at a time.
        let mut i = 0;
        while i + ROWS <= t.rows {
            // SAFETY: the caller's RankK holds a valid LinePrefetch.
            t.prefetch.issue(*issued);
            *issued += 1;
            rows_pass::<S, K, NV, FULL, READ_W, ROWS>(t, &dv, &masks, i, j0, alpha, beta);
            i += ROWS;
        }
        while i < t.rows {
            rows_pass::<S, K, NV, FULL, READ_W, 1>(t, &dv, &masks, i, j0, alpha, beta);
            i += 1;
        }
    }
}

/// Rows handled together by [`chunk_pass`].
const ROWS: usize = 4;

/// Rows `i..i+R` of one column chunk: `R x NV` independent sums over `D`'s chunk in registers,
/// then the epilogue and the stores.
///
/// # Safety
/// As [`chunk_pass`], with `i + R <= t.rows`; `dv` is `D`'s chunk at `j0`, `masks` its lanes.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_pass<
    S: Lanes,
    const K: usize,
    const NV: usize,
    const FULL: bool,
    const READ_W: bool,
    const R: usize,
>(
    t: &RankK,
    dv: &[[S::V; NV]; K],
    masks: &[S::Mask; NV],
    i: usize,
    j0: usize,
    alpha: S::V,
    beta: S::V,
) {
    // SAFETY (every `S::` call below): the caller runs this with S's target features; the
    // pointers are inside the operands as noted at each access.
    unsafe {
        let mut acc = [[S::zero(); NV]; R];
        for (p, drow) in dv.iter().enumerate() {
            for (r, row) in acc.iter_mut().enumerate() {
                // SAFETY: X[p][i + r] with p < k and i + r < rows.
                let xb = S::broadcast(t.x.wrapping_offset(p as isize * t.rsx + (i + r) as isize));
                for (a, &dvh) in row.iter_mut().zip(drow) {
                    *a = S::fmadd(xb, dvh, *a);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            let wi = t.w.wrapping_offset((i + r) as isize * t.rsw + j0 as isize);
            for (h, &s) in row.iter().enumerate() {
                let wp = wi.add(h * S::LANES);
                let mut v = S::mul(alpha, s);
                if READ_W {
                    // SAFETY: row i + r < rows of W, the chunk's columns (live lanes only when
                    // ragged).
                    let old = if FULL {
                        S::load(wp)
                    } else {
                        S::load_masked(wp, masks[h])
                    };
                    v = S::fmadd(beta, old, v);
                }
                // SAFETY: as the load.
                if FULL {
                    S::store(wp, v);
                } else {
                    S::store_masked(wp, masks[h], v);
                }
            }
        }
    }
}

/// Calls `S::rank_k::<K>` for the update's depth.
///
/// # Safety
/// As [`body`].
#[inline(always)]
pub(crate) unsafe fn by_depth<S: Lanes>(t: &RankK) {
    macro_rules! arms {
        ($($k:literal)*) => {
            match t.k {
                $( $k => S::rank_k::<$k>(t), )*
                _ => unreachable!("rank-k update of depth {} (at most {MAX_RANK_K})", t.k),
            }
        };
    }
    // SAFETY: forwarded contract; K == t.k.
    unsafe { arms!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16) }
}

/// Vectors per chunk for depth `K` on a family that can hold `regs` vectors of `D`: as many as
/// fit (at least one, at most [`RANK_K_MAX_NV`]).
pub(crate) const fn vectors_for(k: usize, regs: usize) -> usize {
    let nv = regs / k;
    if nv < 1 {
        1
    } else if nv > RANK_K_MAX_NV {
        RANK_K_MAX_NV
    } else {
        nv
    }
}

/// Widest chunk, in vectors, any family uses.
pub(crate) const RANK_K_MAX_NV: usize = 2;

/// The portable rank-k update (`rank_k.scalar`): the same recurrence, one cell at a time.
///
/// # Safety
/// As [`body`] (any CPU).
pub unsafe fn scalar(t: &RankK) {
    for i in 0..t.rows {
        if i % ROWS == 0 {
            // SAFETY: the caller's RankK holds a valid LinePrefetch.
            unsafe { t.prefetch.issue(i / ROWS) };
        }
        for j in 0..t.cols {
            let mut s = 0.0f32;
            for p in 0..t.k {
                // SAFETY: X[p][i] and D[p][j] with p < k, i < rows, j < cols.
                let (x, d) = unsafe {
                    (
                        *t.x.offset(p as isize * t.rsx + i as isize),
                        *t.d.offset(p as isize * t.rsd + j as isize),
                    )
                };
                s = x.mul_add(d, s);
            }
            // SAFETY: W[i][j] with i < rows, j < cols.
            let w = unsafe { &mut *t.w.offset(i as isize * t.rsw + j as isize) };
            *w = if t.beta == 0.0 {
                t.alpha * s
            } else {
                t.beta.mul_add(*w, t.alpha * s)
            };
        }
    }
    for q in t.rows.div_ceil(ROWS)..t.prefetch.len {
        // SAFETY: as above.
        unsafe { t.prefetch.issue(q) };
    }
}
