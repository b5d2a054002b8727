//! The portable blocked GEMM driver: orientation, threading, the five loops around the
//! microkernel, and per-thread packing buffers.

use super::blocking::Blocking;
use crate::kernels::pack::{pack_a, pack_b, scale_c, Strided};
use crate::kernels::prefetch_c_block;
use crate::kernels::rank_k::{LinePrefetch, RankK, MAX_RANK_K};
use crate::kernels::sparse_depth::{SparseDepth, MAX_SPARSE_ROWS, SPARSE_COL_UNIT};
use crate::kernels::{GemmKernel, RankKKernel, SparseDepthKernel, Tile};
use rayon::prelude::*;
use std::cell::RefCell;

/// Problems with fewer multiply-adds than this stay on the calling thread: below it, waking a
/// second thread costs more than it saves (measured with benches/gemm.rs; see the README).
pub const PAR_MIN_MACS: usize = 1 << 22;

/// Below this many rows of C, A is not packed: the microkernel broadcasts straight from the
/// caller's A (any strides).
pub const PACK_A_MIN_ROWS: usize = 24;

/// Below this many columns of C, A is not packed either: each A strip meets only a few B panels,
/// so packing A would cost about as much as the product (one copy per `n` multiply-adds).
pub const PACK_A_MIN_COLS: usize = 64;

/// Below this many rows of C, B is used in place when its rows are contiguous (`csb == 1`):
/// with so few A strips, packing B would cost as much as the product itself.
pub const PACK_B_MIN_ROWS: usize = 24;

/// Leading rows (counted from global row `pc`) of an in-place B panel starting at column `col`
/// that can be read `nr` floats wide without leaving B's cells (`k x n`, unit column stride, row
/// stride `rs`): rows must be back to back (`rs == n`, so the over-read past column `n - 1` reads
/// cells of the next row, never memory between rows that the caller may be using) and the
/// over-read must end inside B.
fn b_rows_readable_full(k: usize, n: usize, rs: isize, pc: usize, col: usize, nr: usize) -> usize {
    let over = (col + nr).saturating_sub(n);
    if over == 0 {
        return k - pc;
    }
    if rs <= 0 || rs as usize != n {
        return 0;
    }
    // Global row g is safe when (k - 1 - g) * rs >= over.
    let skip = over.div_ceil(rs as usize);
    k.saturating_sub(skip).saturating_sub(pc)
}

/// Whether C row `row` (and every earlier row of a tile) can be read (and, with the values just
/// read, written) `nr` wide from column `col` without touching anything but cells of C (`m x n`):
/// unit column stride, rows back to back (`rsc == n`, so nothing between rows is touched) and
/// the excess inside a later row.
fn c_row_readable_full(
    m: usize,
    n: usize,
    rsc: isize,
    csc: isize,
    row: usize,
    col: usize,
    nr: usize,
) -> bool {
    let over = (col + nr).saturating_sub(n);
    over == 0
        || (csc == 1
            && rsc > 0
            && rsc as usize == n
            && (m - 1 - row).saturating_mul(rsc as usize) >= over)
}

/// A [`Problem`] handed to the worker threads of one call. Only this type, private to the
/// driver, is sent: the threads read A and B (not written during the call) and write disjoint
/// blocks of C, one per thread (see [`Problem::rows`] and [`Problem::cols`]).
#[derive(Clone, Copy)]
struct SharedProblem(Problem);

impl SharedProblem {
    /// The problem. (A method, so closures capture the wrapper, not the raw field.)
    fn get(&self) -> Problem {
        self.0
    }
}

// SAFETY: see the type's comment: no thread writes memory another thread reads or writes, and
// the caller keeps every operand alive until the call returns (rayon joins before it does).
unsafe impl Send for SharedProblem {}
// SAFETY: as above.
unsafe impl Sync for SharedProblem {}

/// One GEMM call: C (m x n) <- alpha * A (m x k) * B (k x n) + beta * C.
#[derive(Clone, Copy, Debug)]
pub struct Problem {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a: Strided,
    pub b: Strided,
    pub c: *mut f32,
    pub rsc: isize,
    pub csc: isize,
    pub alpha: f32,
    pub beta: f32,
    /// Whether this call's thread owns every row of C in full (so reading past a row's last
    /// column, into the next row, cannot race with another thread). False for column slabs.
    pub c_rows_exclusive: bool,
    /// Rows of A known to be all zero, as a bit map (bit `i % 64` of word `i / 64`,
    /// `m.div_ceil(64)` words), or null. Only the rank-k kernel reads it (to skip those rows'
    /// sums; same bits); a transposed or row-split problem drops it.
    pub zero_rows_of_a: *const u64,
    /// Depth positions where A's column is all zero, as a bit map (bit `p % 64` of word
    /// `p / 64`, `k.div_ceil(64)` words), or null. Only the sparse-depth kernel reads it (to
    /// skip those terms; same bits); a transposed problem drops it.
    pub zero_cols_of_a: *const u64,
}

impl Problem {
    /// The same product written as C^T = B^T A^T.
    fn transposed(self) -> Problem {
        Problem {
            m: self.n,
            n: self.m,
            k: self.k,
            a: Strided {
                ptr: self.b.ptr,
                rs: self.b.cs,
                cs: self.b.rs,
            },
            b: Strided {
                ptr: self.a.ptr,
                rs: self.a.cs,
                cs: self.a.rs,
            },
            c: self.c,
            rsc: self.csc,
            csc: self.rsc,
            alpha: self.alpha,
            beta: self.beta,
            c_rows_exclusive: self.c_rows_exclusive,
            // A's rows are now B's columns, its columns B's rows.
            zero_rows_of_a: std::ptr::null(),
            zero_cols_of_a: std::ptr::null(),
        }
    }

    /// Rows `r0..r1` of C and A.
    fn rows(self, r0: usize, r1: usize) -> Problem {
        Problem {
            m: r1 - r0,
            a: Strided {
                ptr: self.a.ptr.wrapping_offset(r0 as isize * self.a.rs),
                ..self.a
            },
            c: self.c.wrapping_offset(r0 as isize * self.rsc),
            // The map describes the rows from 0, not from r0.
            zero_rows_of_a: std::ptr::null(),
            ..self
        }
    }

    /// Columns `c0..c1` of C and B (another thread owns the rest of each row).
    fn cols(self, c0: usize, c1: usize) -> Problem {
        Problem {
            n: c1 - c0,
            c_rows_exclusive: false,
            b: Strided {
                ptr: self.b.ptr.wrapping_offset(c0 as isize * self.b.cs),
                ..self.b
            },
            c: self.c.wrapping_offset(c0 as isize * self.csc),
            ..self
        }
    }
}

/// How a call is executed: which microkernel, which blocks, how many threads at most.
#[derive(Clone, Copy)]
pub struct Plan {
    pub kernel: GemmKernel,
    pub blocking: Blocking,
    pub threads: usize,
    /// The rank-k update kernel for shallow products in its shape (see [`rank_k_form`]), or
    /// `None` to send every product through the microkernel.
    pub rank_k: Option<RankKKernel>,
    /// Threads of a split by rows pack each block of B once between them when the block holds
    /// at least this many floats ([`SHARE_B_MIN_FLOATS`] by default; see `shares_b`).
    pub share_b_min_floats: usize,
    /// Whether a product's map of A's zero rows ([`Problem::zero_rows_of_a`]) is used; off,
    /// every row's sum runs (benchmarks that report a share of the FMA peak count work done).
    /// The same switch governs maps of A's zero columns ([`Problem::zero_cols_of_a`]).
    pub skip_zero_rows: bool,
    /// The family's sparse-depth kernel, for products told A's zero columns (see
    /// [`sparse_depth_form`]).
    pub sparse_depth: SparseDepthKernel,
}

/// Floats per 64-byte line: with `beta != 0`, C rows this far apart (rounded up from `n`) keep
/// one row's vector stores out of the next row's loads (see [`rank_k_form`]).
const RANK_K_ROW_FLOATS: usize = 16;

/// A single-threaded product of depth `1..=MAX_RANK_K` whose A is read column by column
/// (`rsa == 1`: A is the transpose of a row-major `X`) and whose B and C rows are contiguous is
/// a rank-k update `C <- beta*C + alpha * X^T B`: the SGD weight update. The rank-k kernel
/// passes over C once with B's rows held in registers, instead of one microkernel tile (and
/// its epilogue) per 12 rows. Same arithmetic, same bits.
///
/// With `beta != 0` C's rows must also lie a whole 64-byte line's worth of floats apart, or more
/// (the small-batch step's padded rows): on rows packed closer, the ragged vector of each row
/// reaches into the next one, whose load then waits for the masked store before it to retire
/// (measured on a Sapphire Rapids-class Xeon, 100x10x10: 0.83 us on the rank-k kernel against
/// 0.48 us on the microkernel; on padded rows 0.51 against 0.59).
fn rank_k_form(p: &Problem, threads: usize, prefetch: LinePrefetch) -> Option<RankK> {
    let rows_apart = p.beta == 0.0 || p.rsc >= p.n.next_multiple_of(RANK_K_ROW_FLOATS) as isize;
    let shape = p.k <= MAX_RANK_K && p.a.rs == 1 && p.b.cs == 1 && p.csc == 1;
    (threads == 1 && shape && rows_apart).then_some(RankK {
        k: p.k,
        rows: p.m,
        cols: p.n,
        x: p.a.ptr,
        rsx: p.a.cs,
        d: p.b.ptr,
        rsd: p.b.rs,
        w: p.c,
        rsw: p.rsc,
        alpha: p.alpha,
        beta: p.beta,
        prefetch,
        zero_rows: p.zero_rows_of_a,
    })
}

/// A single-threaded product with a map of A's zero columns, `beta == 0`, at most
/// [`MAX_SPARSE_ROWS`] rows, whole lines of columns ([`SPARSE_COL_UNIT`]) and unit column
/// strides is the trainer's first-layer forward on a batch: the sparse-depth kernel runs only
/// the terms of the live depth positions, in order (same bits; see
/// [`crate::kernels::sparse_depth`]).
fn sparse_depth_form(p: &Problem, threads: usize) -> Option<SparseDepth> {
    let shape = p.m <= MAX_SPARSE_ROWS
        && p.n.is_multiple_of(SPARSE_COL_UNIT)
        && p.a.cs == 1
        && p.b.cs == 1
        && p.csc == 1;
    (threads == 1 && shape && p.beta == 0.0 && !p.zero_cols_of_a.is_null()).then_some(SparseDepth {
        m: p.m,
        k: p.k,
        n: p.n,
        a: p.a.ptr,
        rsa: p.a.rs,
        b: p.b.ptr,
        rsb: p.b.rs,
        c: p.c,
        rsc: p.rsc,
        alpha: p.alpha,
        zero: p.zero_cols_of_a,
    })
}

/// How a problem runs, decided from its shape, strides, `beta != 0` and the plan alone (never
/// from its data or addresses). Every route gives the same bits (the kernel contract).
#[derive(Clone, Copy, Debug)]
enum Route {
    /// The family's rank-k update kernel (see [`rank_k_form`]).
    RankK(RankKKernel),
    /// The family's sparse-depth kernel (see [`sparse_depth_form`]).
    SparseDepth,
    /// C fits one microkernel tile and the depth one kc block: a single kernel call on A and
    /// B in place, B packed into the thread's buffer first when its rows are not contiguous.
    /// (What [`slab`] does for such a problem, without its five loops around the call.)
    OneTile { pack_b: bool },
    /// The five blocked loops ([`slab`]) on up to `threads` threads.
    Blocked { threads: usize },
}

/// The orientation and route of a problem with `m, n, k >= 1` and `alpha != 0`: the problem as
/// it will run (transposed when C's unit stride is along its columns) and how.
fn route(plan: &Plan, mut p: Problem) -> (Problem, Route) {
    let threads = if p.m * p.n * p.k >= PAR_MIN_MACS {
        plan.threads.max(1)
    } else {
        1
    };
    if sparse_depth_form(&p, threads).is_some() {
        return (p, Route::SparseDepth);
    }
    // The microkernel vectorises along C's rows; put C's unit stride (if any) there.
    if p.rsc.unsigned_abs() < p.csc.unsigned_abs() {
        p = p.transposed();
    }
    let (mr, nr) = (plan.kernel.mr, plan.kernel.nr);
    let route = if let (Some(kernel), Some(_)) =
        (plan.rank_k, rank_k_form(&p, threads, LinePrefetch::of(&[])))
    {
        Route::RankK(kernel)
    } else if threads == 1 && p.m <= mr && p.n <= nr && p.k <= plan.blocking.kc {
        // One tile: A is never packed (mr < PACK_A_MIN_ROWS) and B stays in place when its
        // rows are contiguous (mr < PACK_B_MIN_ROWS), exactly as in `slab`.
        Route::OneTile {
            pack_b: p.b.cs != 1,
        }
    } else {
        Route::Blocked { threads }
    };
    (p, route)
}

/// Runs a problem.
///
/// # Safety
/// A and B must be readable and C readable/writable at every cell of their `m x k`, `k x n` and
/// `m x n` extents, and C must not overlap A or B or itself.
pub unsafe fn run(plan: &Plan, p: Problem) {
    // SAFETY: forwarded; no lines.
    unsafe { run_prefetching(plan, p, &[]) }
}

/// [`run`], asking for the cache lines at byte addresses `lines` meanwhile: spread over the
/// rank-k kernel's rows when the problem takes it ([`LinePrefetch`]), else all before the work.
///
/// # Safety
/// As [`run`] (any addresses: a prefetch never faults).
pub unsafe fn run_prefetching(plan: &Plan, p: Problem, lines: &[usize]) {
    // SAFETY: forwarded from the caller.
    if unsafe { trivial(p, lines) } {
        return;
    }
    let (p, how) = route(plan, p);
    // SAFETY: forwarded from the caller; `how` is this problem's route.
    unsafe { run_routed(plan, p, how, lines) }
}

/// Handles a problem with nothing to multiply (C empty: nothing; `k == 0` or `alpha == 0`: C
/// scaled by beta), issuing `lines`; false when there is a product to run.
///
/// # Safety
/// As [`run`].
unsafe fn trivial(p: Problem, lines: &[usize]) -> bool {
    let issue_all = || lines.iter().for_each(|&l| crate::kernels::prefetch_l2(l));
    if p.m == 0 || p.n == 0 {
        issue_all();
        return true;
    }
    if p.k == 0 || p.alpha == 0.0 {
        issue_all();
        // SAFETY: C's extent is writable (caller).
        unsafe { scale_c(p.m, p.n, p.beta, p.c, p.rsc, p.csc) };
        return true;
    }
    false
}

/// Runs a non-trivial problem (see [`trivial`]) already oriented and routed by [`route`].
///
/// # Safety
/// As [`run`], with `m, n, k >= 1`, `alpha != 0`, and `(p, how)` as [`route`] returns them
/// for this problem's shape, strides and plan.
unsafe fn run_routed(plan: &Plan, p: Problem, how: Route, lines: &[usize]) {
    let issue_all = || lines.iter().for_each(|&l| crate::kernels::prefetch_l2(l));
    match how {
        Route::RankK(kernel) => {
            let t = rank_k_form(&p, 1, LinePrefetch::of(lines))
                .expect("the route was chosen for this shape");
            // SAFETY: the operands are valid over their extents (caller); k is
            // 1..=MAX_RANK_K and alpha != 0 (caller); C overlaps neither A nor B (caller); the
            // lines are `lines`, alive for this call.
            unsafe { kernel.run(&t) };
        }
        Route::SparseDepth => {
            issue_all();
            let t = sparse_depth_form(&p, 1).expect("the route was chosen for this shape");
            // SAFETY: the operands are valid over their extents (caller), the shape is the
            // kernel's (sparse_depth_form), the map has k's words and marks only zero columns
            // of A (the map's maker, `Gemm::gemm_hinted`'s caller), C overlaps neither A nor B.
            unsafe { plan.sparse_depth.run(&t) };
        }
        Route::OneTile { pack_b: packed } => {
            issue_all();
            // SAFETY: forwarded from the caller; the route says the problem fits one tile.
            unsafe { one_tile(plan, p, packed) };
        }
        Route::Blocked { threads } => {
            issue_all();
            // SAFETY: forwarded from the caller.
            unsafe { run_split(plan, p, threads) }
        }
    }
}

/// A problem that fits one microkernel tile (`m <= mr`, `n <= nr`) and one kc block, as a
/// single kernel call: the tile [`slab`] would build for it, without the loops around it.
///
/// # Safety
/// As [`run_routed`] with [`Route::OneTile`]; `packed` is `p.b.cs != 1`.
unsafe fn one_tile(plan: &Plan, p: Problem, packed: bool) {
    let nr = plan.kernel.nr;
    let c_full_rows =
        p.c_rows_exclusive && c_row_readable_full(p.m, p.n, p.rsc, p.csc, p.m - 1, 0, nr);
    let call = |b: *const f32, rsb: isize, b_full_rows: usize| {
        let t = Tile {
            k: p.k,
            a: p.a.ptr,
            rsa: p.a.rs,
            csa: p.a.cs,
            rows: p.m,
            b,
            rsb,
            b_full_rows,
            cols: p.n,
            c: p.c,
            rsc: p.rsc,
            csc: p.csc,
            c_full_rows,
            load: false,
            finish: true,
            alpha: p.alpha,
            beta: p.beta,
            c0: p.c,
            rs0: p.rsc,
            cs0: p.csc,
            c0_full_rows: c_full_rows,
        };
        // SAFETY: one tile of the caller's operands (m <= mr, n <= nr), B in place or in a
        // whole zero-padded panel, C's rows read `nr` wide only where `c_full_rows` says.
        unsafe { plan.kernel.run(&t) };
    };
    if packed {
        with_workspace(|ws| {
            let buf = aligned(&mut ws.b, nr * p.k);
            // SAFETY: B's k x n cells are readable (caller); `buf` holds one nr-wide panel.
            unsafe { pack_b(p.k, p.n, p.b, buf, nr, plan.kernel.pack_b_panel) };
            call(buf.as_ptr(), nr as isize, p.k);
        });
    } else {
        let b_full_rows = b_rows_readable_full(p.k, p.n, p.b.rs, 0, 0, nr);
        call(p.b.ptr, p.b.rs, b_full_rows);
    }
}

/// Splits C into `threads` disjoint blocks of whole tiles (rows or columns, whichever has more
/// tiles) and runs each on its own thread. Tile boundaries stay where one thread would put them
/// and the k loop is never split, so the result does not depend on the thread count.
unsafe fn run_split(plan: &Plan, p: Problem, threads: usize) {
    let (mr, nr) = (plan.kernel.mr, plan.kernel.nr);
    let tiles_m = p.m.div_ceil(mr);
    let tiles_n = p.n.div_ceil(nr);
    let (tiles, tile, extent) = if tiles_m >= tiles_n {
        (tiles_m, mr, p.m)
    } else {
        (tiles_n, nr, p.n)
    };
    let parts = threads.min(tiles);
    if parts <= 1 {
        // SAFETY: forwarded from the caller.
        with_workspace(|ws| unsafe { slab(plan, p, ws) });
        return;
    }
    let per = tiles.div_ceil(parts) * tile;
    let by_rows = tiles_m >= tiles_n;
    if by_rows && shares_b(plan, &p, parts, per) {
        // SAFETY: forwarded from the caller.
        unsafe { split_rows_sharing_b(plan, p, parts, per) };
        return;
    }
    let shared = SharedProblem(p);
    (0..parts).into_par_iter().for_each(|q| {
        let (lo, hi) = (q * per, ((q + 1) * per).min(extent));
        if lo >= hi {
            return;
        }
        let whole = shared.get();
        let part = if by_rows {
            whole.rows(lo, hi)
        } else {
            whole.cols(lo, hi)
        };
        // SAFETY: each part is a disjoint block of C; A and B are only read.
        with_workspace(|ws| unsafe { slab(plan, part, ws) });
    });
}

/// Blocks of B smaller than this many floats are packed by every thread of a split, not once
/// for all of them (`shares_b`): sharing costs a second parallel loop per block and sends
/// the other threads' panels from core to core, which a small block's packing does not repay.
/// Measured on Zen 5, two threads, alternating builds: 784x1000x30 (B block 1000x32, one
/// panel) 2-20 % slower shared, 1000x784x100 (784x128) within -8..+9 %, 1024^3 (1024x1024)
/// and larger faster (2048^3 +3-6 %, 4096^3 +11 %).
pub const SHARE_B_MIN_FLOATS: usize = 1 << 18;

/// Whether the `parts` row parts of a split (`per` rows each, the last maybe fewer) share one
/// packed copy of each block of B ([`split_rows_sharing_b`]) instead of each packing all of
/// it: when they would pack B anyway (its rows are not contiguous, or the parts are too tall
/// to read it in place), when a block is large enough (`Plan::share_b_min_floats`) and has a
/// panel for every part to pack, and when C needs no saved copy for beta (`beta == 0`, or one
/// kc block).
fn shares_b(plan: &Plan, p: &Problem, parts: usize, per: usize) -> bool {
    let Blocking { kc, nc, .. } = plan.blocking;
    let packs_b = p.b.cs != 1 || per >= PACK_B_MIN_ROWS;
    let (kb, nb) = (p.k.min(kc), p.n.min(nc));
    let large = kb * nb >= plan.share_b_min_floats && nb.div_ceil(plan.kernel.nr) >= parts;
    let saves_c0 = p.k > kc && p.beta != 0.0;
    packs_b && large && !saves_c0
}

/// A block of B and its shared packing buffer, handed to the worker threads of one
/// [`split_rows_sharing_b`] step: while packing, each thread writes only its own panels of the
/// buffer; while multiplying, all of them only read it (the two phases are separate parallel
/// loops, so every write is finished before any read).
#[derive(Clone, Copy)]
struct SharedBlock(BBlock, *mut f32);

impl SharedBlock {
    /// The block and the buffer. (A method, so closures capture the wrapper, not its fields.)
    fn get(&self) -> (BBlock, *mut f32) {
        (self.0, self.1)
    }
}

// SAFETY: see the type's comment: the buffer is written in disjoint panels, then only read, and
// it outlives both parallel loops (they join before the caller frees it).
unsafe impl Send for SharedBlock {}
// SAFETY: as above.
unsafe impl Sync for SharedBlock {}

/// [`run_split`] by rows, with each kc x nc block of B packed once, the parts packing a share
/// of its panels each, then every part multiplying its rows against the whole block. Packing
/// all of B in every part (as [`slab`] does) was 3 % of each thread's time at 2048^3 on two
/// threads (Zen 5). The blocks, tiles and k order are [`slab`]'s, so the bits are too.
///
/// # Safety
/// As [`run`]; `shares_b` holds for the split into `parts` parts of `per` rows.
unsafe fn split_rows_sharing_b(plan: &Plan, p: Problem, parts: usize, per: usize) {
    let Blocking { kc, nc, .. } = plan.blocking;
    let nr = plan.kernel.nr;
    // The shared buffer is the calling thread's B buffer, taken out for the call (the workers
    // use their own A buffers).
    let mut bbuf = with_workspace(|ws| std::mem::take(&mut ws.b));
    let shared = SharedProblem(p);
    for jc in (0..p.n).step_by(nc) {
        let nb = nc.min(p.n - jc);
        let panels = nb.div_ceil(nr);
        for pc in (0..p.k).step_by(kc) {
            let kb = kc.min(p.k - pc);
            let bpk = aligned(&mut bbuf, panels * nr * kb);
            let block = SharedBlock(
                BBlock {
                    blk: b_block(&p, pc, jc),
                    packed: bpk.as_ptr(),
                    packed_from: 0,
                    jc,
                    pc,
                    kb,
                    nb,
                },
                bpk.as_mut_ptr(),
            );
            let share = panels.div_ceil(parts);
            (0..parts).into_par_iter().for_each(|q| {
                let (b, dst) = block.get();
                let (q0, q1) = (q * share, ((q + 1) * share).min(panels));
                // SAFETY: the block is inside B (caller); `dst` holds all its panels, and
                // panels q0..q1 are this part's alone.
                unsafe { pack_b_panels(plan, &b, q0, q1, dst) };
            });
            (0..parts).into_par_iter().for_each(|q| {
                let whole = shared.get();
                let (lo, hi) = (q * per, ((q + 1) * per).min(whole.m));
                if lo >= hi {
                    return;
                }
                let part = whole.rows(lo, hi);
                let (b, _) = block.get();
                // SAFETY: each part is a disjoint block of C's rows; A and B (and the packed
                // block, complete since the loop above joined) are only read; beta needs no
                // saved C (`shares_b`).
                with_workspace(|ws| unsafe { block_rows(plan, &part, &mut ws.a, &b, OldC::NONE) });
            });
        }
    }
    with_workspace(|ws| {
        if ws.b.len() < bbuf.len() {
            ws.b = bbuf;
        }
    });
}

/// Per-thread packing buffers, reused across calls.
#[derive(Default)]
struct Workspace {
    a: Vec<f32>,
    b: Vec<f32>,
    /// C's values before the call, kept for `beta` while C holds partial sums (only when the
    /// depth spans several kc blocks and `beta != 0`).
    c0: Vec<f32>,
}

thread_local! {
    static WORKSPACE: RefCell<Workspace> = RefCell::new(Workspace::default());
}

fn with_workspace<R>(f: impl FnOnce(&mut Workspace) -> R) -> R {
    WORKSPACE.with(|ws| match ws.try_borrow_mut() {
        Ok(mut ws) => f(&mut ws),
        // Re-entered on this thread (a nested call): use a private buffer rather than fail.
        Err(_) => f(&mut Workspace::default()),
    })
}

/// A 64-byte aligned slice of `len` floats inside `buf`.
fn aligned(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    const ALIGN_FLOATS: usize = 16;
    if buf.len() < len + ALIGN_FLOATS {
        buf.resize(len + ALIGN_FLOATS, 0.0);
    }
    let off = buf.as_ptr().align_offset(64).min(ALIGN_FLOATS);
    &mut buf[off..off + len]
}

/// One kc x nc block of B as the kernels read it: its nr-wide panels before `packed_from` in
/// place in B (rows contiguous), the rest packed (zero-padded) at `packed`.
#[derive(Clone, Copy)]
struct BBlock {
    /// B's block at (pc, jc).
    blk: Strided,
    packed: *const f32,
    /// Columns of the block read in place (0: all packed; `nb`: none packed).
    packed_from: usize,
    jc: usize,
    pc: usize,
    kb: usize,
    nb: usize,
}

impl BBlock {
    /// Panel `jr` (a multiple of nr): its first float, row stride and rows readable `nr` wide.
    fn panel(&self, p: &Problem, jr: usize, nr: usize) -> (*const f32, isize, usize) {
        if jr < self.packed_from {
            let rows = b_rows_readable_full(p.k, p.n, p.b.rs, self.pc, self.jc + jr, nr);
            (
                self.blk.ptr.wrapping_add(jr),
                self.blk.rs,
                rows.min(self.kb),
            )
        } else {
            let at = (jr - self.packed_from) * self.kb;
            (self.packed.wrapping_add(at), nr as isize, self.kb)
        }
    }
}

/// Where a tile finds C's values before the call, for beta: C itself, or (when the depth spans
/// several kc blocks and beta != 0, so C holds partial sums meanwhile) a saved copy whose rows
/// are `rs0` floats apart.
#[derive(Clone, Copy)]
struct OldC {
    saved: *const f32,
    rs0: usize,
    is_saved: bool,
}

impl OldC {
    /// C itself holds the old values (nothing saved).
    const NONE: OldC = OldC {
        saved: std::ptr::null(),
        rs0: 0,
        is_saved: false,
    };
}

/// The five loops around the microkernel, on one thread.
unsafe fn slab(plan: &Plan, p: Problem, ws: &mut Workspace) {
    let Blocking { kc, nc, .. } = plan.blocking;
    let nr = plan.kernel.nr;
    let b_in_place = p.b.cs == 1 && p.m < PACK_B_MIN_ROWS;
    let Workspace {
        a: abuf,
        b: bbuf,
        c0: c0buf,
    } = ws;
    // With several kc blocks, C holds each cell's running sum between them (so the sum runs in
    // one k order whatever kc is) and its old values are kept aside for beta.
    let save_c0 = p.k > kc && p.beta != 0.0;

    // loop 5: split n into nc-wide panels of B and C
    for jc in (0..p.n).step_by(nc) {
        let nb = nc.min(p.n - jc);
        // SAFETY: the panel's cells are C's (caller).
        let old = unsafe { save_old_c(&p, c0buf, jc, nb, nr, save_c0) };
        // loop 4: split k into kc-deep rank updates; the first starts each sum from zero, the
        // last applies alpha and beta
        for pc in (0..p.k).step_by(kc) {
            let kb = kc.min(p.k - pc);
            // B panels: all packed (zero-padded), or all in place (the ragged last one read
            // through masks by the kernel).
            let packed_from = if b_in_place { nb } else { 0 };
            let bpk = aligned(bbuf, (nb - packed_from).div_ceil(nr) * nr * kb);
            let b = BBlock {
                blk: b_block(&p, pc, jc),
                packed: bpk.as_ptr(),
                packed_from,
                jc,
                pc,
                kb,
                nb,
            };
            if packed_from < nb {
                // SAFETY: the block is inside B's extent; `bpk` was sized for all its panels.
                unsafe { pack_b_panels(plan, &b, 0, nb.div_ceil(nr), bpk.as_mut_ptr()) };
            }
            // SAFETY: forwarded from the caller; B's block is ready as `b` says.
            unsafe { block_rows(plan, &p, abuf, &b, old) };
        }
    }
}

/// B's block at depth `pc`, column `jc`.
fn b_block(p: &Problem, pc: usize, jc: usize) -> Strided {
    Strided {
        ptr: p
            .b
            .ptr
            .wrapping_offset(pc as isize * p.b.rs + jc as isize * p.b.cs),
        ..p.b
    }
}

/// Packs panels `q0..q1` (each nr wide) of `b`'s block into `dst`, which holds the block's
/// panels from its first one.
///
/// # Safety
/// The block lies inside B's extent; `dst` holds `ceil(nb/nr)*nr*kb` floats, and no other
/// thread touches panels `q0..q1` of it meanwhile.
unsafe fn pack_b_panels(plan: &Plan, b: &BBlock, q0: usize, q1: usize, dst: *mut f32) {
    let nr = plan.kernel.nr;
    let (c0, c1) = (q0 * nr, (q1 * nr).min(b.nb));
    if c0 >= c1 {
        return;
    }
    let src = Strided {
        ptr: b.blk.ptr.wrapping_offset(c0 as isize * b.blk.cs),
        ..b.blk
    };
    let len = (q1 - q0) * nr * b.kb;
    // SAFETY: panels q0..q1 of `dst` (caller: allocated, not touched by anyone else).
    let out = unsafe { std::slice::from_raw_parts_mut(dst.add(q0 * nr * b.kb), len) };
    // SAFETY: columns c0..c1 of the block are inside B (caller); `out` holds their panels.
    unsafe { pack_b(b.kb, c1 - c0, src, out, nr, plan.kernel.pack_b_panel) };
}

/// Keeps C's values before the call for the nb-wide panel at column `jc` when `save` (see
/// [`OldC`]), in `buf`, rows padded to whole tiles so that every row reads nr wide.
///
/// # Safety
/// The panel's cells are cells of C, readable.
unsafe fn save_old_c(
    p: &Problem,
    buf: &mut Vec<f32>,
    jc: usize,
    nb: usize,
    nr: usize,
    save: bool,
) -> OldC {
    if !save {
        return OldC::NONE;
    }
    let rs0 = nb.div_ceil(nr) * nr;
    let buf = aligned(buf, p.m * rs0);
    for (i, row) in buf.chunks_exact_mut(rs0).enumerate() {
        for (j, v) in row[..nb].iter_mut().enumerate() {
            let at = i as isize * p.rsc + (jc + j) as isize * p.csc;
            // SAFETY: (i, jc + j) is a cell of C (caller).
            *v = unsafe { *p.c.offset(at) };
        }
    }
    OldC {
        saved: buf.as_ptr(),
        rs0,
        is_saved: true,
    }
}

/// Loops 3 to 1 for one kc x nc block: every mc-tall block of `p`'s rows (A packed into `abuf`
/// when it pays) against the block of B, tile by tile.
///
/// # Safety
/// As [`run`] for `p`; `b` describes this block of `p`'s B, its packed panels complete; `old`
/// as [`save_old_c`] made it for this panel of `p`'s C.
unsafe fn block_rows(plan: &Plan, p: &Problem, abuf: &mut Vec<f32>, b: &BBlock, old: OldC) {
    let Blocking { mc, .. } = plan.blocking;
    let (mr, nr) = (plan.kernel.mr, plan.kernel.nr);
    let pack_all_a = p.m >= PACK_A_MIN_ROWS && p.n >= PACK_A_MIN_COLS;
    let (jc, pc, kb, nb) = (b.jc, b.pc, b.kb, b.nb);
    let (first, last) = (pc == 0, pc + kb == p.k);
    let save_c0 = old.is_saved;
    let (c0_saved, rs0) = (old.saved, old.rs0);
    // loop 3: split m into mc-tall blocks of A and C
    for ic in (0..p.m).step_by(mc) {
        let mb = mc.min(p.m - ic);
        let a_blk = Strided {
            ptr: p
                .a
                .ptr
                .wrapping_offset(ic as isize * p.a.rs + pc as isize * p.a.cs),
            ..p.a
        };
        let c_blk =
            p.c.wrapping_offset(ic as isize * p.rsc + jc as isize * p.csc);
        let (apk, ars, acs, astep) = if pack_all_a {
            let buf = aligned(abuf, mb.div_ceil(mr) * mr * kb);
            // SAFETY: the block is inside A's extent; `buf` was sized for it.
            unsafe { pack_a(mb, kb, a_blk, buf, mr, plan.kernel.pack_a_panel) };
            (buf.as_ptr(), 1, mr as isize, (mr * kb) as isize)
        } else {
            (a_blk.ptr, a_blk.rs, a_blk.cs, mr as isize * a_blk.rs)
        };
        let a_row_step = astep / mr as isize;
        // The fields every tile of this block shares are set once; `place` points the
        // tile at (ir, jr), rewriting only what changes from tile to tile.
        let mut t = Tile {
            k: kb,
            a: apk,
            rsa: ars,
            csa: acs,
            rows: mr,
            b: b.packed,
            rsb: nr as isize,
            b_full_rows: kb,
            cols: nr,
            c: c_blk,
            rsc: p.rsc,
            csc: p.csc,
            c_full_rows: false,
            load: !first,
            finish: last,
            alpha: p.alpha,
            beta: p.beta,
            c0: c0_saved,
            rs0: if save_c0 { rs0 as isize } else { p.rsc },
            cs0: if save_c0 { 1 } else { p.csc },
            c0_full_rows: save_c0,
        };
        let place = |t: &mut Tile, ir: usize, jr: usize| {
            (t.b, t.rsb, t.b_full_rows) = b.panel(p, jr, nr);
            // Strip ir / mr (ir is a multiple of mr), without a division per tile.
            t.a = apk.wrapping_offset(ir as isize * a_row_step);
            t.rows = mr.min(mb - ir);
            t.cols = nr.min(nb - jr);
            t.c = c_blk.wrapping_offset(ir as isize * p.rsc + jr as isize * p.csc);
            t.c_full_rows = p.c_rows_exclusive
                && c_row_readable_full(p.m, p.n, p.rsc, p.csc, ic + ir + t.rows - 1, jc + jr, nr);
            if save_c0 {
                t.c0 = c0_saved.wrapping_add((ic + ir) * rs0 + jr);
            } else {
                (t.c0, t.c0_full_rows) = (t.c.cast_const(), t.c_full_rows);
            }
        };
        // Each tile first asks for the C lines of the tile after it
        // (`prefetch_c_block`): those rows are a row stride apart, each its own miss,
        // and a tile's sums cannot start before they arrive. Only for blocks of whole
        // packed panels, where every tile runs a long k loop to hide the fetches behind.
        let prefetch_next = |ir: usize, jr: usize| {
            if ir < mb && jr < nb && p.csc == 1 {
                let c = c_blk.wrapping_offset(ir as isize * p.rsc + jr as isize);
                prefetch_c_block(c, mr.min(mb - ir), p.rsc, nr.min(nb - jr));
            }
        };
        // SAFETY (both loop orders): every tile lies inside the blocks above, which lie
        // inside the caller's extents; packed buffers hold whole zero-padded panels.
        if pack_all_a {
            // loop 2: nr-wide micro-panels of B; loop 1: mr-tall strips of packed A
            for jr in (0..nb).step_by(nr) {
                for ir in (0..mb).step_by(mr) {
                    if ir + mr < mb {
                        prefetch_next(ir + mr, jr);
                    } else {
                        prefetch_next(0, jr + nr);
                    }
                    place(&mut t, ir, jr);
                    unsafe { plan.kernel.run(&t) };
                }
            }
        } else {
            // Unpacked A: keep one A strip hot in L1 while it meets every B panel.
            for ir in (0..mb).step_by(mr) {
                for jr in (0..nb).step_by(nr) {
                    place(&mut t, ir, jr);
                    unsafe { plan.kernel.run(&t) };
                }
            }
        }
    }
}
