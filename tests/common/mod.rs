//! Shared helpers for the integration tests: seeded data, strided layouts, f64 references.
#![allow(dead_code)]

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded portable RNG.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Uniform values in [-1, 1).
pub fn random_vec(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// How a matrix is laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    RowMajor,
    ColMajor,
    /// Row-major with a leading dimension larger than the row.
    Padded,
    /// Neither stride is 1.
    General,
    /// Row-major with rows a whole number of 64-byte lines apart and at least one spare line
    /// (the small-batch trainer's layout).
    Lines,
}

pub const LAYOUTS: [Layout; 4] = [
    Layout::RowMajor,
    Layout::ColMajor,
    Layout::Padded,
    Layout::General,
];

impl Layout {
    /// `(rs, cs)` for a `rows x cols` matrix.
    pub fn strides(self, rows: usize, cols: usize) -> (usize, usize) {
        match self {
            Layout::RowMajor => (cols.max(1), 1),
            Layout::ColMajor => (1, rows.max(1)),
            Layout::Padded => (cols + 5, 1),
            Layout::General => (2, 2 * rows + 3),
            Layout::Lines => (cols.div_ceil(16) * 16 + 16, 1),
        }
    }
}

/// Number of guard cells before and after every C buffer.
pub const GUARD: usize = 7;

/// A strided matrix stored in a buffer with guard cells around it.
#[derive(Clone, Debug)]
pub struct Strided {
    pub buf: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl Strided {
    /// A matrix whose non-cell elements (guards and gaps) all hold `fill`.
    pub fn new(rows: usize, cols: usize, layout: Layout, fill: f32) -> Strided {
        let (rs, cs) = layout.strides(rows, cols);
        let span = if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        };
        Strided {
            buf: vec![fill; span + 2 * GUARD],
            rows,
            cols,
            rs,
            cs,
        }
    }

    pub fn idx(&self, i: usize, j: usize) -> usize {
        GUARD + i * self.rs + j * self.cs
    }
    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.buf[self.idx(i, j)]
    }
    pub fn set(&mut self, i: usize, j: usize, v: f32) {
        let k = self.idx(i, j);
        self.buf[k] = v;
    }
    pub fn fill_random(&mut self, rng: &mut ChaCha8Rng) {
        for i in 0..self.rows {
            for j in 0..self.cols {
                self.set(i, j, rng.random_range(-1.0f32..1.0));
            }
        }
    }
    pub fn ptr(&self) -> *const f32 {
        self.buf[GUARD..].as_ptr()
    }
    pub fn mut_ptr(&mut self) -> *mut f32 {
        self.buf[GUARD..].as_mut_ptr()
    }
    /// Indices of the buffer that are not cells of the matrix.
    pub fn non_cells(&self) -> Vec<usize> {
        let mut is_cell = vec![false; self.buf.len()];
        for i in 0..self.rows {
            for j in 0..self.cols {
                is_cell[self.idx(i, j)] = true;
            }
        }
        (0..self.buf.len()).filter(|&k| !is_cell[k]).collect()
    }
}

/// f64 reference: returns `alpha*A*B + beta*C` (C read only when beta != 0) and, per cell, the
/// magnitude bound `|alpha|*sum|a||b| + |beta*c|` used to scale the tolerance.
pub fn reference(
    alpha: f32,
    a: &Strided,
    b: &Strided,
    beta: f32,
    c: &Strided,
) -> (Vec<f64>, Vec<f64>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut out = vec![0.0; m * n];
    let mut mag = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let (mut s, mut sa) = (0.0f64, 0.0f64);
            for p in 0..k {
                let prod = a.get(i, p) as f64 * b.get(p, j) as f64;
                s += prod;
                sa += prod.abs();
            }
            let cterm = if beta == 0.0 {
                0.0
            } else {
                beta as f64 * c.get(i, j) as f64
            };
            out[i * n + j] = alpha as f64 * s + cterm;
            mag[i * n + j] = (alpha as f64).abs() * sa + cterm.abs();
        }
    }
    (out, mag)
}

/// Asserts every cell of `c` is within `(k + 4) * eps * mag` of the reference (plus a tiny
/// absolute floor) and that every non-cell of `c` still holds the bits of `guard`.
pub fn assert_close(what: &str, c: &Strided, k: usize, expect: &[f64], mag: &[f64], guard: f32) {
    let eps = f32::EPSILON as f64;
    for i in 0..c.rows {
        for j in 0..c.cols {
            let got = c.get(i, j) as f64;
            let want = expect[i * c.cols + j];
            let tol = (k as f64 + 4.0) * eps * mag[i * c.cols + j] + 1e-30;
            assert!(
                (got - want).abs() <= tol,
                "{what}: C[{i},{j}] = {got}, expected {want} (tol {tol:e})"
            );
        }
    }
    for idx in c.non_cells() {
        assert_eq!(
            c.buf[idx].to_bits(),
            guard.to_bits(),
            "{what}: wrote outside C at buffer index {idx}"
        );
    }
}

/// Runs `f` inside a fresh rayon pool of `threads` threads.
pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(f)
}

/// Environment variable naming kernel families (comma-separated, e.g. `avx2,avx512`) that a test
/// run must exercise: a test covering every family fails when one of them is missing on this
/// CPU, instead of passing without it. `.ci/run` sets it from the CPU's flags.
pub const REQUIRE_ENV: &str = "VANISHING_REQUIRE_ISA";

/// The kernel families this CPU runs, for a test that covers each of them. Prints the families
/// it skips, and panics when [`REQUIRE_ENV`] names one of them (or names no family at all).
pub fn families() -> Vec<vanishing::isa::Isa> {
    use vanishing::isa::Isa;
    let available = Isa::available();
    for missing in Isa::ALL.iter().filter(|i| !available.contains(i)) {
        println!(
            "skipped: kernel family {} (not on this CPU)",
            missing.name()
        );
    }
    if let Ok(v) = std::env::var(REQUIRE_ENV) {
        for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let isa = Isa::from_name(name)
                .unwrap_or_else(|e| panic!("{REQUIRE_ENV}: '{name}' is not a family: {e}"));
            assert!(
                available.contains(&isa),
                "{REQUIRE_ENV} requires the {name} family, which this CPU cannot run: the test \
                 would pass without exercising it"
            );
        }
    }
    available
}

/// Every GEMM microkernel of the families [`families`] returns (with its checks and messages).
pub fn gemm_kernels() -> Vec<vanishing::kernels::GemmKernel> {
    let families = families();
    let kernels = vanishing::kernels::GemmKernel::available();
    assert!(
        families.iter().all(|f| kernels.iter().any(|k| k.isa == *f)),
        "every family has a kernel"
    );
    kernels
}

/// A `Command` that runs the `vanishing` binary. Cross-built test binaries run under
/// `qemu-aarch64` (the cargo runner), but a process they start is exec'd by the host kernel,
/// which cannot run an aarch64 binary without binfmt support ("exec format error"): then the
/// binary is started through the same emulator.
#[allow(dead_code)]
pub fn vanishing_command() -> std::process::Command {
    use std::process::Command;
    let exe = env!("CARGO_BIN_EXE_vanishing");
    // Probed once per test binary: ENOEXEC from the spawn, or (under qemu's emulated vfork)
    // exit status 127 from the child, means the host cannot run it directly.
    static NATIVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let native = *NATIVE.get_or_init(|| {
        !cfg!(target_arch = "aarch64")
            || match Command::new(exe).arg("--version").output() {
                Err(e) => e.raw_os_error() != Some(8),
                Ok(out) => out.status.code() != Some(127),
            }
    });
    if native {
        Command::new(exe)
    } else {
        let mut cmd = Command::new("qemu-aarch64");
        cmd.args(["-L", "/usr/aarch64-linux-gnu", exe]);
        cmd
    }
}
