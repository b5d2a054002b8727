//! The only modules that use `core::arch` or dereference raw pointers: one file per ISA plus the
//! portable memory movers used by the GEMM driver.
//!
//! # GEMM microkernel contract
//! A microkernel computes one `mr x nr` tile (the kernel's register tile, e.g. 6x16 for scalar
//! and AVX2, 12x32 for AVX-512; packed A panels are `mr` rows tall) of one rank-`k` step of
//! a product whose depth may be split into several such steps (the driver's kc blocks):
//! - `A_strip` row `i` (for `i < rows`) is at `a + i*rsa`, column `p` at `+ p*csa`, `p < k`;
//!   rows `rows..mr` are never read (the kernel repeats the last valid row instead);
//! - `B_strip` row `p` is contiguous floats at `b + p*rsb`: `nr` of them readable for
//!   `p < b_full_rows` (all rows of a zero-padded packed panel or of a full panel in place; for a
//!   ragged panel in place, the rows whose over-read still lands inside B), else only the first
//!   `cols` (the kernel must not read past them); values read past `cols` only reach lanes that
//!   are never stored;
//! - `C` cell `(i, j)` is at `c + i*rsc + j` (unit column stride: [`GemmKernel::run`] routes a
//!   strided C through a contiguous copy); only cells with `i < rows`, `j < cols` are written;
//!   with `c_full_rows` (memory owned by this call's thread up to `nr` floats from each row
//!   start) rows may be *read* `nr` wide, else only live cells are.
//!
//! **Arithmetic: one fixed order, whatever the blocking.** Each cell keeps one running sum `S`,
//! updated in k order by a fused multiply-add per term: `S <- fma(a_ip, b_pj, S)`, starting from
//! `+0`. A tile that is not the first k block starts from the partial `S` the previous block
//! stored in C (`load`); a tile that is not the last stores `S` raw into C (`finish == false`).
//! The last one writes `alpha*S` when `beta == 0` (C is never read then, so NaN there cannot
//! leak), else `fma(beta, c0, alpha*S)` where `c0` is the cell's value before the call (read at
//! `c0 + i*rs0 + j`: C itself in a single-block call, the driver's saved copy otherwise, `nr`
//! wide when `c0_full_rows`). Storing the partial sum as an f32 and loading it back is exact, so
//! the result is the same bits for every kc, every tile shape and every vector width: it is the
//! scalar recurrence [`reference_cell`] spells out, which the tests hold every kernel to. Where a
//! tile boundary falls (which depends on the kernel, the blocking and the thread split) never
//! changes a result bit.
//!
//! Edge tiles run the same register-blocked loop; only the loads and stores of C are masked, so
//! partial tiles cost no separate code path.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx2_gemm;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
#[cfg(target_arch = "x86_64")]
pub mod avx512_gemm;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub mod elementwise;
pub mod math;
pub mod microkernel;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(target_arch = "aarch64")]
pub mod neon_gemm;
#[cfg(feature = "openblas")]
pub mod openblas;
pub mod pack;
pub mod pages;
pub mod rank_k;
pub mod scalar;
pub mod sparse_depth;
pub mod tile_loop;
#[cfg(target_arch = "x86_64")]
pub mod x86_cpuid;

use crate::isa::Isa;

/// Tallest register tile any kernel uses (AVX-512 12x32).
pub const MAX_MR: usize = 12;
/// Widest register tile any kernel uses (AVX-512 8x48: three 16-lane vectors).
pub const MAX_NR: usize = 48;

/// One microkernel call; see the module documentation for the contract.
#[derive(Clone, Copy, Debug)]
pub struct Tile {
    pub k: usize,
    pub a: *const f32,
    pub rsa: isize,
    pub csa: isize,
    pub rows: usize,
    pub b: *const f32,
    pub rsb: isize,
    /// Leading B rows that hold `nr` readable floats (the rest only `cols`).
    pub b_full_rows: usize,
    pub cols: usize,
    pub c: *mut f32,
    pub rsc: isize,
    pub csc: isize,
    /// Whether each C row may be read `nr` floats wide (see the contract).
    pub c_full_rows: bool,
    /// Start from the partial sums stored in C (this is not the first k block).
    pub load: bool,
    /// Apply `alpha` and `beta` and write the final result (this is the last k block); else
    /// store the raw partial sums.
    pub finish: bool,
    pub alpha: f32,
    pub beta: f32,
    /// C's values before the call, for `beta` (C itself, or the driver's saved copy).
    pub c0: *const f32,
    pub rs0: isize,
    pub cs0: isize,
    /// Whether each `c0` row may be read `nr` floats wide.
    pub c0_full_rows: bool,
}

impl Tile {
    /// Whether `c0` is C itself (a single-block call), so reading it must follow C's rules.
    pub fn c0_is_c(&self) -> bool {
        std::ptr::eq(self.c0, self.c) && self.rs0 == self.rsc && self.cs0 == self.csc
    }

    /// Whether the kernel must read C's old values for `beta` at the end.
    pub fn reads_c0(&self) -> bool {
        self.finish && self.beta != 0.0
    }
}

/// A GEMM microkernel: its name (`sgemm.<isa>.<mr>x<nr>`), register tile and entry point.
#[derive(Clone, Copy, Debug)]
pub struct GemmKernel {
    pub name: &'static str,
    pub isa: Isa,
    /// Rows of the register tile (and of a packed A panel).
    pub mr: usize,
    /// Columns of the register tile.
    pub nr: usize,
    tile: unsafe fn(&Tile),
    /// The family's packer for one whole `mr`-row panel of A with contiguous rows, where it
    /// has one; `None`: the portable packer ([`pack::pack_a`]) does all of A.
    pub(crate) pack_a_panel: Option<PackAPanel>,
    /// The family's packer for one `nr`-column panel of B with contiguous columns (B read as
    /// the transpose of a row-major matrix), where it has one; `None`: the portable packer
    /// ([`pack::pack_b`]) does all of B.
    pub(crate) pack_b_panel: Option<PackBPanel>,
}

/// Packs one whole `mr`-row panel of A whose rows are contiguous: `(src, rs, depth, dst)`,
/// `dst[p*mr + i] = src[i*rs + p]`.
///
/// # Safety
/// The CPU runs the kernel's family; `src.offset(i*rs + p)` is readable for `i < mr`,
/// `p < depth`; `dst` holds `mr*depth` floats.
pub type PackAPanel = unsafe fn(*const f32, isize, usize, &mut [f32]);

/// Packs one `nr`-column panel of B whose columns are contiguous: `(src, cs, live, depth,
/// dst)`, `dst[p*nr + j] = src[j*cs + p]` for `j < live`, zero for `live <= j < nr`.
///
/// # Safety
/// The CPU runs the kernel's family; `src.offset(j*cs + p)` is readable for `j < live <= nr`,
/// `p < depth`; `dst` holds `nr*depth` floats.
pub type PackBPanel = unsafe fn(*const f32, isize, usize, usize, &mut [f32]);

/// Every microkernel this build has, one line each: family, tile, entry point. Every one is
/// always built and tested (tests/gemm.rs runs each against `reference_cell`), whichever the
/// default or a profile picks. The SIMD families share one microkernel (`microkernel.rs`),
/// generic over tile height and vectors per row, so adding a candidate is one line here. The first kernel of a family is its default.
const KERNELS: &[GemmKernel] = &[
    GemmKernel {
        name: "sgemm.scalar.6x16",
        isa: Isa::Scalar,
        mr: 6,
        nr: scalar::NR,
        tile: scalar::gemm_tile,
        pack_a_panel: None,
        pack_b_panel: None,
    },
    #[cfg(target_arch = "x86_64")]
    GemmKernel {
        name: "sgemm.avx2.6x16",
        isa: Isa::Avx2,
        mr: 6,
        nr: 16,
        tile: avx2_gemm::gemm_tile::<6, 2>,
        pack_a_panel: None,
        pack_b_panel: Some(avx2_gemm::pack_b_panel_16),
    },
    #[cfg(target_arch = "x86_64")]
    GemmKernel {
        name: "sgemm.avx2.4x24",
        isa: Isa::Avx2,
        mr: 4,
        nr: 24,
        tile: avx2_gemm::gemm_tile::<4, 3>,
        pack_a_panel: None,
        pack_b_panel: Some(avx2_gemm::pack_b_panel_24),
    },
    // 12x32: 24 zmm accumulators (of 32), two B loads and twelve broadcasts per 24 FMAs, the
    // shape of BLIS's and OpenBLAS's Skylake-X sgemm kernels; measured 10-15 % faster than 6x32
    // on squares and 21 % on the batch-10 forward GEMM on a Sapphire/Emerald Rapids Xeon.
    #[cfg(target_arch = "x86_64")]
    GemmKernel {
        name: "sgemm.avx512.12x32",
        isa: Isa::Avx512,
        mr: 12,
        nr: 32,
        tile: avx512_gemm::gemm_tile::<12, 2>,
        pack_a_panel: Some(avx512_gemm::pack_a_panel_12),
        pack_b_panel: Some(avx512_gemm::pack_b_panel_32),
    },
    #[cfg(target_arch = "x86_64")]
    GemmKernel {
        name: "sgemm.avx512.6x32",
        isa: Isa::Avx512,
        mr: 6,
        nr: 32,
        tile: avx512_gemm::gemm_tile::<6, 2>,
        pack_a_panel: None,
        pack_b_panel: Some(avx512_gemm::pack_b_panel_32),
    },
    // 8x48: 24 accumulators with three B vectors and eight broadcasts per 24 FMAs (fewer
    // broadcasts per FMA than 12x32, more B traffic).
    #[cfg(target_arch = "x86_64")]
    GemmKernel {
        name: "sgemm.avx512.8x48",
        isa: Isa::Avx512,
        mr: 8,
        nr: 48,
        tile: avx512_gemm::gemm_tile::<8, 3>,
        pack_a_panel: None,
        pack_b_panel: Some(avx512_gemm::pack_b_panel_48),
    },
    // 8x12: 24 q-register accumulators of 32, two A vectors multiplied by element and three
    // B vectors per k step (the shape of OpenBLAS's and BLIS's Cortex-A/Neoverse sgemm).
    #[cfg(target_arch = "aarch64")]
    GemmKernel {
        name: "sgemm.neon.8x12",
        isa: Isa::Neon,
        mr: 8,
        nr: 12,
        tile: neon_gemm::gemm_tile::<8, 3>,
        pack_a_panel: None,
        pack_b_panel: None,
    },
    #[cfg(target_arch = "aarch64")]
    GemmKernel {
        name: "sgemm.neon.12x8",
        isa: Isa::Neon,
        mr: 12,
        nr: 8,
        tile: neon_gemm::gemm_tile::<12, 2>,
        pack_a_panel: None,
        pack_b_panel: None,
    },
];

/// A rank-k update kernel ([`rank_k`]): `W <- beta*W + alpha * X^T D` for depths up to
/// [`rank_k::MAX_RANK_K`], the SGD weight update of a small mini-batch.
#[derive(Clone, Copy, Debug)]
pub struct RankKKernel {
    /// `rank_k.<isa>`.
    pub name: &'static str,
    pub isa: Isa,
    /// # Safety
    /// The CPU runs `isa`, and the argument satisfies [`rank_k::body`]'s contract.
    pub update: unsafe fn(&rank_k::RankK),
}

/// Every rank-k update family this build has, one line each.
const RANK_K_KERNELS: &[RankKKernel] = &[
    RankKKernel {
        name: "rank_k.scalar",
        isa: Isa::Scalar,
        update: rank_k::scalar,
    },
    #[cfg(target_arch = "x86_64")]
    RankKKernel {
        name: "rank_k.avx2",
        isa: Isa::Avx2,
        update: avx2_gemm::rank_k_update,
    },
    #[cfg(target_arch = "x86_64")]
    RankKKernel {
        name: "rank_k.avx512",
        isa: Isa::Avx512,
        update: avx512_gemm::rank_k_update,
    },
    #[cfg(target_arch = "aarch64")]
    RankKKernel {
        name: "rank_k.neon",
        isa: Isa::Neon,
        update: neon_gemm::rank_k_update,
    },
];

impl RankKKernel {
    /// The rank-k kernel of a family; an unavailable family gives the scalar one.
    pub fn for_isa(isa: Isa) -> RankKKernel {
        line_for(RANK_K_KERNELS, isa, |k| k.isa)
    }

    /// Runs the update.
    ///
    /// # Safety
    /// `t` must satisfy [`rank_k::body`]'s contract (valid operands, `1 <= k <= MAX_RANK_K`,
    /// `alpha != 0`, W not overlapping X or D).
    pub unsafe fn run(&self, t: &rank_k::RankK) {
        debug_assert!(t.k >= 1 && t.k <= rank_k::MAX_RANK_K && t.alpha != 0.0);
        // SAFETY: forwarded contract; the family was checked against the CPU in `for_isa`.
        unsafe { (self.update)(t) }
    }
}

/// A sparse-depth forward kernel ([`sparse_depth`]): `C <- alpha * A B` over the depth
/// positions where `A` is not all zero, the trainer's first-layer forward on a batch.
#[derive(Clone, Copy, Debug)]
pub struct SparseDepthKernel {
    /// `sparse_depth.<isa>`.
    pub name: &'static str,
    pub isa: Isa,
    /// # Safety
    /// The CPU runs `isa`, and the argument satisfies [`sparse_depth::body`]'s contract.
    pub product: unsafe fn(&sparse_depth::SparseDepth),
}

/// Every sparse-depth family this build has, one line each.
const SPARSE_DEPTH_KERNELS: &[SparseDepthKernel] = &[
    SparseDepthKernel {
        name: "sparse_depth.scalar",
        isa: Isa::Scalar,
        product: sparse_depth::scalar,
    },
    #[cfg(target_arch = "x86_64")]
    SparseDepthKernel {
        name: "sparse_depth.avx2",
        isa: Isa::Avx2,
        product: avx2_gemm::sparse_depth,
    },
    #[cfg(target_arch = "x86_64")]
    SparseDepthKernel {
        name: "sparse_depth.avx512",
        isa: Isa::Avx512,
        product: avx512_gemm::sparse_depth,
    },
    #[cfg(target_arch = "aarch64")]
    SparseDepthKernel {
        name: "sparse_depth.neon",
        isa: Isa::Neon,
        product: neon_gemm::sparse_depth,
    },
];

impl SparseDepthKernel {
    /// The sparse-depth kernel of a family; an unavailable family gives the scalar one.
    pub fn for_isa(isa: Isa) -> SparseDepthKernel {
        line_for(SPARSE_DEPTH_KERNELS, isa, |k| k.isa)
    }

    /// Runs the product.
    ///
    /// # Safety
    /// `t` must satisfy [`sparse_depth::body`]'s contract.
    pub unsafe fn run(&self, t: &sparse_depth::SparseDepth) {
        // SAFETY: forwarded contract; the family was checked against the CPU in `for_isa`.
        unsafe { (self.product)(t) }
    }
}

/// One call of the fused bias + activation pass: `rows` rows of `cols` floats, `stride` floats
/// apart, in `z` (pre-activations without the bias; the activations replace them) and in
/// `deriv` (the derivatives), with one `bias` row of `cols` floats for all of them. A layer's
/// whole batch in one call: per-row calls cost the trainer's forward a function call and its
/// checks per 30 floats.
#[derive(Clone, Copy, Debug)]
pub struct BiasActRows {
    pub act: math::Activation,
    /// Row `r`, column `j` at `z + r*stride + j`; read and written for `j < cols`.
    pub z: *mut f32,
    /// `cols` floats.
    pub bias: *const f32,
    /// Row `r`, column `j` at `deriv + r*stride + j`; written for `j < cols`; no cell of it
    /// is a cell of `z` or `bias`.
    pub deriv: *mut f32,
    pub rows: usize,
    pub cols: usize,
    pub stride: usize,
}

/// Which error a [`DeltaRows`] pass makes in each row.
#[derive(Clone, Copy, Debug)]
pub enum ErrorOf {
    /// The output layer's `a - e_y` (`e_y`: 1 at the row's label, 0 elsewhere), times
    /// `deriv` when `times_deriv` (the quadratic cost): row `r` of `a` at `a + r*stride`,
    /// its label `labels[r] < cols`.
    Output {
        a: *const f32,
        labels: *const u8,
        times_deriv: bool,
    },
    /// A hidden layer's `delta * deriv`, in place: `delta` holds the backward product.
    Hidden,
}

/// One layer's error rows made in one pass with their column sums (the bias gradient: each
/// column's sum over the rows in row order from `+0`) and, when `bias` is not null, the bias
/// step `b <- b - bias_step * sum`: the output error or the `act'` product, the bias sums
/// and the bias update of the trainer's step while each error vector is in a register.
/// Only the first `cols` floats of each row are read or written.
#[derive(Clone, Copy, Debug)]
pub struct DeltaRows {
    pub error: ErrorOf,
    /// Row `r`, column `j` at `delta + r*stride + j`; written (and read, for
    /// [`ErrorOf::Hidden`]).
    pub delta: *mut f32,
    /// Row `r`, column `j` at `deriv + r*stride + j`; read unless the error is the output's
    /// without `times_deriv`.
    pub deriv: *const f32,
    pub rows: usize,
    pub cols: usize,
    pub stride: usize,
    /// `cols` floats, written.
    pub sums: *mut f32,
    /// Null, or `cols` floats, read and written.
    pub bias: *mut f32,
    pub bias_step: f32,
}

/// One mini-batch gathered from byte rows (the trainer's input from byte pixels):
/// `dst[r*width + i] = rows[r][i] * scale` for every row `r` and position `i < width`, and, when
/// `zero_map` is given, the positions zero in every row (bit `i % 64` of word `i / 64`, bits at
/// or past `width` clear; every position when there are no rows), as
/// [`scalar::zero_byte_map`] marks them. One pass can do both: the bytes are read once.
#[derive(Debug)]
pub struct GatherRows<'a> {
    /// The rows, `width` bytes each.
    pub rows: &'a [&'a [u8]],
    pub width: usize,
    pub scale: f32,
    /// `rows.len() * width` floats.
    pub dst: &'a mut [f32],
    /// `width.div_ceil(64)` words, or none.
    pub zero_map: Option<&'a mut [u64]>,
    /// Whether the caller expects positions blank in every row (its previous batch had
    /// some): a family with a one-pass form takes it then; otherwise rows are converted one
    /// by one and mapped after (the map pass stops early on dense rows). The results are the
    /// same either way; only the speed differs.
    pub expect_blank: bool,
}

impl GatherRows<'_> {
    /// Panics unless every length agrees with the description above: the kernels' only
    /// requirement besides the CPU.
    pub fn check(&self) {
        let width = self.width;
        assert!(
            self.rows.iter().all(|r| r.len() == width),
            "gather_rows: every row must hold {width} bytes"
        );
        assert_eq!(
            self.dst.len(),
            self.rows.len() * width,
            "gather_rows: {} rows of {width} floats",
            self.rows.len()
        );
        if let Some(map) = &self.zero_map {
            assert_eq!(
                map.len(),
                width.div_ceil(64),
                "gather_rows: a map of {width} positions"
            );
        }
    }
}

/// The activation kernels of one family: the element-wise map and the fused bias + activation
/// row, chosen once (like [`GemmKernel`]) so callers never match on the ISA themselves.
#[derive(Clone, Copy, Debug)]
pub struct ActivationKernel {
    /// The sigmoid kernel's name, e.g. `sigmoid.avx2.rr2-p5-div`.
    pub name: &'static str,
    pub isa: Isa,
    /// `y[i] = f(x[i])` for `n` elements; `x == y` (in place) is allowed.
    ///
    /// # Safety
    /// `x` readable and `y` writable for `n` floats; the CPU runs `isa`.
    pub map: unsafe fn(math::ElementFn, *const f32, *mut f32, usize),
    /// The fused pass over rows: `z <- act(z + bias)`, `deriv <- act'(z + bias)`, each row.
    ///
    /// # Safety
    /// The argument describes valid memory as [`BiasActRows`] says; the CPU runs `isa`.
    pub bias_act_rows: unsafe fn(&BiasActRows),
    /// `dst[i] = src[i] * scale` for `n` bytes: the trainer's gather from byte pixels.
    ///
    /// # Safety
    /// `src` readable for `n` bytes, `dst` writable for `n` floats; the CPU runs `isa`.
    pub scale_bytes: unsafe fn(*const u8, *mut f32, usize, f32),
    /// The momentum update `v <- fma(mu, v, g)`, `w <- fma(decay, w, v)` over `n` floats.
    ///
    /// # Safety
    /// `w`, `v` writable and `g` readable for `n` floats, distinct; the CPU runs `isa`.
    pub momentum: unsafe fn(*mut f32, *mut f32, *const f32, usize, f32, f32),
    /// The positions zero in every one of the byte rows `(rows, width, out)`: bit `i % 64` of
    /// `out[i / 64]` for position `i` ([`scalar::zero_byte_map`]; the lengths are checked).
    ///
    /// # Safety
    /// The CPU runs `isa`.
    pub zero_byte_map: unsafe fn(&[&[u8]], usize, &mut [u64]),
    /// A mini-batch gathered from byte rows, with its map of blank positions when asked for
    /// ([`GatherRows`]; the lengths are checked).
    ///
    /// # Safety
    /// The CPU runs `isa`.
    pub gather_rows: unsafe fn(&mut GatherRows),
    /// A layer's error rows with their bias sums and bias step ([`DeltaRows`]).
    ///
    /// # Safety
    /// The argument describes valid memory as [`DeltaRows`] says, no two of its buffers
    /// overlapping; the CPU runs `isa`.
    pub delta_rows: unsafe fn(&DeltaRows),
}

/// Every activation family this build has, one line each.
const ACTIVATIONS: &[ActivationKernel] = &[
    ActivationKernel {
        name: "sigmoid.scalar.rr2-p5-div",
        isa: Isa::Scalar,
        map: scalar::map,
        bias_act_rows: scalar::bias_act_rows,
        scale_bytes: scalar::scale_bytes_portable,
        momentum: scalar::momentum_portable,
        zero_byte_map: scalar::zero_byte_map,
        gather_rows: scalar::gather_rows,
        delta_rows: scalar::delta_rows,
    },
    #[cfg(target_arch = "x86_64")]
    ActivationKernel {
        name: "sigmoid.avx2.rr2-p5-div",
        isa: Isa::Avx2,
        map: avx2::map,
        bias_act_rows: avx2::bias_act_rows,
        scale_bytes: avx2::scale_bytes,
        momentum: avx2::momentum,
        zero_byte_map: avx2::zero_byte_map,
        gather_rows: avx2::gather_rows,
        delta_rows: avx2::delta_rows,
    },
    #[cfg(target_arch = "x86_64")]
    ActivationKernel {
        name: "sigmoid.avx512.rr2-p5-div",
        isa: Isa::Avx512,
        map: avx512::map,
        bias_act_rows: avx512::bias_act_rows,
        scale_bytes: avx512::scale_bytes,
        momentum: avx512::momentum,
        // Byte compares: AVX2's suffice (every CPU of this family has it), see the kernel.
        zero_byte_map: avx2::zero_byte_map,
        gather_rows: avx512::gather_rows,
        delta_rows: avx512::delta_rows,
    },
    #[cfg(target_arch = "aarch64")]
    ActivationKernel {
        name: "sigmoid.neon.rr2-p5-div",
        isa: Isa::Neon,
        map: neon::map,
        bias_act_rows: neon::bias_act_rows,
        scale_bytes: neon::scale_bytes,
        momentum: neon::momentum,
        zero_byte_map: neon::zero_byte_map,
        gather_rows: neon::gather_rows,
        delta_rows: neon::delta_rows,
    },
];

impl ActivationKernel {
    /// The activation kernels of a family; an unavailable family gives the scalar ones.
    pub fn for_isa(isa: Isa) -> ActivationKernel {
        line_for(ACTIVATIONS, isa, |k| k.isa)
    }
}

/// The first line of a kernel table for family `isa` (an unavailable family gives the scalar
/// line; every table has one line per family at least).
fn line_for<T: Copy>(table: &[T], isa: Isa, family: impl Fn(&T) -> Isa) -> T {
    let isa = if isa.is_available() { isa } else { Isa::Scalar };
    *table
        .iter()
        .find(|k| family(k) == isa)
        .expect("every kernel table has a line for every family of this build")
}

/// Environment variable that forces a GEMM kernel by name (`vanishing info` lists them).
pub const KERNEL_ENV: &str = "VANISHING_KERNEL";

impl GemmKernel {
    /// The default microkernel of a family. `isa` must come from [`Isa::checked`] or
    /// [`Isa::available`] (the SIMD variants exist only once the CPU was checked); an
    /// unavailable family gives the scalar kernel.
    pub fn for_isa(isa: Isa) -> GemmKernel {
        line_for(KERNELS, isa, |k| k.isa)
    }

    /// Every kernel of the families this CPU can run (the candidates to test and to tune).
    pub fn available() -> Vec<GemmKernel> {
        KERNELS
            .iter()
            .filter(|k| k.isa.is_available())
            .copied()
            .collect()
    }

    /// The kernel called `name`, if this build has it and the CPU can run it.
    pub fn by_name(name: &str) -> crate::error::Result<GemmKernel> {
        let names = || {
            GemmKernel::available()
                .iter()
                .map(|k| k.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let k = KERNELS
            .iter()
            .find(|k| k.name.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| crate::error::Error::Invalid {
                what: KERNEL_ENV,
                problem: format!(
                    "'{name}' is not a kernel of this build (this CPU runs: {})",
                    names()
                ),
            })?;
        if !k.isa.is_available() {
            return Err(crate::error::Error::Invalid {
                what: KERNEL_ENV,
                problem: format!(
                    "{} needs {}, which this CPU lacks (it runs: {})",
                    k.name,
                    k.isa.name(),
                    names()
                ),
            });
        }
        Ok(*k)
    }

    /// The kernel forced through [`KERNEL_ENV`], if it is set (an error if it names no
    /// kernel this CPU runs).
    pub fn forced() -> crate::error::Result<Option<GemmKernel>> {
        match std::env::var(KERNEL_ENV) {
            Ok(v) if !v.trim().is_empty() => GemmKernel::by_name(&v).map(Some),
            _ => Ok(None),
        }
    }

    /// Runs the microkernel on one tile. A C with a non-unit column stride goes through a
    /// contiguous copy of its live cells ([`GemmKernel::run_strided`]), so the kernels only
    /// handle contiguous rows.
    ///
    /// # Safety
    /// Every pointer/stride combination in `t` must address memory valid as the contract above
    /// describes (A and B readable, C readable and writable, `c0` readable), with
    /// `1 <= rows <= self.mr`, `1 <= cols <= self.nr`, and C not overlapping A, B or a saved
    /// `c0`.
    #[inline(always)]
    pub unsafe fn run(&self, t: &Tile) {
        debug_assert!(t.rows >= 1 && t.rows <= self.mr && t.cols >= 1 && t.cols <= self.nr);
        if t.csc == 1 {
            // SAFETY: the caller upholds the tile contract; `self.tile` was chosen for a family
            // the CPU supports (see `for_isa`).
            unsafe { (self.tile)(t) };
        } else {
            // SAFETY: forwarded contract.
            unsafe { self.run_strided(t) };
        }
    }

    /// [`GemmKernel::run`] for a C with a non-unit column stride: the live cells the kernel
    /// must read (the partial sums, or the old values when c0 is C) are gathered into a
    /// contiguous tile, the kernel runs on it, and the live cells are scattered back. Cells are
    /// only read where the contract says C is read.
    ///
    /// # Safety
    /// As [`GemmKernel::run`].
    #[inline(never)]
    unsafe fn run_strided(&self, t: &Tile) {
        let mut buf = [[0.0f32; MAX_NR]; MAX_MR];
        let c0_is_c = t.c0_is_c();
        let cell =
            |i: usize, j: usize| t.c.wrapping_offset(i as isize * t.rsc + j as isize * t.csc);
        if t.load || (c0_is_c && t.reads_c0()) {
            for (i, row) in buf.iter_mut().enumerate().take(t.rows) {
                for (j, v) in row.iter_mut().enumerate().take(t.cols) {
                    // SAFETY: (i, j) is a live cell of the C tile (contract).
                    *v = unsafe { *cell(i, j) };
                }
            }
        }
        let base = buf.as_mut_ptr().cast::<f32>();
        let local = Tile {
            c: base,
            rsc: MAX_NR as isize,
            csc: 1,
            c_full_rows: true,
            c0: if c0_is_c { base } else { t.c0 },
            rs0: if c0_is_c { MAX_NR as isize } else { t.rs0 },
            cs0: if c0_is_c { 1 } else { t.cs0 },
            c0_full_rows: c0_is_c || t.c0_full_rows,
            ..*t
        };
        // SAFETY: `buf` holds MAX_MR >= mr rows of MAX_NR >= nr floats, all owned here; the rest of the
        // tile is the caller's (contract).
        unsafe { (self.tile)(&local) };
        for (i, row) in buf.iter().enumerate().take(t.rows) {
            for (j, &v) in row.iter().enumerate().take(t.cols) {
                // SAFETY: (i, j) is a live cell of the C tile (contract).
                unsafe { *cell(i, j) = v };
            }
        }
    }
}

/// The result every kernel produces for one cell of `C <- alpha*A*B + beta*C`, written as the
/// plain scalar recurrence of the contract above: `S` summed in k order with fused
/// multiply-adds from `+0`, then `alpha*S` (beta == 0, C not read) or `fma(beta, c, alpha*S)`.
/// With no terms or `alpha == 0`, A and B are not used and the cell is `beta*c` (0 when
/// `beta == 0`), as in BLAS. This is the definition the tests hold every kernel, tile shape,
/// blocking and thread count to, bit for bit.
pub fn reference_cell(
    alpha: f32,
    terms: impl IntoIterator<Item = (f32, f32)>,
    beta: f32,
    c: f32,
) -> f32 {
    let mut terms = terms.into_iter().peekable();
    if alpha == 0.0 || terms.peek().is_none() {
        return if beta == 0.0 { 0.0 } else { beta * c };
    }
    let s = terms.fold(0.0f32, |s, (a, b)| a.mul_add(b, s));
    if beta == 0.0 {
        alpha * s
    } else {
        beta.mul_add(c, alpha * s)
    }
}

/// Asks the CPU to start loading `data` into its outer (L2) cache (a hint: no effect on any
/// result). Used to fetch upcoming mini-batches' randomly placed images while the current one
/// computes.
///
/// L2, not L1: a batch-10 step streams its weights (about 100 KB for [784,30,10]) through the
/// 32-48 KiB L1, which evicts lines prefetched into L1 before the gather reads them. Measured on
/// an Intel Xeon (family 6 model 167), [784,30,10]: a step with the next batch prefetched into
/// L1 took 11.1-11.4 us, with batches prefetched into L2 two steps ahead 9.06-9.15 us, the same
/// as gathering images already in cache (9.08-9.12 us).
#[inline]
pub fn prefetch_bytes(data: &[u8]) {
    for q in (0..data.len()).step_by(64) {
        prefetch_l2(data.as_ptr() as usize + q);
    }
}

/// Asks the CPU to load the cache line holding byte address `addr` into L2 (a hint: it never
/// faults, whatever the address, and changes no result).
#[inline(always)]
pub fn prefetch_l2(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and has no architectural effect, whatever the address;
    // SSE is part of the x86-64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T1 }>(addr as *const i8)
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: `prfm` never faults and has no architectural effect, whatever the address.
    unsafe {
        core::arch::asm!("prfm pldl2keep, [{0}]", in(reg) addr, options(nostack, readonly, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = addr;
}

/// Asks the CPU to bring the cache lines of a block of C into L1 (a hint: no effect on any
/// result): `rows` rows of `cols` floats from `c`, `rs` floats apart. The GEMM driver calls it
/// for the tile after the one it is about to run, so that tile's C rows (partial sums from the
/// previous k block, or lines about to be written) arrive while this one computes. Without it
/// each tile started with a dozen cache misses on rows a row stride apart, which the FMAs that
/// depend on them could not hide.
///
/// Takes a raw pointer and computes the addresses with wrapping arithmetic, because a prefetch
/// never dereferences: an address outside any allocation is harmless.
#[inline]
pub fn prefetch_c_block(c: *const f32, rows: usize, rs: isize, cols: usize) {
    for i in 0..rows {
        let row = c.wrapping_offset(i as isize * rs);
        // Every line the row touches, from the line of its first float to its last float.
        let end = row.wrapping_add(cols) as usize;
        let mut line = row as usize & !63;
        while line < end {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a prefetch never faults and has no architectural effect; SSE is part of
            // the x86-64 baseline.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                    line as *const i8,
                )
            };
            #[cfg(target_arch = "aarch64")]
            // SAFETY: `prfm` never faults and has no architectural effect.
            unsafe {
                core::arch::asm!("prfm pldl1keep, [{0}]", in(reg) line, options(nostack, readonly, preserves_flags))
            };
            line += 64;
        }
    }
}
