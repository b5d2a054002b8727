//! The system OpenBLAS as a peer (`--features openblas`; Debian: `apt-get install
//! libopenblas-dev`, linked by build.rs): its CBLAS `sgemm` through cblas-sys, and the controls
//! that make the comparison fair (one thread) and say which kernels it ran. Foreign calls are
//! `unsafe`, so they live here with the other unsafe code; `vanishing bench` and the Criterion
//! GEMM bench both time OpenBLAS through this module.

use std::ffi::{c_char, c_int, CStr};

extern "C" {
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_config() -> *const c_char;
    fn openblas_get_corename() -> *const c_char;
}

/// One row-major product `C <- alpha * op(A) * B + beta * C` with `op(A)` stored `m x k`
/// (`a_transposed == false`, leading dimension k) or as its `k x m` transpose (leading
/// dimension m); B is `k x n`, C is `m x n`, both dense row-major.
pub struct RowMajorSgemm<'a> {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub alpha: f32,
    pub a: &'a [f32],
    pub a_transposed: bool,
    pub b: &'a [f32],
    pub beta: f32,
    pub c: &'a mut [f32],
}

/// Runs `p` through OpenBLAS. Panics (a caller bug, not bad input) when a slice is shorter
/// than its extent or a dimension does not fit CBLAS's `int`.
pub fn sgemm(p: RowMajorSgemm<'_>) {
    assert!(p.a.len() >= p.m * p.k && p.b.len() >= p.k * p.n && p.c.len() >= p.m * p.n);
    let dim = |x: usize| i32::try_from(x).expect("a dimension above i32::MAX");
    let (ta, lda) = if p.a_transposed {
        (cblas_sys::CBLAS_TRANSPOSE::CblasTrans, p.m)
    } else {
        (cblas_sys::CBLAS_TRANSPOSE::CblasNoTrans, p.k)
    };
    // SAFETY: the asserts above: A, B and C hold the extents the dimensions and leading
    // dimensions describe (row-major, dense), and C is borrowed exclusively.
    unsafe {
        cblas_sys::cblas_sgemm(
            cblas_sys::CBLAS_LAYOUT::CblasRowMajor,
            ta,
            cblas_sys::CBLAS_TRANSPOSE::CblasNoTrans,
            dim(p.m),
            dim(p.n),
            dim(p.k),
            p.alpha,
            p.a.as_ptr(),
            dim(lda.max(1)),
            p.b.as_ptr(),
            dim(p.n.max(1)),
            p.beta,
            p.c.as_mut_ptr(),
            dim(p.n.max(1)),
        )
    }
}

/// One thread, so OpenBLAS is compared with our single-thread figures.
pub fn single_thread() {
    // SAFETY: a plain setter of the library's thread count.
    unsafe { openblas_set_num_threads(1) }
}

/// The kernel family OpenBLAS picked on this CPU (`openblas_get_corename`).
pub fn core_name() -> String {
    // SAFETY: returns a pointer to a static NUL-terminated string of the library.
    unsafe { CStr::from_ptr(openblas_get_corename()) }
        .to_string_lossy()
        .to_string()
}

/// Version, build options and the kernel family OpenBLAS picked on this CPU, with a warning
/// when a DYNAMIC_ARCH build did not recognise a vector CPU and fell back to SSE kernels
/// (Debian's 0.3.21 does this on Zen 5 and Emerald Rapids: 19 % of peak instead of 90 %).
pub fn describe() -> String {
    // SAFETY: returns a pointer to a static NUL-terminated string of the library.
    let config = unsafe { CStr::from_ptr(openblas_get_config()) }
        .to_string_lossy()
        .trim()
        .to_string();
    let core = core_name();
    let old_core = [
        "prescott",
        "core2",
        "nehalem",
        "katmai",
        "coppermine",
        "northwood",
    ]
    .contains(&core.to_ascii_lowercase().as_str());
    let vector_cpu = crate::isa::Isa::best() != crate::isa::Isa::Scalar;
    let mut s = format!("{config} (kernels for {core}");
    if let Ok(f) = std::env::var("OPENBLAS_CORETYPE") {
        s += &format!(", forced with OPENBLAS_CORETYPE={f}");
    }
    s += ")";
    if old_core && vector_cpu {
        s += " -- WARNING: this OpenBLAS did not recognise the CPU and fell back to SSE \
              kernels; rerun with OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2)";
    }
    s
}
