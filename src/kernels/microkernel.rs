//! The SIMD GEMM microkernel, written once for every vector width and tile shape.
//!
//! A family supplies only its vector operations ([`Lanes`]: about a dozen one-line intrinsics)
//! and a `#[target_feature]` wrapper per tile body ([`Lanes::body`]), in its own file; this
//! module holds the register-blocked loop, the edge handling and the write-back, generic over
//! the vector type, the tile height `MR` and the vectors per row `NV` (the tile is
//! `MR x NV*LANES`). Adding a candidate tile is one line of [`super::KERNELS`]. Everything here
//! is `#[inline(always)]`, so it is compiled inside the family's `#[target_feature]` wrapper
//! with that family's instructions; nothing here runs on its own.
//!
//! The arithmetic is the contract's fixed recurrence (see [`super`]): one FMA per term in k
//! order from +0, partial sums stored raw between k blocks, `alpha*S (+ beta*c0)` at the end.
//! So every tile of every family gives the same bits as [`super::reference_cell`].

use super::rank_k::RankK;
use super::Tile;

/// Most vectors per tile row any kernel uses (the masks are sized for it).
pub const MAX_NV: usize = 3;

/// The vector operations the microkernel needs, implemented once per SIMD family.
///
/// # Safety (every method)
/// The CPU must have the family's ISA: these are only called from inside the family's
/// `#[target_feature]` wrapper ([`Lanes::body`]), which is only reached through a kernel of an
/// [`crate::isa::Isa`] that was checked against the CPU. Pointer arguments must be readable
/// (loads) or writable (stores) for the lanes the method touches.
pub(crate) trait Lanes {
    /// One vector of `LANES` floats.
    type V: Copy;
    /// A lane mask for a ragged vector (columns `j < cols`).
    type Mask: Copy;
    /// Floats per vector.
    const LANES: usize;
    /// Masked stores are slow on this family (AVX2's `vmaskmovps` on AMD): write a ragged
    /// vector whole, blended with the row's current values, where the row may be read wide.
    const BLEND_RAGGED_STORES: bool;

    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    /// `*p` in every lane.
    unsafe fn broadcast(p: *const f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    /// The lanes of `m` from `p`, zero elsewhere; lanes outside `m` are not read.
    unsafe fn load_masked(p: *const f32, m: Self::Mask) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// The lanes of `m` to `p`; lanes outside `m` are not written.
    unsafe fn store_masked(p: *mut f32, m: Self::Mask, v: Self::V);
    /// `m ? new : old`, lane by lane.
    unsafe fn blend(old: Self::V, new: Self::V, m: Self::Mask) -> Self::V;
    /// `a*b + c`, rounded once.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// The family multiplies by a vector element (`fmla` by element on NEON): on packed A the
    /// k step then loads A's column as whole vectors instead of broadcasting every row.
    const LANE_FMA: bool = false;
    /// `b * a[lane] + c`, rounded once (only called when [`Lanes::LANE_FMA`]).
    unsafe fn fmadd_lane(b: Self::V, a: Self::V, lane: usize, c: Self::V) -> Self::V {
        let _ = (b, a, lane, c);
        unreachable!("fmadd_lane on a family without LANE_FMA")
    }
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// The mask of the lanes of vector `h` of a row that hold columns `j < cols`.
    unsafe fn mask(cols: usize, h: usize) -> Self::Mask;

    /// Vector registers the rank-k update ([`super::rank_k`]) may fill with `D`: its column
    /// chunk is as many vectors wide as `k` rows of them fit in this many.
    const RANK_K_REGS: usize;

    /// [`super::rank_k::body`] for this family and depth `K`, compiled with its target
    /// features: a thin `#[target_feature]` wrapper in the family's file.
    ///
    /// # Safety
    /// As [`super::rank_k::body`], with `K == t.k`.
    unsafe fn rank_k<const K: usize>(t: &RankK);

    /// [`body`] for this family, compiled with its target features: a thin
    /// `#[target_feature]` wrapper in the family's file.
    ///
    /// # Safety
    /// As [`gemm_tile`], with `R == t.rows` and `H` vectors covering `t.cols`.
    unsafe fn body<
        const PACKED: bool,
        const MASK_B: bool,
        const MR: usize,
        const NV: usize,
        const R: usize,
        const H: usize,
    >(
        t: &Tile,
    );
}

/// One tile `MR x NV*LANES` of family `S`: picks the body for packed or in-place operands and
/// for the tile's live rows and vectors.
///
/// # Safety
/// The CPU must have `S`'s ISA, and `t` must satisfy the microkernel contract in [`super`] with
/// `mr = MR`, `nr = NV*S::LANES` (unit column stride for C); `MR <= 12`, `NV <= MAX_NV`.
#[inline(always)]
pub(crate) unsafe fn gemm_tile<S: Lanes, const MR: usize, const NV: usize>(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe {
        if t.b_full_rows < t.k {
            by_shape::<S, MR, NV, false, true>(t)
        } else if t.rsa == 1 && t.csa == MR as isize && t.rsb == (NV * S::LANES) as isize {
            by_shape::<S, MR, NV, true, false>(t)
        } else {
            by_shape::<S, MR, NV, false, false>(t)
        }
    }
}

/// Calls `S::body` monomorphised for the tile's live rows `R` and vectors `H`.
///
/// # Safety
/// As [`gemm_tile`].
#[inline(always)]
unsafe fn by_shape<
    S: Lanes,
    const MR: usize,
    const NV: usize,
    const PACKED: bool,
    const MASK_B: bool,
>(
    t: &Tile,
) {
    let vectors = t.cols.div_ceil(S::LANES);
    debug_assert!(t.rows <= MR && vectors <= NV);
    macro_rules! arms {
        ($($r:literal)*) => {
            match (t.rows, vectors) {
                $(
                    ($r, 1) => S::body::<PACKED, MASK_B, MR, NV, $r, 1>(t),
                    ($r, 2) => S::body::<PACKED, MASK_B, MR, NV, $r, 2>(t),
                    ($r, 3) => S::body::<PACKED, MASK_B, MR, NV, $r, 3>(t),
                )*
                _ => unreachable!("a {}x{} tile in a {}-row kernel", t.rows, t.cols, MR),
            }
        };
    }
    // SAFETY: forwarded contract; R == t.rows <= MR and H == vectors covers t.cols.
    unsafe { arms!(1 2 3 4 5 6 7 8 9 10 11 12) }
}

/// The register-blocked loop for `R` live rows and `H` vectors of a kernel `MR` rows tall.
/// Instances with `R > MR` or `H > NV` are never called (`by_shape` only reaches live
/// shapes) and compile to nothing.
///
/// # Safety
/// As [`gemm_tile`], with `R == t.rows` and `H` vectors covering `t.cols`; inlined into a
/// function with `S`'s target features.
#[inline(always)]
pub(crate) unsafe fn body<
    S: Lanes,
    const PACKED: bool,
    const MASK_B: bool,
    const MR: usize,
    const NV: usize,
    const R: usize,
    const H: usize,
>(
    t: &Tile,
) {
    if R > MR || H > NV || NV > MAX_NV {
        return;
    }
    // SAFETY (every `S::` call below): the caller runs this with S's target features.
    // (Plain loops, not `std::array::from_fn`: a closure is a separate function without the
    // target features, so the intrinsics inside it would not be inlined.)
    let mut masks = [unsafe { S::mask(t.cols, 0) }; H];
    for (h, m) in masks.iter_mut().enumerate() {
        *m = unsafe { S::mask(t.cols, h) };
    }
    let (rsa, csa, rsb) = if PACKED {
        (1isize, MR as isize, (NV * S::LANES) as isize)
    } else {
        (t.rsa, t.csa, t.rsb)
    };
    // Row pointers clamped to the last live row: with the clamp LLVM keeps one independent
    // address per row instead of rebuilding rows 3.. from row 0 in every k step (measured +6 %
    // instructions on 10x784x30 without it).
    let last = if PACKED || R > 6 { MR - 1 } else { t.rows - 1 } as isize;
    let mut a = [t.a; R];
    for (i, row) in a.iter_mut().enumerate() {
        *row = t.a.wrapping_offset((i as isize).min(last) * rsa);
    }
    let mut b = t.b;
    let mut acc = if t.load {
        // SAFETY: C rows hold `cols` readable floats, or nr with c_full_rows (contract).
        unsafe { load_rows::<S, R, H, false>(t.c, t.rsc, t.c_full_rows, t.cols, &masks) }
    } else {
        [[unsafe { S::zero() }; H]; R]
    };
    let mut off = 0isize;
    // One k step; `$masked` rows read B through the column masks. Rows of B that hold nr
    // readable floats come first, so the common loop carries no per-row test.
    macro_rules! k_steps {
        ($range:expr, $masked:expr) => {
            for _ in $range {
                let mut bv = [unsafe { S::zero() }; H];
                for (h, v) in bv.iter_mut().enumerate() {
                    let ptr = b.wrapping_add(S::LANES * h);
                    // SAFETY: the first b_full_rows rows of the B strip hold nr readable
                    // floats, the rest `cols`, read through masks (masked-off lanes are not
                    // read).
                    *v = unsafe {
                        if $masked {
                            S::load_masked(ptr, masks[h])
                        } else {
                            S::load(ptr)
                        }
                    };
                }
                if PACKED && S::LANE_FMA && MR % S::LANES == 0 && MR <= 3 * S::LANES {
                    // A's column of this k step as whole vectors, each row's element taken by
                    // lane: the same product and sum, so the same bits.
                    let mut av = [unsafe { S::zero() }; 3];
                    for (g, v) in av.iter_mut().enumerate().take(MR / S::LANES) {
                        // SAFETY: a packed A panel holds MR floats per k step (zero-padded
                        // past the live rows), at `off = p*MR`, p < k (contract).
                        *v = unsafe { S::load(t.a.offset(off + (g * S::LANES) as isize)) };
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        for (c, &v) in row.iter_mut().zip(&bv) {
                            *c = unsafe { S::fmadd_lane(v, av[i / S::LANES], i % S::LANES, *c) };
                        }
                    }
                } else {
                    for (i, row) in acc.iter_mut().enumerate() {
                        // SAFETY: row i < R = rows is a valid row of the A strip and
                        // `off = p*csa`, p < k (contract).
                        let x = unsafe { S::broadcast(a[i].offset(off)) };
                        for (c, &v) in row.iter_mut().zip(&bv) {
                            *c = unsafe { S::fmadd(x, v, *c) };
                        }
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
    // SAFETY: forwarded contract (R == rows, H vectors cover cols, C contiguous).
    unsafe {
        if t.cols == H * S::LANES {
            write_tile::<S, R, H, true>(t, acc, &masks)
        } else {
            write_tile::<S, R, H, false>(t, acc, &masks)
        }
    };
}

/// `R` rows of `H` vectors from `ptr` (row stride `rs`, unit column stride): whole vectors
/// where the vector is full or the row may be read wide, else only the live lanes. `FULL` says
/// at compile time that every vector is full (a whole tile), so no test is made.
///
/// # Safety
/// As [`body`]; rows `i < R` must hold `cols` readable floats, or `H*LANES` when `wide`.
#[inline(always)]
unsafe fn load_rows<S: Lanes, const R: usize, const H: usize, const FULL: bool>(
    ptr: *const f32,
    rs: isize,
    wide: bool,
    cols: usize,
    masks: &[S::Mask; H],
) -> [[S::V; H]; R] {
    // SAFETY (every `S::` call): the caller runs this with S's target features.
    let mut out = [[unsafe { S::zero() }; H]; R];
    for (i, row) in out.iter_mut().enumerate() {
        let p = ptr.wrapping_offset(i as isize * rs);
        for (h, v) in row.iter_mut().enumerate() {
            let q = p.wrapping_add(S::LANES * h);
            // SAFETY: the vector is full, or the row is readable wide, or the masked-off lanes
            // are not read (caller's contract).
            *v = unsafe {
                if FULL || wide || cols >= S::LANES * (h + 1) {
                    S::load(q)
                } else {
                    S::load_masked(q, masks[h])
                }
            };
        }
    }
    out
}

/// The end of every tile: the raw partial sums, or `alpha*S (+ beta*c0)` on the last k block,
/// into C's live cells. `FULL` says at compile time that every vector is full.
///
/// # Safety
/// As [`body`]: the tile contract with `R == t.rows`, `H` vectors covering `t.cols`, C
/// contiguous.
#[inline(always)]
unsafe fn write_tile<S: Lanes, const R: usize, const H: usize, const FULL: bool>(
    t: &Tile,
    mut acc: [[S::V; H]; R],
    masks: &[S::Mask; H],
) {
    // Where masked stores are slow, a ragged vector is written back whole with its dead lanes'
    // current values (the row is this thread's memory nr wide, c_full_rows; rows are stored in
    // order, so a later row's store wins). That needs the rows as they are in memory now, read
    // before any row is stored: a ragged row's store shares a cache line with the next row's
    // start, and loading that row afterwards would stall on store-to-load forwarding.
    let ragged = !FULL && t.cols < S::LANES * H;
    // SAFETY (every `S::` call below): the caller runs this with S's target features.
    if t.finish {
        let alpha = unsafe { S::splat(t.alpha) };
        for row in acc.iter_mut() {
            for v in row.iter_mut() {
                *v = unsafe { S::mul(alpha, *v) };
            }
        }
        if t.beta != 0.0 {
            // SAFETY: c0 rows hold `cols` readable floats, or nr with c0_full_rows (contract).
            let old =
                unsafe { load_rows::<S, R, H, FULL>(t.c0, t.rs0, t.c0_full_rows, t.cols, masks) };
            let beta = unsafe { S::splat(t.beta) };
            for (row, o) in acc.iter_mut().zip(&old) {
                for (v, &c) in row.iter_mut().zip(o) {
                    *v = unsafe { S::fmadd(beta, c, *v) };
                }
            }
            if S::BLEND_RAGGED_STORES && ragged && t.c0_is_c() && t.c0_full_rows {
                // SAFETY: `old` holds C's rows nr wide as they are now (forwarded contract).
                return unsafe { store_rows::<S, R, H, FULL, true>(t, &acc, &old, masks) };
            }
        }
    }
    if S::BLEND_RAGGED_STORES && ragged && t.load && t.c_full_rows {
        // SAFETY: C may be read (this block continues its partial sums), nr wide (c_full_rows).
        let old = unsafe { load_rows::<S, R, H, FULL>(t.c, t.rsc, true, t.cols, masks) };
        // SAFETY: `old` holds C's rows nr wide as they are now (forwarded contract).
        return unsafe { store_rows::<S, R, H, FULL, true>(t, &acc, &old, masks) };
    }
    // SAFETY: forwarded contract; `old` is not read without BLEND.
    unsafe { store_rows::<S, R, H, FULL, false>(t, &acc, &acc, masks) }
}

/// Stores the tile's live cells: full vectors plainly; a ragged one with `BLEND` whole, its dead
/// lanes taken from `old` (C's rows as they were, read nr wide), else through its mask; a
/// vector with no live lane not at all.
///
/// # Safety
/// As [`write_tile`]; with `BLEND`, `old` holds C's current rows and C is this thread's memory
/// nr wide (rows are stored in order, so a later row's store wins where they overlap).
#[inline(always)]
unsafe fn store_rows<
    S: Lanes,
    const R: usize,
    const H: usize,
    const FULL: bool,
    const BLEND: bool,
>(
    t: &Tile,
    acc: &[[S::V; H]; R],
    old: &[[S::V; H]; R],
    masks: &[S::Mask; H],
) {
    for (i, (row, old_row)) in acc.iter().zip(old).enumerate() {
        let c = t.c.wrapping_offset(i as isize * t.rsc);
        for (h, (&v, &o)) in row.iter().zip(old_row).enumerate() {
            let ptr = c.wrapping_add(S::LANES * h);
            // SAFETY: row i < rows of the C tile (contract); see the function's comment.
            unsafe {
                if FULL || t.cols >= S::LANES * (h + 1) {
                    S::store(ptr, v);
                } else if t.cols <= S::LANES * h {
                    // No live cell in this vector.
                } else if BLEND {
                    S::store(ptr, S::blend(o, v, masks[h]));
                } else {
                    S::store_masked(ptr, masks[h], v);
                }
            }
        }
    }
}
