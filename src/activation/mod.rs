//! Vectorised activations: sigmoid, tanh and ReLU, their derivatives, and the fused
//! bias + activation pass of a layer's forward step.
//!
//! # Method (every ISA implements exactly this; constants in `kernels::math`; the SIMD families
//! share one generic implementation, `kernels::elementwise`, the scalar family is the reference)
//! 1. **Work on the non-positive side.** sigma(x) = 1 - sigma(-x), so compute
//!    `s = sigma(-|x|) = e / (1 + e)` with `e = exp(-|x|)` in (0, 1]: nothing overflows, and
//!    the small side has no cancellation. Then sigma(x) = `s` for x <= 0, `1 - s` for x > 0,
//!    and sigma'(x) = `s * (1 - s)`, which stays accurate where the textbook
//!    sigma(x)(1 - sigma(x)) rounds to exactly 0 (x above ~17 in f32) and would fake a
//!    vanishing gradient.
//! 2. **Range reduction.** `exp(z) = 2^n * exp(t)` with `n = round(z * LOG2E)` and
//!    `t = z - n*LN2_HI - n*LN2_LO` (Cody-Waite: `n*LN2_HI` is exact), so |t| <= ln(2)/2 (the
//!    `rr2` in the kernel names). The rounding adds `ROUND_MAGIC = 1.5*2^23 + 127`, which also
//!    leaves the biased exponent `n + 127` in the low bits of the sum.
//! 3. **Polynomial.** `exp(t) ~ 1 + t*(C1 + t*(C2 + t*(C3 + t*(C4 + t*C5))))`, a degree-5 minimax
//!    fit (`p5`), about 1 ULP on the reduced range.
//! 4. **Reconstruction.** `2^n` is the sum's bits shifted left by 23 (straight into the exponent
//!    field); `e = s + (s*t)*P(t)` with `s = 2^n`. For `z < EXP_MIN_NORMAL_ARG = ln(2^-126)` the
//!    true value is subnormal and the result is flushed to 0. (tanh' asks for `4*exp(z)`, built
//!    as `2^(n+2)` so it stays normal wherever the result is.)
//! 5. **Division.** `e / (1 + e)` with a true IEEE division (the `div` in the kernel names): it
//!    runs on the divider, beside the FMA pipes the rest of the kernel keeps busy.
//!
//! tanh uses the same exp: `tanh|x| = (1 - e)/(1 + e)`, `e = exp(-2|x|)`, for |x| >= 0.625, and
//! an odd polynomial (Cephes `tanhf`) below, where `1 - e` would cancel; tanh'(x) = `4e/(1+e)^2`.
//! ReLU is `max(0, x)` (NaN passes through); ReLU'(x) = 1 for x > 0, else 0. Every function maps NaN to NaN.
//!
//! **Accuracy the tests enforce** (every ISA): sigmoid, sigma', tanh and tanh' within
//! [`ULP_BOUND`] = 4 ULP of an f64 reference wherever the true value is a normal f32 (measured
//! over all 2^32 inputs: sigmoid 3 ULP on AVX2, 4 on scalar); where it is
//! below the smallest normal, the output is in [0, `f32::MIN_POSITIVE`]. sigma(+inf) = 1,
//! sigma(-inf) = 0, NaN in gives NaN out, outputs lie in [0, 1] and are monotone. Every family
//! performs the same operations in the same order, fused multiply-adds included (the scalar path
//! uses `f32::mul_add`), so scalar, AVX2 and AVX-512 give the same bits for every input.

use crate::error::{Error, Result};
use crate::isa::Isa;
pub use crate::kernels::math::{Activation, ElementFn};
use crate::kernels::{ActivationKernel, BiasActRows};

/// The largest error, in units in the last place against an f64 reference, the tests allow.
pub const ULP_BOUND: u32 = 4;

/// The activation kernels of one ISA family (chosen once, from `kernels`' table).
#[derive(Clone, Copy, Debug)]
pub struct ActivationKernels {
    kernel: ActivationKernel,
}

impl PartialEq for ActivationKernels {
    fn eq(&self, other: &Self) -> bool {
        self.kernel.isa == other.kernel.isa
    }
}
impl Eq for ActivationKernels {}

/// Which error [`ActivationKernels::error_rows`] makes in each row.
#[derive(Clone, Copy, Debug)]
pub enum LayerError<'a> {
    /// The output layer's `a - e_y` (1 at the row's label), times the derivative when
    /// `times_deriv` (the quadratic cost). `a` is laid out as the error rows; one label per
    /// row, each below the row's `cols`.
    Output {
        a: &'a [f32],
        labels: &'a [u8],
        times_deriv: bool,
    },
    /// A hidden layer's error: the rows already hold the backward product, which is
    /// multiplied by the derivative in place.
    Hidden,
}

/// A layer's error rows for [`ActivationKernels::error_rows`]: the first `cols` floats of
/// `rows` rows `stride` floats apart in `delta` and `deriv` (and in the output's `a`).
#[derive(Debug)]
pub struct ErrorRows<'a> {
    pub error: LayerError<'a>,
    pub delta: &'a mut [f32],
    pub deriv: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub stride: usize,
    /// Receives the `cols` column sums (each over the rows in order, from `+0`).
    pub sums: &'a mut [f32],
    /// The bias and the step: `b <- b - step * sum` for each of the first `cols`; none to
    /// leave the bias alone (the momentum step, which uses the sums itself).
    pub bias: Option<(&'a mut [f32], f32)>,
}

impl ActivationKernels {
    /// The kernels of the family selected for this process ([`Isa::selected`]).
    pub fn new() -> Self {
        // Chosen once: the entry points (`sigmoid(x, y)`, ...) call this on every call, and a
        // feature check plus a table search per call cost 4 % on a 4096-element sigmoid.
        static SELECTED: std::sync::OnceLock<ActivationKernels> = std::sync::OnceLock::new();
        *SELECTED.get_or_init(|| Self::for_isa(Isa::selected()))
    }

    /// The kernels of a given family; an unavailable family falls back to scalar.
    pub fn for_isa(isa: Isa) -> Self {
        ActivationKernels {
            kernel: ActivationKernel::for_isa(isa),
        }
    }

    /// The family in use.
    pub fn isa(&self) -> Isa {
        self.kernel.isa
    }

    /// The sigmoid kernel's name, e.g. `sigmoid.avx2.rr2-p5-div`.
    pub fn sigmoid_name(&self) -> &'static str {
        self.kernel.name
    }

    /// `y[i] = f(x[i])`. Panics if the lengths differ, as `copy_from_slice` does.
    pub fn apply(&self, f: ElementFn, x: &[f32], y: &mut [f32]) {
        assert_eq!(
            x.len(),
            y.len(),
            "activation: input has length {} but output has length {}",
            x.len(),
            y.len()
        );
        // SAFETY: both slices hold x.len() floats and, being & and &mut, do not overlap.
        unsafe { self.raw(f, x.as_ptr(), y.as_mut_ptr(), x.len()) }
    }

    /// `dst[i] = src[i] * scale` (bytes to floats, e.g. pixels scaled by 1/256: exact). Panics
    /// if the lengths differ.
    pub fn scale_bytes(&self, src: &[u8], dst: &mut [f32], scale: f32) {
        assert_eq!(
            src.len(),
            dst.len(),
            "scale_bytes: {} bytes into {} floats",
            src.len(),
            dst.len()
        );
        // SAFETY: the family was checked against the CPU; both slices hold src.len() elements.
        unsafe { (self.kernel.scale_bytes)(src.as_ptr(), dst.as_mut_ptr(), src.len(), scale) }
    }

    /// The positions zero in every one of the byte `rows` (each `width` bytes): bit `i % 64`
    /// of `out[i / 64]` set when byte `i` is 0 in all of them, bits past `width` clear; with no
    /// rows, every position (see [`crate::kernels::scalar::zero_byte_map`]). The trainer's
    /// map of the pixels a batch leaves blank. Panics if a row is not `width` bytes long or
    /// `out` does not hold `width.div_ceil(64)` words.
    pub fn zero_byte_map(&self, rows: &[&[u8]], width: usize, out: &mut [u64]) {
        // SAFETY: the family was checked against the CPU; the kernel checks the lengths.
        unsafe { (self.kernel.zero_byte_map)(rows, width, out) }
    }

    /// A layer's error rows, their column sums and the bias step in one kernel call
    /// ([`ErrorRows`], [`crate::kernels::DeltaRows`]): the trainer's small-batch step makes the
    /// output error and each hidden layer's `act'` product this way, with the bias gradient
    /// summed while each error vector is in a register. The same bits as the separate passes
    /// (error, then sums from `+0` in row order, then `b - step * sum`). Errors on a buffer
    /// shorter than its rows, rows that overlap, a label at or past `cols`, or fewer labels
    /// than rows.
    pub fn error_rows(&self, t: ErrorRows) -> Result<()> {
        let ErrorRows {
            error,
            delta,
            deriv,
            rows,
            cols,
            stride,
            sums,
            bias,
        } = t;
        if cols > stride && rows > 1 {
            return Err(Error::LengthMismatch {
                what: "error_rows: rows overlap (cols is longer than the stride)",
                expected: stride,
                got: cols,
            });
        }
        let need = if rows == 0 {
            0
        } else {
            (rows - 1).saturating_mul(stride).saturating_add(cols)
        };
        let (a, labels, times_deriv) = match error {
            LayerError::Output {
                a,
                labels,
                times_deriv,
            } => (a, labels, times_deriv),
            LayerError::Hidden => (&[][..], &[][..], true),
        };
        let output = matches!(error, LayerError::Output { .. });
        // (what, length, length needed); a buffer the pass does not read needs nothing.
        let lengths = [
            (
                "error_rows: delta is shorter than its rows",
                delta.len(),
                need,
            ),
            (
                "error_rows: sums hold fewer than cols floats",
                sums.len(),
                cols,
            ),
            (
                "error_rows: deriv is shorter than its rows",
                deriv.len(),
                if times_deriv { need } else { 0 },
            ),
            (
                "error_rows: a is shorter than its rows",
                a.len(),
                if output { need } else { 0 },
            ),
            (
                "error_rows: fewer labels than rows",
                labels.len(),
                if output { rows } else { 0 },
            ),
            (
                "error_rows: the bias holds fewer than cols floats",
                bias.as_ref().map_or(0, |(b, _)| b.len()),
                if bias.is_some() { cols } else { 0 },
            ),
        ];
        for (what, got, expected) in lengths {
            if got < expected {
                return Err(Error::LengthMismatch {
                    what,
                    expected,
                    got,
                });
            }
        }
        if let Some(&y) = labels[..if output { rows } else { 0 }]
            .iter()
            .find(|&&y| usize::from(y) >= cols)
        {
            return Err(Error::Invalid {
                what: "error_rows label",
                problem: format!("label {y} is not one of the {cols} outputs"),
            });
        }
        let (bias, bias_step) = match bias {
            Some((b, step)) => (b.as_mut_ptr(), step),
            None => (std::ptr::null_mut(), 0.0),
        };
        let t = crate::kernels::DeltaRows {
            error: if output {
                crate::kernels::ErrorOf::Output {
                    a: a.as_ptr(),
                    labels: labels.as_ptr(),
                    times_deriv,
                }
            } else {
                crate::kernels::ErrorOf::Hidden
            },
            delta: delta.as_mut_ptr(),
            deriv: deriv.as_ptr(),
            rows,
            cols,
            stride,
            sums: sums.as_mut_ptr(),
            bias,
            bias_step,
        };
        // SAFETY: the family was checked against the CPU; every buffer holds what its rows
        // need and every label is below cols (checked above); `delta`, `sums` and the bias are
        // distinct &mut slices, and `a` and `deriv` shared ones, so no two overlap.
        unsafe { (self.kernel.delta_rows)(&t) };
        Ok(())
    }

    /// Gathers byte rows into floats (`byte * scale`, row after row) and, when asked, maps
    /// the positions zero in every row, as [`ActivationKernels::zero_byte_map`] does: the
    /// trainer's batch gather, in one pass over the bytes where the family has one (see
    /// [`crate::kernels::GatherRows`]). Panics if a row is not `width` bytes long, `dst` does
    /// not hold `rows.len() * width` floats or the map `width.div_ceil(64)` words.
    pub fn gather_rows(&self, mut g: crate::kernels::GatherRows) {
        // SAFETY: the family was checked against the CPU; the kernel checks the lengths.
        unsafe { (self.kernel.gather_rows)(&mut g) }
    }

    /// The momentum update of one parameter buffer: `v[i] <- fma(mu, v[i], g[i])`, then
    /// `w[i] <- fma(decay, w[i], v[i])` (see [`crate::kernels::scalar::momentum`]). Panics if
    /// the lengths differ.
    pub fn momentum(&self, w: &mut [f32], v: &mut [f32], g: &[f32], mu: f32, decay: f32) {
        assert!(
            w.len() == v.len() && v.len() == g.len(),
            "momentum: {} weights, {} velocities, {} steps",
            w.len(),
            v.len(),
            g.len()
        );
        // SAFETY: the family was checked against the CPU; the three slices hold w.len()
        // floats and, being two &mut and one &, do not overlap.
        unsafe {
            (self.kernel.momentum)(
                w.as_mut_ptr(),
                v.as_mut_ptr(),
                g.as_ptr(),
                w.len(),
                mu,
                decay,
            )
        }
    }

    /// `x[i] = f(x[i])`.
    pub fn apply_inplace(&self, f: ElementFn, x: &mut [f32]) {
        let p = x.as_mut_ptr();
        // SAFETY: in-place use (same pointer for input and output) is allowed by the kernels.
        unsafe { self.raw(f, p, p, x.len()) }
    }

    /// # Safety
    /// `x` readable and `y` writable for `n` floats (they may be equal).
    unsafe fn raw(&self, f: ElementFn, x: *const f32, y: *mut f32, n: usize) {
        // SAFETY: the kernel's family was checked against the CPU in `for_isa`; pointer
        // validity is the caller's.
        unsafe { (self.kernel.map)(f, x, y, n) }
    }

    /// Fused forward epilogue of a layer over a row-major `rows x bias.len()` matrix `z` (the
    /// GEMM output `W a` for a batch): with the pre-activation `z + bias` (bias added to every
    /// row), writes the activation in place of `z` and the derivative (what backprop needs)
    /// into `deriv`, in one pass over memory.
    pub fn bias_activation(
        &self,
        act: Activation,
        z: &mut [f32],
        bias: &[f32],
        deriv: &mut [f32],
    ) -> Result<()> {
        let n = bias.len();
        if n == 0 || !z.len().is_multiple_of(n) {
            return Err(Error::LengthMismatch {
                what: "bias_activation: z must be whole rows of the bias length",
                expected: n * (z.len() / n.max(1)),
                got: z.len(),
            });
        }
        if deriv.len() != z.len() {
            return Err(Error::LengthMismatch {
                what: "bias_activation: deriv must match z",
                expected: z.len(),
                got: deriv.len(),
            });
        }
        let t = BiasActRows {
            act,
            z: z.as_mut_ptr(),
            bias: bias.as_ptr(),
            deriv: deriv.as_mut_ptr(),
            rows: z.len() / n,
            cols: n,
            stride: n,
        };
        // SAFETY: the kernel's family was checked against the CPU in `for_isa`; z and deriv
        // hold `rows` whole rows of n floats (checked above), the bias n; deriv is a distinct
        // &mut slice.
        unsafe { (self.kernel.bias_act_rows)(&t) };
        Ok(())
    }

    /// [`ActivationKernels::bias_activation`] over the first `cols` floats of `rows` rows
    /// `stride` floats apart in `z` and in `deriv` (a padded layout, such as the trainer's
    /// small-batch step keeps: the cells past `cols` in each row are neither read nor
    /// written), in one kernel call. `bias` holds `cols` floats.
    pub fn bias_activation_strided(
        &self,
        act: Activation,
        rows: usize,
        stride: usize,
        z: &mut [f32],
        bias: &[f32],
        deriv: &mut [f32],
    ) -> Result<()> {
        let cols = bias.len();
        let need = if rows == 0 {
            0
        } else {
            (rows - 1).saturating_mul(stride).saturating_add(cols)
        };
        if cols > stride && rows > 1 {
            return Err(Error::LengthMismatch {
                what: "bias_activation_strided: rows overlap (the bias is longer than the stride)",
                expected: stride,
                got: cols,
            });
        }
        for (what, len) in [
            (
                "bias_activation_strided: z is shorter than its rows",
                z.len(),
            ),
            (
                "bias_activation_strided: deriv is shorter than its rows",
                deriv.len(),
            ),
        ] {
            if len < need {
                return Err(Error::LengthMismatch {
                    what,
                    expected: need,
                    got: len,
                });
            }
        }
        let t = BiasActRows {
            act,
            z: z.as_mut_ptr(),
            bias: bias.as_ptr(),
            deriv: deriv.as_mut_ptr(),
            rows,
            cols,
            stride,
        };
        // SAFETY: the family was checked against the CPU; every row r < rows lies inside z and
        // deriv (`(rows - 1)*stride + cols` floats, checked above); rows do not overlap
        // (cols <= stride); deriv is a distinct &mut slice.
        unsafe { (self.kernel.bias_act_rows)(&t) };
        Ok(())
    }
}

impl Default for ActivationKernels {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! entry_points {
    ($($(#[$doc:meta])* $name:ident, $inplace:ident => $f:expr;)*) => {$(
        $(#[$doc])*
        /// Panics if the lengths differ.
        pub fn $name(x: &[f32], y: &mut [f32]) {
            ActivationKernels::new().apply($f, x, y)
        }
        $(#[$doc])*
        /// In place.
        pub fn $inplace(x: &mut [f32]) {
            ActivationKernels::new().apply_inplace($f, x)
        }
    )*};
}

entry_points! {
    /// `y = sigma(x) = 1 / (1 + e^-x)`, within 4 ULP (see the module docs).
    sigmoid, sigmoid_inplace => ElementFn::Sigmoid;
    /// `y = sigma'(z)`, computed stably as `s(1 - s)`, `s = sigma(-|z|)`.
    sigmoid_prime, sigmoid_prime_inplace => ElementFn::SigmoidPrime;
    /// `y = tanh(x)`, within 4 ULP.
    tanh, tanh_inplace => ElementFn::Tanh;
    /// `y = tanh'(z) = 1 - tanh(z)^2`, computed as `4e/(1+e)^2`, `e = exp(-2|z|)`.
    tanh_prime, tanh_prime_inplace => ElementFn::TanhPrime;
    /// `y = max(0, x)`.
    relu, relu_inplace => ElementFn::Relu;
    /// `y = 1` where `z > 0`, else 0 (NaN stays NaN).
    relu_prime, relu_prime_inplace => ElementFn::ReluPrime;
    /// `y = x / (1 + |x|)` (softsign), within 1.5 ULP; +-1 at +-infinity.
    softsign, softsign_inplace => ElementFn::Softsign;
    /// `y = 1 / (1 + |z|)^2`, computed as `t*t`, `t = 1 / (1 + |z|)`.
    softsign_prime, softsign_prime_inplace => ElementFn::SoftsignPrime;
}
