//! The forward product of a small batch over only the depth positions where the batch is not
//! blank, written once for every vector width: `C <- alpha * A B` (`beta = 0`), with `A`'s
//! columns that are zero in every row skipped.
//!
//! This is the trainer's first-layer forward `Z = X W^T` on a batch of 10 MNIST images: `X` is
//! 10 x 784, and a third or more of the 784 pixel positions are blank in all ten images. Such a
//! position's terms are `(+-0) * w`, and adding a zero to a running sum changes nothing (a sum
//! that starts at `+0` never becomes `-0` under round-to-nearest, and `S + (+-0) = S` for any
//! other `S`), so skipping them gives the contract's bits ([`super::reference_cell`]) -
//! provided every skipped `w` is finite (`0 * inf` is NaN). The kernel checks that first, on
//! the skipped rows of `B` only, and skips nothing when one is not finite.
//!
//! The positions come from the caller as a bit map of the depth (the map the trainer's gather
//! builds for the batch, `gemm::ZeroRowMap`), walked word by word: a live position costs a
//! count of trailing zeros and a bit clear beside its `rows x vectors` FMAs. Each tile of
//! `R` rows and `H` vectors of columns keeps its sums in registers over the whole depth, with
//! `A`'s elements broadcast from where they lie and `B`'s row read in place.

use super::microkernel::Lanes;

/// Most rows (the batch) the kernel takes: the trainer's small-batch limit.
pub const MAX_SPARSE_ROWS: usize = 16;
/// The column count must be a whole number of this many floats (the small-batch step's
/// 64-byte padded rows): whole vectors for every family, so no masks.
pub const SPARSE_COL_UNIT: usize = 16;

/// One product `C (m x n) <- alpha * A (m x k) B (k x n)` over the depth positions not marked
/// in `zero`. All three matrices have unit column stride.
#[derive(Clone, Copy, Debug)]
pub struct SparseDepth {
    /// Rows of `A` and `C`, `1..=MAX_SPARSE_ROWS`.
    pub m: usize,
    /// Depth, at least 1.
    pub k: usize,
    /// Columns of `B` and `C`: a positive multiple of [`SPARSE_COL_UNIT`].
    pub n: usize,
    /// `A[i][p]` at `a + i*rsa + p`.
    pub a: *const f32,
    pub rsa: isize,
    /// `B[p][j]` at `b + p*rsb + j`.
    pub b: *const f32,
    pub rsb: isize,
    /// `C[i][j]` at `c + i*rsc + j`; written, never read.
    pub c: *mut f32,
    pub rsc: isize,
    pub alpha: f32,
    /// The positions `p` where `A[i][p]` is `+0` or `-0` for every row `i`: bit `p % 64` of
    /// word `p / 64`, `k.div_ceil(64)` words, no bit at or past `k`.
    pub zero: *const u64,
}

/// The live positions of word `w` (`!zero`, limited to the depth) under `skip`; all of the
/// word's positions without it.
///
/// # Safety
/// `w < t.k.div_ceil(64)`, and `t.zero` holds that many words.
#[inline(always)]
unsafe fn live_word(t: &SparseDepth, w: usize, skip: bool) -> u64 {
    let left = t.k - 64 * w;
    let in_depth = if left >= 64 {
        u64::MAX
    } else {
        (1u64 << left) - 1
    };
    // SAFETY: word w of the map (caller).
    let zero = if skip { unsafe { *t.zero.add(w) } } else { 0 };
    !zero & in_depth
}

/// Whether every skipped row of `B` is finite over all `n` columns (then skipping is exact).
///
/// # Safety
/// The CPU must have `S`'s ISA; `t` describes valid memory as [`SparseDepth`] says.
#[inline(always)]
unsafe fn skipped_rows_finite<S: Lanes>(t: &SparseDepth) -> bool {
    let mut finite = true;
    for j0 in (0..t.n).step_by(4 * S::LANES) {
        // SAFETY: forwarded; columns j0.. of the chunk lie inside n.
        finite &= unsafe {
            match (t.n - j0) / S::LANES {
                1 => chunk_finite::<S, 1>(t, j0),
                2 => chunk_finite::<S, 2>(t, j0),
                3 => chunk_finite::<S, 3>(t, j0),
                _ => chunk_finite::<S, 4>(t, j0),
            }
        };
    }
    finite
}

/// Whether columns `j0..j0 + H*LANES` of every skipped row of `B` are finite.
///
/// `0 * b` is `+-0` for a finite `b` and NaN for an infinity or a NaN, and a sum of zeros
/// stays a zero while a NaN stays a NaN. Four rows go to four separate sums per vector, so
/// the check runs at the loads' pace rather than one FMA latency per row (a single chain of
/// sums measured slower than the product it guards).
///
/// # Safety
/// As [`skipped_rows_finite`], with the chunk's `H` vectors inside `n`.
#[inline(always)]
unsafe fn chunk_finite<S: Lanes, const H: usize>(t: &SparseDepth, j0: usize) -> bool {
    // SAFETY (every `S::` call): the caller runs this with S's target features; the loads
    // are rows p < k of B at columns inside n.
    unsafe {
        let zero = S::zero();
        let mut seen = [[S::zero(); H]; 4];
        let b = t.b.add(j0);
        for w in 0..t.k.div_ceil(64) {
            let mut skipped = !live_word(t, w, true) & live_word(t, w, false);
            'word: loop {
                for sums in seen.iter_mut() {
                    if skipped == 0 {
                        break 'word;
                    }
                    let p = 64 * w + skipped.trailing_zeros() as usize;
                    skipped &= skipped - 1;
                    let row = b.offset(p as isize * t.rsb);
                    for (h, s) in sums.iter_mut().enumerate() {
                        *s = S::fmadd(zero, S::load(row.add(h * S::LANES)), *s);
                    }
                }
            }
        }
        let mut lanes = [0.0f32; 16];
        for sums in &seen {
            for &s in sums {
                S::store(lanes.as_mut_ptr(), s);
                if lanes[..S::LANES].iter().any(|x| x.is_nan()) {
                    return false;
                }
            }
        }
        true
    }
}

/// The product, on `S`'s vectors in tiles of up to `RMAX` rows by `HMAX` vectors (the family
/// picks both to fit its registers: `RMAX * HMAX` sums, `HMAX` rows of `B`, one broadcast).
///
/// # Safety
/// The CPU must have `S`'s ISA (inlined into the family's `#[target_feature]` wrapper); `t`
/// describes valid memory as [`SparseDepth`] says, with `1 <= m <= MAX_SPARSE_ROWS`, `k >= 1`,
/// `n` a positive multiple of [`SPARSE_COL_UNIT`]; `C` overlaps neither `A` nor `B`;
/// `RMAX <= 12`, `HMAX <= 4`.
#[inline(always)]
pub(crate) unsafe fn body<S: Lanes, const RMAX: usize, const HMAX: usize>(t: &SparseDepth) {
    debug_assert!(t.m >= 1 && t.m <= MAX_SPARSE_ROWS && t.k >= 1);
    debug_assert!(t.n > 0 && t.n.is_multiple_of(SPARSE_COL_UNIT));
    // SAFETY: forwarded contract.
    let skip = unsafe { skipped_rows_finite::<S>(t) };
    let chunk = HMAX * S::LANES;
    for j0 in (0..t.n).step_by(chunk) {
        let vectors = ((t.n - j0) / S::LANES).min(HMAX);
        for i0 in (0..t.m).step_by(RMAX) {
            let rows = (t.m - i0).min(RMAX);
            macro_rules! arms {
                ($($r:literal)*) => {
                    match (rows, vectors) {
                        $(
                            ($r, 1) => tile::<S, $r, 1>(t, i0, j0, skip),
                            ($r, 2) => tile::<S, $r, 2>(t, i0, j0, skip),
                            ($r, 3) => tile::<S, $r, 3>(t, i0, j0, skip),
                            ($r, 4) => tile::<S, $r, 4>(t, i0, j0, skip),
                        )*
                        _ => unreachable!("a {rows}x{vectors} sparse-depth tile"),
                    }
                };
            }
            // SAFETY: rows i0..i0 + rows <= m and vectors j0..j0 + vectors*LANES <= n lie
            // inside the operands (the contract); forwarded otherwise.
            unsafe { arms!(1 2 3 4 5 6 7 8 9 10 11 12) }
        }
    }
}

/// One tile: rows `i0..i0 + R`, columns `j0..j0 + H*LANES`, sums in registers over every live
/// position in order, then `alpha * S` stored.
///
/// # Safety
/// As [`body`], with the tile inside `C`.
#[inline(always)]
unsafe fn tile<S: Lanes, const R: usize, const H: usize>(
    t: &SparseDepth,
    i0: usize,
    j0: usize,
    skip: bool,
) {
    // SAFETY (every call below): the caller runs this with S's target features; the pointers
    // are inside the operands as noted.
    unsafe {
        let mut acc = [[S::zero(); H]; R];
        // One address per row, kept in registers (rebuilding rows from row 0 and the stride
        // at every position costs the microkernel +6 % instructions; see `microkernel`).
        let mut a = [t.a; R];
        for (i, row) in a.iter_mut().enumerate() {
            *row = t.a.offset((i0 + i) as isize * t.rsa);
        }
        let b = t.b.add(j0);
        for w in 0..t.k.div_ceil(64) {
            let mut live = live_word(t, w, skip);
            while live != 0 {
                let p = 64 * w + live.trailing_zeros() as usize;
                live &= live - 1;
                let mut bv = [S::zero(); H];
                for (h, v) in bv.iter_mut().enumerate() {
                    // SAFETY: row p < k of B, columns j0 + h*LANES.. inside n.
                    *v = S::load(b.offset(p as isize * t.rsb).add(h * S::LANES));
                }
                for (row, &ai) in acc.iter_mut().zip(&a) {
                    // SAFETY: A[i0 + i][p], i0 + i < m, p < k.
                    let x = S::broadcast(ai.add(p));
                    for (c, &v) in row.iter_mut().zip(&bv) {
                        *c = S::fmadd(x, v, *c);
                    }
                }
            }
        }
        let alpha = S::splat(t.alpha);
        for (i, row) in acc.iter().enumerate() {
            let c = t.c.offset((i0 + i) as isize * t.rsc).add(j0);
            for (h, &s) in row.iter().enumerate() {
                // SAFETY: C[i0 + i][j0 + h*LANES..], inside the tile.
                S::store(c.add(h * S::LANES), S::mul(alpha, s));
            }
        }
    }
}

/// The portable family: every term, in order, skipping nothing (the same bits as skipping
/// when the skipped rows of `B` are finite, and the contract's bits when they are not).
///
/// # Safety
/// `t` describes valid memory as [`SparseDepth`] says.
pub unsafe fn scalar(t: &SparseDepth) {
    for i in 0..t.m {
        for j in 0..t.n {
            let mut s = 0.0f32;
            for p in 0..t.k {
                // SAFETY: A[i][p] and B[p][j] with i < m, p < k, j < n.
                let (x, y) = unsafe {
                    (
                        *t.a.offset(i as isize * t.rsa + p as isize),
                        *t.b.offset(p as isize * t.rsb + j as isize),
                    )
                };
                s = x.mul_add(y, s);
            }
            // SAFETY: C[i][j] with i < m, j < n.
            unsafe { *t.c.offset(i as isize * t.rsc + j as isize) = t.alpha * s };
        }
    }
}
