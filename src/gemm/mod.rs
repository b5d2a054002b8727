//! Single-precision GEMM: `C <- alpha * A * B + beta * C`.
//!
//! - [`sgemm`]: a drop-in for `matrixmultiply::sgemm` (same `unsafe fn` signature and meaning),
//!   using the kernel family chosen once at run time ([`crate::isa::Isa::selected`]), the cache
//!   blocking of this machine and rayon's thread count.
//! - [`gemm`]: the safe API over [`MatRef`]/[`MatMut`] views, returning an error on any shape,
//!   extent or stride problem.
//! - [`Gemm`]: an explicit configuration (kernel family, threads, blocking), used by tests and
//!   benchmarks to exercise every path in one process.
//!
//! The algorithm is BLIS's (see `driver.rs`): five loops around a register-tile microkernel
//! (6x16 AVX2, 12x32 AVX-512 by default; `kernels::KERNELS` lists every candidate), A and B packed into contiguous panels sized for L2/L1, C split between threads
//! in disjoint blocks (never along k) so results are bit-identical for any thread count. Small
//! problems skip what they do not need: no threads below [`driver::PAR_MIN_MACS`], no packing of
//! A or of row-contiguous B when C has few rows.

pub mod blocking;
pub mod driver;
pub mod profile;
mod view;
mod zero_rows;

pub use crate::kernels::reference_cell;
pub use blocking::Blocking;
pub use view::{MatMut, MatRef};
pub(crate) use zero_rows::{Hints, ZeroRowMap};

use crate::error::{Error, Result};
use crate::isa::Isa;
use crate::kernels::pack::Strided;
use crate::kernels::{GemmKernel, RankKKernel, SparseDepthKernel};
use driver::{Plan, Problem};

/// An explicit GEMM configuration.
#[derive(Clone, Copy)]
pub struct Gemm {
    plan: Plan,
}

impl Gemm {
    /// The default configuration: the kernel forced by `VANISHING_KERNEL`, else the kernel and
    /// blocking of this machine's tuned profile ([`profile::Profile`], from `vanishing tune`),
    /// else the selected family's default kernel; the blocking forced by `VANISHING_BLOCKING`
    /// wins over the profile's; rayon's current thread count.
    pub fn new() -> Gemm {
        if let Some(k) = forced_kernel() {
            return Gemm::with_kernel(k);
        }
        match saved_profile() {
            Some((k, b)) => {
                let g = Gemm::with_kernel(k);
                if Blocking::forced_once().is_some() {
                    g
                } else {
                    g.blocking(b)
                }
            }
            None => Gemm::with_isa(Isa::selected()),
        }
    }

    /// A configuration for a given kernel family (checked against the CPU; an unavailable family
    /// falls back to scalar): the kernel forced by `VANISHING_KERNEL` when it belongs to this
    /// family, else the family's default. Blocking ([`Blocking::selected`]: forced or detected)
    /// and threads as in [`Gemm::new`].
    pub fn with_isa(isa: Isa) -> Gemm {
        let default = GemmKernel::for_isa(isa);
        let kernel = forced_kernel()
            .filter(|k| k.isa == default.isa)
            .unwrap_or(default);
        Gemm::with_kernel(kernel)
    }

    /// A configuration for one microkernel ([`GemmKernel::available`] lists them). Blocking and
    /// threads as in [`Gemm::new`].
    pub fn with_kernel(kernel: GemmKernel) -> Gemm {
        Gemm {
            plan: Plan {
                kernel,
                blocking: Blocking::selected(kernel.mr, kernel.nr),
                threads: rayon::current_num_threads(),
                rank_k: Some(RankKKernel::for_isa(kernel.isa)),
                share_b_min_floats: driver::SHARE_B_MIN_FLOATS,
                skip_zero_rows: true,
                sparse_depth: SparseDepthKernel::for_isa(kernel.isa),
            },
        }
    }

    /// Caps the number of threads (1 = run on the calling thread).
    pub fn threads(mut self, threads: usize) -> Gemm {
        self.plan.threads = threads.max(1);
        self
    }

    /// Whether shallow products in the rank-k update's shape (depth up to
    /// [`crate::kernels::rank_k::MAX_RANK_K`], A read by columns, B and C by rows: the SGD
    /// weight update) run on the family's rank-k kernel (the default) or on the microkernel.
    /// The bits are the same either way; tests and benchmarks compare the two.
    pub fn rank_k(mut self, on: bool) -> Gemm {
        self.plan.rank_k = on.then(|| RankKKernel::for_isa(self.plan.kernel.isa));
        self
    }

    /// Threads splitting a product by rows share one packed copy of each block of B (each
    /// packing a share of its panels) when the block holds at least `floats` floats; smaller
    /// blocks are packed by every thread ([`driver::SHARE_B_MIN_FLOATS`] by default: below it
    /// sharing measured no faster). The bits are the same either way; tests use 0 to share on
    /// small problems.
    pub fn share_packed_b_from(mut self, floats: usize) -> Gemm {
        self.plan.share_b_min_floats = floats;
        self
    }

    /// Whether the rank-k update skips the sums of rows that [`Gemm::gemm_hinted`] is told are
    /// zero in A (the default: on). The bits are the same either way; only the work differs.
    /// Benchmarks that report a share of the FMA peak turn it off, so that the share counts
    /// only arithmetic done.
    pub fn skip_zero_rows(mut self, on: bool) -> Gemm {
        self.plan.skip_zero_rows = on;
        self
    }

    /// Whether maps of zero rows are used (see [`Gemm::skip_zero_rows`]).
    pub fn skips_zero_rows(&self) -> bool {
        self.plan.skip_zero_rows
    }

    /// The sparse-depth kernel in use for products told A's zero columns.
    pub fn sparse_depth_name(&self) -> &'static str {
        self.plan.sparse_depth.name
    }

    /// The rank-k update kernel in use for shallow products, if any.
    pub fn rank_k_name(&self) -> Option<&'static str> {
        self.plan.rank_k.map(|k| k.name)
    }

    /// Overrides the cache blocking.
    pub fn blocking(mut self, blocking: Blocking) -> Gemm {
        self.plan.blocking = blocking;
        self
    }

    /// The microkernel's name, e.g. `sgemm.avx2.6x16`.
    pub fn kernel_name(&self) -> &'static str {
        self.plan.kernel.name
    }

    /// The kernel family in use.
    pub fn isa(&self) -> Isa {
        self.plan.kernel.isa
    }

    /// The register tile `(mr, nr)` of the kernel in use.
    pub fn tile(&self) -> (usize, usize) {
        (self.plan.kernel.mr, self.plan.kernel.nr)
    }

    /// The blocking in use.
    pub fn block_sizes(&self) -> Blocking {
        self.plan.blocking
    }

    /// The thread cap in use.
    pub fn thread_cap(&self) -> usize {
        self.plan.threads
    }

    /// Raw-pointer GEMM with this configuration; same contract as [`sgemm`].
    ///
    /// # Safety
    /// See [`sgemm`].
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn sgemm(
        &self,
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        let p = Problem {
            m,
            k,
            n,
            a: Strided {
                ptr: a,
                rs: rsa,
                cs: csa,
            },
            b: Strided {
                ptr: b,
                rs: rsb,
                cs: csb,
            },
            c,
            rsc,
            csc,
            alpha,
            beta,
            c_rows_exclusive: true,
            zero_rows_of_a: std::ptr::null(),
            zero_cols_of_a: std::ptr::null(),
        };
        // SAFETY: forwarded from the caller.
        unsafe { driver::run(&self.plan, p) }
    }

    /// Safe GEMM with this configuration: `c <- alpha * a * b + beta * c`.
    ///
    /// Errors when the inner dimensions differ, when C's shape is not `a.rows() x b.cols()`
    /// (views already guarantee they fit their slices and that C's cells are distinct).
    pub fn gemm(
        &self,
        alpha: f32,
        a: MatRef<'_>,
        b: MatRef<'_>,
        beta: f32,
        c: MatMut<'_>,
    ) -> Result<()> {
        self.gemm_prefetching(alpha, a, b, beta, c, &[])
    }

    /// [`Gemm::gemm`], asking the CPU meanwhile for the cache lines at byte addresses `lines`
    /// (into L2; any address is harmless): spread over the work when the product runs on the
    /// rank-k kernel, else all before it. The trainer passes its next mini-batches' images to
    /// the weight update this way (see [`crate::kernels::rank_k::LinePrefetch`]).
    pub fn gemm_prefetching(
        &self,
        alpha: f32,
        a: MatRef<'_>,
        b: MatRef<'_>,
        beta: f32,
        c: MatMut<'_>,
        lines: &[usize],
    ) -> Result<()> {
        self.gemm_hinted(alpha, a, b, beta, c, &Hints::lines(lines))
    }

    /// [`Gemm::gemm`] with [`Hints`]: cache lines to ask for meanwhile (as
    /// [`Gemm::gemm_prefetching`]) and, optionally, which rows or columns of A are all zero.
    /// The maps are taken on trust, so only the crate's own callers that built them from the
    /// very data A holds may pass one (the trainer, from the pixels of the batch it gathered):
    /// a position marked zero that is not would get a wrong result. A map of another size
    /// than what it describes (A's rows, A's columns) is an error.
    pub(crate) fn gemm_hinted(
        &self,
        alpha: f32,
        a: MatRef<'_>,
        b: MatRef<'_>,
        beta: f32,
        c: MatMut<'_>,
        hints: &Hints<'_>,
    ) -> Result<()> {
        // A map must cover what it describes: A's rows, or A's columns (the depth).
        for (map, len, what) in [
            (hints.zero_rows_of_a, a.rows(), "gemm: map of A's zero rows"),
            (
                hints.zero_cols_of_a,
                a.cols(),
                "gemm: map of A's zero columns",
            ),
        ] {
            if let Some(map) = map.filter(|m| m.rows() != len) {
                return Err(Error::Invalid {
                    what,
                    problem: format!("it covers {} positions, A has {len}", map.rows()),
                });
            }
        }
        if a.cols() != b.rows() {
            return Err(Error::ShapeMismatch {
                op: "gemm",
                what: "A's columns must equal B's rows",
                left_name: "A",
                left: a.shape(),
                right_name: "B",
                right: b.shape(),
            });
        }
        if c.shape() != (a.rows(), b.cols()) {
            return Err(Error::ShapeMismatch {
                op: "gemm",
                what: "C must be A's rows x B's columns",
                left_name: "A*B",
                left: (a.rows(), b.cols()),
                right_name: "C",
                right: c.shape(),
            });
        }
        let (m, k, n) = (a.rows(), a.cols(), b.cols());
        let (ars, acs) = a.strides();
        let (brs, bcs) = b.strides();
        let (crs, ccs) = c.strides();
        let p = Problem {
            m,
            k,
            n,
            a: Strided {
                ptr: a.as_ptr(),
                rs: ars as isize,
                cs: acs as isize,
            },
            b: Strided {
                ptr: b.as_ptr(),
                rs: brs as isize,
                cs: bcs as isize,
            },
            c: c.into_mut_ptr(),
            rsc: crs as isize,
            csc: ccs as isize,
            alpha,
            beta,
            c_rows_exclusive: true,
            zero_rows_of_a: match hints.zero_rows_of_a {
                Some(map) if self.plan.skip_zero_rows => map.as_ptr(),
                _ => std::ptr::null(),
            },
            // A map that marks nothing leaves the product on its usual route (the microkernel
            // on dense batches, with no per-position bit walk).
            zero_cols_of_a: match hints.zero_cols_of_a {
                Some(map) if self.plan.skip_zero_rows && map.marks_any() => map.as_ptr(),
                _ => std::ptr::null(),
            },
        };
        // SAFETY: the views were validated on construction to fit their slices, C is a unique
        // borrow (so it cannot overlap A or B) with distinct cells, and the shapes agree; the
        // map, if any, has A's rows (checked above), words for all of them, and lives until
        // the call returns.
        unsafe { driver::run_prefetching(&self.plan, p, hints.prefetch) };
        Ok(())
    }
}

/// The kernel forced through `VANISHING_KERNEL`, decided once. A malformed or unavailable name
/// is reported on stderr once and ignored, as `VANISHING_ISA` is (the command-line tool refuses
/// to start with one).
fn forced_kernel() -> Option<GemmKernel> {
    static FORCED: std::sync::OnceLock<Option<GemmKernel>> = std::sync::OnceLock::new();
    *FORCED.get_or_init(|| {
        GemmKernel::forced().unwrap_or_else(|e| {
            eprintln!("vanishing: ignoring {}: {e}", crate::kernels::KERNEL_ENV);
            None
        })
    })
}

/// This machine's tuned profile for the selected family, read once. A profile that cannot be
/// used is reported on stderr once and ignored (the defaults run).
fn saved_profile() -> Option<(GemmKernel, Blocking)> {
    static PROFILE: std::sync::OnceLock<Option<(GemmKernel, Blocking)>> =
        std::sync::OnceLock::new();
    *PROFILE.get_or_init(|| {
        let loaded = profile::Profile::load(Isa::selected())
            .and_then(|p| p.map(|p| p.kernel().map(|k| (k, p.blocking))).transpose());
        loaded.unwrap_or_else(|e| {
            eprintln!("vanishing: ignoring the saved GEMM profile: {e}");
            None
        })
    })
}

impl Default for Gemm {
    fn default() -> Self {
        Gemm::new()
    }
}

/// General matrix multiplication, `C <- alpha * A * B + beta * C`, with the signature and
/// meaning of `matrixmultiply::sgemm`.
///
/// A is `m x k` with element `(i, p)` at `a + i*rsa + p*csa`, B is `k x n` at `b + p*rsb + j*csb`,
/// C is `m x n` at `c + i*rsc + j*csc` (strides in elements, any sign). When `beta == 0`, C is
/// never read; when `k == 0` or `alpha == 0`, C is only scaled by beta (A and B are not read).
/// Only the `m x n` cells of C are written.
///
/// # Safety
/// The pointers must be valid for reads (A, B) and reads and writes (C) at every cell the
/// strides reach for the given shapes, C's cells must be distinct, and C must not overlap A or B.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { Gemm::new().sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
}

/// Safe GEMM with the default configuration: `c <- alpha * a * b + beta * c`.
/// See [`Gemm::gemm`] for the errors.
pub fn gemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) -> Result<()> {
    Gemm::new().gemm(alpha, a, b, beta, c)
}
