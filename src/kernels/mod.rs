//! The only modules that use `core::arch` or dereference raw pointers: one file per ISA plus the
//! portable memory movers used by the GEMM driver.
//!
//! # GEMM microkernel contract
//! A microkernel computes one `MR x nr` tile (`MR = 6` for every family, so packed A panels are
//! shared; `nr` is the kernel's: 16 for scalar and AVX2, 32 for AVX-512): `C[0..rows, 0..cols] <- alpha * A_strip * B_strip + beta * C`, where
//! - `A_strip` row `i` (for `i < rows`) is at `a + i*rsa`, column `p` at `+ p*csa`, `p < k`;
//!   rows `rows..MR` are never read (the kernel repeats the last valid row instead);
//! - `B_strip` row `p` is contiguous floats at `b + p*rsb`: `nr` of them readable for
//!   `p < b_full_rows` (all rows of a zero-padded packed panel or of a full panel in place; for a
//!   ragged panel in place, the rows whose over-read still lands inside B), else only the first
//!   `cols` (the kernel must not read past them); values read past `cols` only reach lanes that
//!   are never stored;
//! - `C` cell `(i, j)` is at `c + i*rsc + j*csc`; only cells with `i < rows`, `j < cols` are
//!   written; with `c_full_rows` (unit column stride, and memory owned by this call's thread up
//!   to `nr` floats from each row start) rows may be *read* `nr` wide, else only live cells are;
//!   when `beta == 0` C is never read, so NaN or garbage there cannot leak;
//! - the result of each cell is `alpha*acc + beta*c` with the family's own rounding (fused on
//!   AVX2, unfused on scalar), the same for full and edge tiles, so where a tile boundary falls
//!   (which depends on how work is split between threads) never changes a result bit.
//!
//! Edge tiles run the same register-blocked loop; only the final write is masked (or goes through
//! a temporary tile when C is strided), so partial tiles cost no separate code path.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
#[cfg(target_arch = "x86_64")]
pub mod avx512_gemm;
pub mod math;
pub mod pack;
pub mod scalar;

use crate::isa::Isa;

/// Rows of the GEMM register tile.
pub const MR: usize = 6;
/// Widest register tile any kernel uses (AVX-512: two 16-lane vectors).
pub const MAX_NR: usize = 32;

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
    /// Whether each C row may be read `nr` floats wide (see the contract).
    pub c_full_rows: bool,
    pub cols: usize,
    pub c: *mut f32,
    pub rsc: isize,
    pub csc: isize,
    pub alpha: f32,
    pub beta: f32,
}

/// A GEMM microkernel: its name (`sgemm.<isa>.<MR>x<nr>`), tile width and entry point.
#[derive(Clone, Copy)]
pub struct GemmKernel {
    pub name: &'static str,
    pub isa: Isa,
    /// Columns of the register tile.
    pub nr: usize,
    tile: unsafe fn(&Tile),
}

impl GemmKernel {
    /// The microkernel of a family. `isa` must come from [`Isa::checked`] or [`Isa::available`]
    /// (the SIMD variants exist only once the CPU was checked).
    pub fn for_isa(isa: Isa) -> GemmKernel {
        match isa {
            Isa::Scalar => GemmKernel {
                name: "sgemm.scalar.6x16",
                isa,
                nr: scalar::NR,
                tile: scalar::gemm_tile,
            },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 if isa.is_available() => GemmKernel {
                name: "sgemm.avx2.6x16",
                isa,
                nr: avx2::NR,
                tile: avx2::gemm_tile,
            },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if isa.is_available() => GemmKernel {
                name: "sgemm.avx512.6x32",
                isa,
                nr: avx512_gemm::NR,
                tile: avx512_gemm::gemm_tile,
            },
            #[allow(unreachable_patterns)]
            _ => GemmKernel::for_isa(Isa::Scalar),
        }
    }

    /// Runs the microkernel on one tile.
    ///
    /// # Safety
    /// Every pointer/stride combination in `t` must address memory valid as the contract above
    /// describes (A and B readable, C readable and writable), with `1 <= rows <= MR`,
    /// `1 <= cols <= self.nr`, and C not overlapping A or B.
    #[inline]
    pub unsafe fn run(&self, t: &Tile) {
        debug_assert!(t.rows >= 1 && t.rows <= MR && t.cols >= 1 && t.cols <= self.nr);
        // SAFETY: the caller upholds the tile contract; `self.tile` was chosen for a family the
        // CPU supports (see `for_isa`).
        unsafe { (self.tile)(t) }
    }
}

/// A raw pointer that may be sent to another thread. The GEMM driver hands disjoint blocks of C
/// to different threads; this wrapper carries the base pointer there.
#[derive(Clone, Copy, Debug)]
pub struct SendPtr<T>(pub T);

impl<T: Copy> SendPtr<T> {
    /// The wrapped value. (A method, so closures capture the wrapper, not the raw field.)
    pub fn get(&self) -> T {
        self.0
    }
}
// SAFETY: the driver only shares pointers whose targets are either read-only for the duration of
// the call (A, B) or split into disjoint blocks, one per thread (C).
unsafe impl<T> Send for SendPtr<T> {}
// SAFETY: as above; no thread writes memory another thread reads or writes.
unsafe impl<T> Sync for SendPtr<T> {}

/// Asks the CPU to start loading `data` into cache (a hint: no effect on any result). Used to
/// fetch the next mini-batch's randomly placed images while the current one computes.
pub fn prefetch_bytes(data: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in data.chunks(64) {
        // SAFETY: a prefetch never faults and has no architectural effect; SSE is part of the
        // x86-64 baseline, and the pointer lies inside `data`.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}
