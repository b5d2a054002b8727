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
//! That held form ([`body`]) needs `k` vectors of registers per vector of columns, which a
//! family with 32 of them has (AVX-512, NEON). The streamed form ([`streamed_body`]) reads
//! `D`'s row `p` from L1 again for every block of rows and so needs the same few registers at
//! every depth; AVX2, with 16, runs it (measurements in `avx2_gemm`). Each family picks its
//! form and block in its own file.
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
    /// Rows of `W` whose column of `X` is known to be all zero, or null (see [`ZeroRows`]):
    /// bit `i % 64` of word `i / 64` set for such a row `i`, `rows.div_ceil(64)` words.
    pub zero_rows: *const u64,
}

/// The rows of `W` whose column of `X` is all zero (`+0` or `-0`), as the caller found them
/// ([`RankK::zero_rows`]), for the passes to skip their sums.
///
/// Every term of such a row's sum is `0 * d`, a zero, so its sum stays at the `+0` it starts
/// from (a zero added to `+0` is `+0`), provided every `d` is finite (`0 * inf` is NaN). The
/// cell is then `alpha*(+0)` or `fma(beta, w, alpha*(+0))`: exactly what the epilogue makes of
/// a sum of `+0`, so a skipped row gets the bits the full sum would give, and costs a multiply
/// and an FMA per vector instead of `k + 2` operations. A block of rows skips only when all
/// its rows are zero rows.
///
/// The map comes from the caller because finding the rows here would read `X` a second time:
/// measured on Zen 5, that scan cost the 784x10x30 update 14.6 % on dense input. The trainer
/// finds them while it gathers a batch's pixels (`gemm::ZeroRowMap`).
struct ZeroRows {
    /// The map, or null: none given, or `D` holds an infinity or a NaN.
    words: *const u64,
}

impl ZeroRows {
    /// `t`'s map, unless it marks no row or `D` holds a non-finite value (checked here, once
    /// per update; with no map, or an empty one, the passes test nothing more per block).
    ///
    /// # Safety
    /// `t` describes valid memory as [`RankK`] says.
    #[inline(always)]
    unsafe fn of(t: &RankK) -> ZeroRows {
        let none = ZeroRows {
            words: std::ptr::null(),
        };
        if t.zero_rows.is_null() {
            return none;
        }
        // SAFETY: the map has a word for every 64 rows (RankK::zero_rows).
        let words = unsafe { std::slice::from_raw_parts(t.zero_rows, t.rows.div_ceil(64)) };
        if words.iter().all(|&w| w == 0) {
            return none;
        }
        let mut bad = 0u32;
        for p in 0..t.k {
            // SAFETY: row p < k of D, cols floats from its start.
            let row = unsafe {
                std::slice::from_raw_parts(t.d.wrapping_offset(p as isize * t.rsd), t.cols)
            };
            for &v in row {
                // Exponent all ones: an infinity or a NaN.
                bad |= u32::from(v.to_bits() & 0x7f80_0000 == 0x7f80_0000);
            }
        }
        ZeroRows {
            words: if bad == 0 {
                t.zero_rows
            } else {
                std::ptr::null()
            },
        }
    }

    /// Whether the map marks any row (else the passes need not test).
    #[inline(always)]
    fn active(&self) -> bool {
        !self.words.is_null()
    }

    /// Whether rows `i..i + n` (`1 <= n <= 64`, `i + n <= rows`) are all zero rows.
    ///
    /// # Safety
    /// The map is [`ZeroRows::active`] (the passes ask only when `SKIP`), and `i + n` at most
    /// the rows of the update whose map this is.
    #[inline(always)]
    unsafe fn all(&self, i: usize, n: usize) -> bool {
        debug_assert!(self.active());
        let (w, sh) = (i / 64, i % 64);
        // SAFETY: word w holds row i < rows; word w + 1 is read only when the rows reach it.
        let mut run = unsafe { *self.words.add(w) } >> sh;
        if sh + n > 64 {
            // SAFETY: as above.
            run |= unsafe { *self.words.add(w + 1) } << (64 - sh);
        }
        let want = u64::MAX >> (64 - n);
        run & want == want
    }
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

/// One column chunk `j0..j0 + NV*LANES` of `W` and `D` as every pass over it needs it: where it
/// starts, which lanes of each vector are live, and the scalars splatted.
///
/// The passes over a chunk take `WHOLE`, a compile-time count of its vectors that lie wholly
/// inside the columns (`NV` for every chunk but a ragged last one): those take plain loads and
/// stores even in the ragged chunk, only the vectors after them masked ones (a masked store
/// costs far more than a plain one on AMD's cores), with no test in the loops.
struct Chunk<S: Lanes, const NV: usize> {
    j0: usize,
    masks: [S::Mask; NV],
    alpha: S::V,
    beta: S::V,
}

impl<S: Lanes, const NV: usize> Chunk<S, NV> {
    /// The chunk at column `j0 < t.cols`.
    ///
    /// # Safety
    /// The CPU must have `S`'s ISA.
    #[inline(always)]
    unsafe fn new(t: &RankK, j0: usize) -> Chunk<S, NV> {
        // SAFETY: the caller runs this with S's target features.
        unsafe {
            let live = (t.cols - j0).min(NV * S::LANES);
            let mut masks = [S::mask(live, 0); NV];
            for (h, m) in masks.iter_mut().enumerate() {
                *m = S::mask(live, h);
            }
            Chunk {
                j0,
                masks,
                alpha: S::splat(t.alpha),
                beta: S::splat(t.beta),
            }
        }
    }

    /// Vector `h` of the chunk in row `p` of a matrix at `base` with row stride `rs`: a plain
    /// load when it is one of the `WHOLE` wholly live vectors, else only its live lanes.
    ///
    /// # Safety
    /// The live lanes of that vector must be readable, all of them when it is whole; S's ISA.
    #[inline(always)]
    unsafe fn load<const WHOLE: usize>(
        &self,
        base: *const f32,
        rs: isize,
        p: usize,
        h: usize,
    ) -> S::V {
        let at = base.wrapping_offset(p as isize * rs + (self.j0 + h * S::LANES) as isize);
        // SAFETY: as the contract says.
        unsafe {
            if h < WHOLE {
                S::load(at)
            } else {
                S::load_masked(at, self.masks[h])
            }
        }
    }
}

/// The column-chunk loop both forms share:
/// `$pass::<generics.., WHOLE, READ_W, SKIP>(t, j0, zero, issued)` over the chunks of `$nv`
/// vectors in order, `WHOLE = $nv` for every chunk but a ragged last one, which gets the count
/// of its wholly live vectors (`0..$nv`, at most 3); `READ_W` is `beta != 0`; `SKIP` is
/// whether `zero` marks rows to skip. Then the prefetch lines the passes left over. `issued`
/// counts the lines issued so far: the passes issue one per block of rows, from the first
/// chunk on (see [`LinePrefetch`]). A macro, not a function taking a closure: a closure would not inherit
/// the family's target features, and its vector code would not inline.
macro_rules! each_chunk {
    ($S:ident, $t:ident, $nv:ident, $pass:ident::<$($g:ident),*>) => {{
        let chunk = $nv * $S::LANES;
        let whole = $t.cols / chunk * chunk;
        let zero = ZeroRows::of($t);
        let mut issued = 0;
        macro_rules! over {
            ($read_w:literal, $skip:literal) => {{
                for j0 in (0..whole).step_by(chunk) {
                    $pass::<$($g,)* $nv, $read_w, $skip>($t, j0, &zero, &mut issued);
                }
                if whole < $t.cols {
                    let live_vectors = ($t.cols - whole) / $S::LANES;
                    debug_assert!(live_vectors < $nv && $nv <= 8);
                    match live_vectors {
                        0 => $pass::<$($g,)* 0, $read_w, $skip>($t, whole, &zero, &mut issued),
                        1 => $pass::<$($g,)* 1, $read_w, $skip>($t, whole, &zero, &mut issued),
                        2 => $pass::<$($g,)* 2, $read_w, $skip>($t, whole, &zero, &mut issued),
                        3 => $pass::<$($g,)* 3, $read_w, $skip>($t, whole, &zero, &mut issued),
                        4 => $pass::<$($g,)* 4, $read_w, $skip>($t, whole, &zero, &mut issued),
                        5 => $pass::<$($g,)* 5, $read_w, $skip>($t, whole, &zero, &mut issued),
                        _ => $pass::<$($g,)* 6, $read_w, $skip>($t, whole, &zero, &mut issued),
                    }
                }
            }};
        }
        // Without a map the passes are built without the per-block test (SKIP = false), so a
        // product with no zero rows runs the same code as before maps existed.
        match ($t.beta != 0.0, zero.active()) {
            (true, true) => over!(true, true),
            (true, false) => over!(true, false),
            (false, true) => over!(false, true),
            (false, false) => over!(false, false),
        }
        while issued < $t.prefetch.len {
            $t.prefetch.issue(issued);
            issued += 1;
        }
    }};
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
    // SAFETY: forwarded contract; the chunks lie inside W's columns.
    unsafe { each_chunk!(S, t, NV, chunk_pass::<S, K, NV>) }
}

/// One column chunk `j0..j0 + NV*LANES` (only its live columns when `WHOLE < NV`) of every row
/// of `W`. `READ_W`: `beta != 0`, so the old `W` is read and kept as `fma(beta, w, alpha*S)`.
///
/// # Safety
/// As [`body`], with `j0 < t.cols` and the chunk's first `WHOLE` vectors inside the columns
/// (all of them: `j0 + NV*LANES <= t.cols`, when `WHOLE == NV`). `issued` counts
/// the lines of `t.prefetch` issued so far.
#[inline(always)]
unsafe fn chunk_pass<
    S: Lanes,
    const K: usize,
    const NV: usize,
    const WHOLE: usize,
    const READ_W: bool,
    const SKIP: bool,
>(
    t: &RankK,
    j0: usize,
    zero: &ZeroRows,
    issued: &mut usize,
) {
    // SAFETY (every call below): the caller runs this with S's target features; the pointers
    // are inside the operands as noted at each access.
    unsafe {
        let c = Chunk::<S, NV>::new(t, j0);
        // D's chunk: K rows of NV vectors, zero past the live columns.
        let mut dv = [[S::zero(); NV]; K];
        for (p, row) in dv.iter_mut().enumerate() {
            for (h, v) in row.iter_mut().enumerate() {
                // SAFETY: row p < k of D at the chunk's columns (its live lanes).
                *v = c.load::<WHOLE>(t.d, t.rsd, p, h);
            }
        }
        // Rows go ROWS at a time, so the out-of-order core sees independent FMA chains side by
        // side (each chain is K FMAs, a mul and an FMA long); the rest one at a time.
        let mut i = 0;
        while i + ROWS <= t.rows {
            // SAFETY: the caller's RankK holds a valid LinePrefetch.
            t.prefetch.issue(*issued);
            *issued += 1;
            // SAFETY: i + ROWS <= rows.
            if SKIP && zero.all(i, ROWS) {
                // Every sum of these rows is +0 (see ZeroRows).
                finish_rows::<S, NV, WHOLE, READ_W, ROWS>(t, &[[S::zero(); NV]; ROWS], &c, i);
            } else {
                rows_pass::<S, K, NV, WHOLE, READ_W, ROWS>(t, &dv, &c, i);
            }
            i += ROWS;
        }
        while i < t.rows {
            rows_pass::<S, K, NV, WHOLE, READ_W, 1>(t, &dv, &c, i);
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
/// As [`chunk_pass`], with `i + R <= t.rows`; `dv` is `D`'s chunk `c`.
#[inline(always)]
unsafe fn rows_pass<
    S: Lanes,
    const K: usize,
    const NV: usize,
    const WHOLE: usize,
    const READ_W: bool,
    const R: usize,
>(
    t: &RankK,
    dv: &[[S::V; NV]; K],
    c: &Chunk<S, NV>,
    i: usize,
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
        finish_rows::<S, NV, WHOLE, READ_W, R>(t, &acc, c, i);
    }
}

/// The epilogue of rows `i..i+R` of one column chunk: each sum `s` becomes `alpha*s`, or
/// `fma(beta, w, alpha*s)` when `READ_W`, and is stored into `W`.
///
/// # Safety
/// As [`rows_pass`]; `acc` holds the rows' finished sums.
#[inline(always)]
unsafe fn finish_rows<
    S: Lanes,
    const NV: usize,
    const WHOLE: usize,
    const READ_W: bool,
    const R: usize,
>(
    t: &RankK,
    acc: &[[S::V; NV]; R],
    c: &Chunk<S, NV>,
    i: usize,
) {
    // SAFETY (every `S::` call below): the caller runs this with S's target features; the
    // pointers are inside W as noted at each access.
    unsafe {
        for (r, row) in acc.iter().enumerate() {
            for (h, &s) in row.iter().enumerate() {
                let mut v = S::mul(c.alpha, s);
                if READ_W {
                    // SAFETY: row i + r < rows of W at the chunk's columns (its live lanes).
                    let old = c.load::<WHOLE>(t.w, t.rsw, i + r, h);
                    v = S::fmadd(c.beta, old, v);
                }
                let wp =
                    t.w.wrapping_offset((i + r) as isize * t.rsw + (c.j0 + h * S::LANES) as isize);
                // SAFETY: as the load.
                if h < WHOLE {
                    S::store(wp, v);
                } else {
                    S::store_masked(wp, c.masks[h], v);
                }
            }
        }
    }
}

/// The update with `D`'s chunk read again from L1 for every block of `R` rows, instead of held
/// in registers ([`body`]): for each `p`, `NV` vectors of `D`'s row `p` and `R` broadcasts of
/// `X` feed `R x NV` fused multiply-adds. It takes `R*NV + NV + 1` vector registers whatever
/// the depth, so a family with 16 of them (AVX2) can keep a 4x2 or 2x4 block of sums where
/// the held form, needing `K*NV` registers for `D` alone, spills at the book's depth of 10.
/// Same recurrence per cell (from +0, `p` in order, then the same epilogue), so the same bits.
///
/// # Safety
/// As [`body`].
// The x86 families run the streamed form (AVX2 always, AVX-512 past two vectors of columns);
// other targets build it unused.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(crate) unsafe fn streamed_body<S: Lanes, const K: usize, const NV: usize, const R: usize>(
    t: &RankK,
) {
    debug_assert!(t.k == K && K >= 1 && K <= MAX_RANK_K);
    // SAFETY: forwarded contract; the chunks lie inside W's columns.
    unsafe { each_chunk!(S, t, NV, streamed_chunk::<S, K, NV, R>) }
}

/// One column chunk of [`streamed_body`]: blocks of `R` rows, then the rest one at a time.
///
/// # Safety
/// As [`chunk_pass`].
// The x86 families run the streamed form (AVX2 always, AVX-512 past two vectors of columns);
// other targets build it unused.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
unsafe fn streamed_chunk<
    S: Lanes,
    const K: usize,
    const NV: usize,
    const R: usize,
    const WHOLE: usize,
    const READ_W: bool,
    const SKIP: bool,
>(
    t: &RankK,
    j0: usize,
    zero: &ZeroRows,
    issued: &mut usize,
) {
    // SAFETY (every call below): as chunk_pass; the caller runs this with S's target features.
    unsafe {
        let c = Chunk::<S, NV>::new(t, j0);
        let mut i = 0;
        while i + R <= t.rows {
            t.prefetch.issue(*issued);
            *issued += 1;
            // SAFETY: i + R <= rows.
            if SKIP && zero.all(i, R) {
                // Every sum of these rows is +0 (see ZeroRows).
                finish_rows::<S, NV, WHOLE, READ_W, R>(t, &[[S::zero(); NV]; R], &c, i);
            } else {
                streamed_rows::<S, K, NV, WHOLE, READ_W, R>(t, &c, i);
            }
            i += R;
        }
        while i < t.rows {
            streamed_rows::<S, K, NV, WHOLE, READ_W, 1>(t, &c, i);
            i += 1;
        }
    }
}

/// Rows `i..i+R` of one column chunk of [`streamed_body`]: `D`'s chunk row by row from memory.
///
/// # Safety
/// As [`rows_pass`].
// The x86 families run the streamed form (AVX2 always, AVX-512 past two vectors of columns);
// other targets build it unused.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
unsafe fn streamed_rows<
    S: Lanes,
    const K: usize,
    const NV: usize,
    const WHOLE: usize,
    const READ_W: bool,
    const R: usize,
>(
    t: &RankK,
    c: &Chunk<S, NV>,
    i: usize,
) {
    // SAFETY (every `S::` call below): the caller runs this with S's target features; the
    // pointers are inside the operands as noted at each access.
    unsafe {
        let mut acc = [[S::zero(); NV]; R];
        for p in 0..K {
            let mut dv = [S::zero(); NV];
            for (h, v) in dv.iter_mut().enumerate() {
                // SAFETY: row p < k of D at the chunk's columns (its live lanes).
                *v = c.load::<WHOLE>(t.d, t.rsd, p, h);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                // SAFETY: X[p][i + r] with p < k and i + r < rows.
                let xb = S::broadcast(t.x.wrapping_offset(p as isize * t.rsx + (i + r) as isize));
                for (a, &d) in row.iter_mut().zip(&dv) {
                    *a = S::fmadd(xb, d, *a);
                }
            }
        }
        finish_rows::<S, NV, WHOLE, READ_W, R>(t, &acc, c, i);
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
