//! The SIMD activation kernels, written once for every vector width: the method of
//! [`crate::activation`] (exp by range reduction and a degree-5 polynomial, sigmoid on the
//! non-positive side, tanh with its small-argument polynomial, ReLU), the map loop and the
//! fused bias + activation row.
//!
//! A family supplies only its vector operations ([`Simd`]: about twenty one-line intrinsics)
//! and `#[target_feature]` wrappers, in its own file (`avx2.rs`, `avx512.rs`, `neon.rs`).
//! Everything here is `#[inline(always)]`, so it is compiled inside the family's wrapper with
//! that family's instructions; nothing here runs on its own. Every family performs the same
//! operations in the same order (fused multiply-adds included) as the scalar family, so all
//! give the same bits for every input.

use super::math::*;

/// Below this many elements the map kernels do not peel up to an aligned input: the peel
/// costs up to one extra vector, and avoiding split loads gains 3-4 % of the pass, which only
/// pays for itself over a few dozen vectors. Short rows (the trainer's 10 and 30) skip it.
pub const ALIGN_PEEL_MIN: usize = 512;

/// The vector operations the activation kernels need, implemented once per SIMD family.
///
/// # Safety (every method)
/// The CPU must have the family's ISA: these are only called from inside the family's
/// `#[target_feature]` wrappers, which are only reached through an [`crate::isa::Isa`] that
/// was checked against the CPU. Pointer arguments must be readable (loads) or writable
/// (stores) for the lanes the method touches.
pub(crate) trait Simd {
    /// One vector of `LANES` floats.
    type V: Copy;
    /// A per-lane condition (a compare's result).
    type M: Copy;
    /// Floats per vector.
    const LANES: usize;
    /// Vectors per iteration of the map loop: independent dependency chains in flight.
    const UNROLL: usize;
    /// Long inputs start with the elements up to a vector-width boundary of the input, so no
    /// load of the main loop straddles two cache lines (worth it for 32- and 64-byte vectors).
    const PEEL: bool;
    /// Lane-limited loads and stores cost the same as full ones (AVX-512's k-masks): short rows
    /// then run one loop of lane-limited vectors, the smallest code for the fused row kernel,
    /// which runs once per row of a batch.
    const CHEAP_MASKS: bool;

    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// Lanes `< n` (`n <= LANES`) from `p`, zero elsewhere; other lanes are not read.
    unsafe fn load_first(p: *const f32, n: usize) -> Self::V;
    /// Lanes `< n` (`n <= LANES`) to `p`; other lanes are not written.
    unsafe fn store_first(p: *mut f32, v: Self::V, n: usize);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// A true IEEE division (see the module docs of [`crate::activation`]).
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    /// `a*b + c`, rounded once.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `c - a*b`, rounded once.
    unsafe fn fnmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a < b` (false where either is NaN).
    unsafe fn lt(a: Self::V, b: Self::V) -> Self::M;
    /// `a > b` (false where either is NaN).
    unsafe fn gt(a: Self::V, b: Self::V) -> Self::M;
    unsafe fn is_nan(a: Self::V) -> Self::M;
    /// `m ? t : f`, lane by lane.
    unsafe fn select(m: Self::M, t: Self::V, f: Self::V) -> Self::V;
    /// `+0` where `m`, `v` elsewhere.
    unsafe fn zero_where(m: Self::M, v: Self::V) -> Self::V;
    /// `1.0` where `m`, `+0` elsewhere.
    unsafe fn one_where(m: Self::M) -> Self::V;
    /// `neg` where `x` is negative or -0, `pos` where it is positive or +0 (either for NaN):
    /// callers pass values that agree at zero and are both NaN for NaN, so a family may decide
    /// by the sign bit or by a compare, whichever is cheaper.
    unsafe fn by_sign(x: Self::V, neg: Self::V, pos: Self::V) -> Self::V;
    /// Bitwise or.
    unsafe fn or(a: Self::V, b: Self::V) -> Self::V;
    /// The sign bit of each lane (the rest zero).
    unsafe fn sign(x: Self::V) -> Self::V;
    unsafe fn abs(x: Self::V) -> Self::V;
    /// Each lane's bits shifted left by 23 (the low bits of a float land in the exponent).
    unsafe fn shl23(x: Self::V) -> Self::V;
    /// `max(0, x)`, NaN passing through.
    unsafe fn relu(x: Self::V) -> Self::V;

    /// [`map`] for the function `ElementFn::ALL[F]`, compiled with this family's target
    /// features: a thin wrapper in the family's file (what [`map_fn`] dispatches to).
    ///
    /// # Safety
    /// As [`map`].
    unsafe fn map_body<const F: u8>(x: *const f32, y: *mut f32, n: usize);
}

/// `y[i] = f(x[i])` through [`Simd::map_body`]: one monomorphised loop per function, so no
/// dispatch runs per vector.
///
/// # Safety
/// As [`map`], on a CPU with the family's ISA.
#[inline(always)]
pub(crate) unsafe fn map_fn<S: Simd>(f: ElementFn, x: *const f32, y: *mut f32, n: usize) {
    // SAFETY: forwarded contract.
    unsafe {
        match f {
            ElementFn::Sigmoid => S::map_body::<{ ElementFn::Sigmoid as u8 }>(x, y, n),
            ElementFn::SigmoidPrime => S::map_body::<{ ElementFn::SigmoidPrime as u8 }>(x, y, n),
            ElementFn::Tanh => S::map_body::<{ ElementFn::Tanh as u8 }>(x, y, n),
            ElementFn::TanhPrime => S::map_body::<{ ElementFn::TanhPrime as u8 }>(x, y, n),
            ElementFn::Relu => S::map_body::<{ ElementFn::Relu as u8 }>(x, y, n),
            ElementFn::ReluPrime => S::map_body::<{ ElementFn::ReluPrime as u8 }>(x, y, n),
            ElementFn::Softsign => S::map_body::<{ ElementFn::Softsign as u8 }>(x, y, n),
            ElementFn::SoftsignPrime => S::map_body::<{ ElementFn::SoftsignPrime as u8 }>(x, y, n),
        }
    }
}

/// `2^K * exp(z)`, the scale folded into the exponent field (normal wherever the true value
/// is); 0 where it would be subnormal; NaN stays NaN.
#[inline(always)]
unsafe fn exp_scaled<S: Simd, const K: i32>(z: S::V) -> S::V {
    // SAFETY (whole body): register operations of the family (see `Simd`).
    unsafe {
        let magic = S::splat(ROUND_MAGIC + K as f32);
        // n = round(z*log2 e); the low bits of `biased` hold n + 127 + K, so shifted left by 23
        // they are 2^(n+K). Lanes where n < -126 - K get a wrong scale and are zeroed below.
        let biased = S::fmadd(z, S::splat(LOG2E), magic);
        let scale = S::shl23(biased);
        let n = S::sub(biased, magic);
        let t = S::fnmadd(n, S::splat(LN2_HI), z);
        let t = S::fnmadd(n, S::splat(LN2_LO), t);
        let mut p = S::fmadd(S::splat(EXP_C5), t, S::splat(EXP_C4));
        p = S::fmadd(p, t, S::splat(EXP_C3));
        p = S::fmadd(p, t, S::splat(EXP_C2));
        p = S::fmadd(p, t, S::splat(EXP_C1));
        // 2^(n+K) * exp(t) = s + (s*t)*p
        let e = S::fmadd(S::mul(scale, t), p, scale);
        let tiny = S::lt(
            z,
            S::splat(EXP_MIN_NORMAL_ARG - K as f32 * std::f32::consts::LN_2),
        );
        S::zero_where(tiny, e)
    }
}

/// sigma(-|x|) = e/(1+e), e = exp(-|x|).
#[inline(always)]
unsafe fn sigmoid_small_side<S: Simd>(x: S::V) -> S::V {
    // SAFETY (whole body): register operations of the family.
    unsafe {
        // -|x| by setting the sign bit: one instruction.
        let e = exp_scaled::<S, 0>(S::or(x, S::splat(-0.0)));
        // A true division: it runs on the divider, not on the FMA pipes the rest keeps busy.
        S::div(e, S::add(S::splat(1.0), e))
    }
}

/// sigma(x) and sigma'(x) from one exp.
#[inline(always)]
unsafe fn sigmoid_and_prime<S: Simd>(x: S::V) -> (S::V, S::V) {
    // SAFETY (whole body): register operations of the family.
    unsafe {
        let s = sigmoid_small_side::<S>(x);
        let one_minus = S::sub(S::splat(1.0), s);
        // At +-0 both sides are 0.5; for NaN both are NaN.
        (S::by_sign(x, s, one_minus), S::mul(s, one_minus))
    }
}

/// `f(x)`, lane by lane.
#[inline(always)]
unsafe fn element<S: Simd>(f: ElementFn, x: S::V) -> S::V {
    // SAFETY (whole body): register operations of the family.
    unsafe {
        let one = S::splat(1.0);
        match f {
            ElementFn::Sigmoid => sigmoid_and_prime::<S>(x).0,
            ElementFn::SigmoidPrime => sigmoid_and_prime::<S>(x).1,
            ElementFn::Tanh => {
                // Computed on |x|, the sign restored last (so tanh(-0) = -0).
                let a = S::abs(x);
                let e = exp_scaled::<S, 0>(S::mul(S::splat(-2.0), a));
                let big = S::div(S::sub(one, e), S::add(one, e));
                let s = S::mul(a, a);
                let mut p = S::fmadd(S::splat(TANH_T0), s, S::splat(TANH_T1));
                p = S::fmadd(p, s, S::splat(TANH_T2));
                p = S::fmadd(p, s, S::splat(TANH_T3));
                p = S::fmadd(p, s, S::splat(TANH_T4));
                let small = S::fmadd(S::mul(a, s), p, a);
                let is_small = S::lt(a, S::splat(TANH_SMALL));
                S::or(S::select(is_small, small, big), S::sign(x))
            }
            ElementFn::TanhPrime => {
                // r = 4e = 2^2 exp(-2|x|) built in the exponent (normal wherever the result is).
                let r = exp_scaled::<S, 2>(S::mul(S::splat(-2.0), S::abs(x)));
                let d = S::fmadd(S::splat(0.25), r, one);
                S::div(r, S::mul(d, d))
            }
            ElementFn::Relu => S::relu(x),
            ElementFn::ReluPrime => {
                let d = S::one_where(S::gt(x, S::splat(0.0)));
                S::select(S::is_nan(x), x, d)
            }
            ElementFn::Softsign => {
                // The scalar family's corrected quotient (see there), operation for operation;
                // 1 where |x| is infinite (only infinity compares above MAX).
                let a = S::abs(x);
                let d = S::add(one, a);
                let above = S::gt(a, one);
                let big = S::select(above, a, one);
                let small = S::select(above, one, a);
                let e = S::sub(small, S::sub(d, big));
                let q0 = S::div(a, d);
                let r = S::fnmadd(q0, d, a);
                let num = S::fnmadd(q0, e, r);
                let q = S::add(q0, S::div(num, d));
                let q = S::select(S::gt(a, S::splat(f32::MAX)), one, q);
                S::or(S::sign(x), q)
            }
            ElementFn::SoftsignPrime => {
                // As the scalar family: t = 1 / (1 + a) corrected, then t*t.
                let a = S::abs(x);
                let d = S::add(one, a);
                let above = S::gt(a, one);
                let e = S::sub(
                    S::select(above, one, a),
                    S::sub(d, S::select(above, a, one)),
                );
                let t0 = S::div(one, d);
                let r = S::fnmadd(t0, d, one);
                let t = S::add(t0, S::div(S::fnmadd(t0, e, r), d));
                S::zero_where(S::gt(a, S::splat(f32::MAX)), S::mul(t, t))
            }
        }
    }
}

/// The activation and its derivative at `z` (sigmoid shares one exp between the two).
#[inline(always)]
unsafe fn act_and_prime<S: Simd>(act: Activation, z: S::V) -> (S::V, S::V) {
    // SAFETY: register operations of the family.
    unsafe {
        match act {
            Activation::Sigmoid => sigmoid_and_prime::<S>(z),
            _ => (
                element::<S>(act.value_fn(), z),
                element::<S>(act.derivative_fn(), z),
            ),
        }
    }
}

/// `y[i] = f(x[i])` for `i < n`: [`Simd::UNROLL`] vectors per iteration, then single vectors,
/// then the last partial vector through lane-limited loads and stores (no access past `n`).
/// With [`Simd::PEEL`], inputs of [`ALIGN_PEEL_MIN`] or more first take the elements up to a
/// vector-width boundary of `x` (elements are independent, so this grouping changes no bits).
///
/// # Safety
/// Inside the family's wrapper (see [`Simd`]); `x` readable and `y` writable for `n` floats;
/// `x == y` (in place) is allowed, any other overlap is not.
#[inline(always)]
pub(crate) unsafe fn map<S: Simd>(f: ElementFn, x: *const f32, y: *mut f32, n: usize) {
    let lanes = S::LANES;
    // SAFETY: every access is at an index < n (loop bounds), or lane-limited below n.
    unsafe {
        let mut i = 0;
        if S::PEEL && n >= ALIGN_PEEL_MIN {
            i = (x as usize).wrapping_neg() % (4 * lanes) / 4;
            if i > 0 {
                S::store_first(y, element::<S>(f, S::load_first(x, i)), i);
            }
        }
        while i + S::UNROLL * lanes <= n {
            // Every load before any store: in place, the stores must not feed later loads.
            let mut v = [S::splat(0.0); 4];
            for (j, v) in v.iter_mut().enumerate().take(S::UNROLL) {
                *v = element::<S>(f, S::load(x.add(i + j * lanes)));
            }
            for (j, v) in v.iter().enumerate().take(S::UNROLL) {
                S::store(y.add(i + j * lanes), *v);
            }
            i += S::UNROLL * lanes;
        }
        while i + lanes <= n {
            S::store(y.add(i), element::<S>(f, S::load(x.add(i))));
            i += lanes;
        }
        if i < n {
            let rest = n - i;
            S::store_first(
                y.add(i),
                element::<S>(f, S::load_first(x.add(i), rest)),
                rest,
            );
        }
    }
}

/// Fused layer epilogue over rows ([`super::BiasActRows`]): pre-activation `z + bias`; writes
/// the activation in place of `z` and the derivative to `deriv`, row after row.
///
/// # Safety
/// Inside the family's wrapper (see [`Simd`]); `t` describes valid memory as
/// [`super::BiasActRows`] says.
#[inline(always)]
pub(crate) unsafe fn bias_act_rows<S: Simd>(t: &super::BiasActRows) {
    // One loop per activation, each inlined with its activation a constant, so no match runs
    // per vector (with the loop shared, LLVM kept the match inside it once softsign made four
    // arms: +10 % instructions on the AVX2 bias-act workload).
    // SAFETY: forwarded contract.
    unsafe {
        match t.act {
            Activation::Sigmoid => bias_act_each_row::<S>(Activation::Sigmoid, t),
            Activation::Tanh => bias_act_each_row::<S>(Activation::Tanh, t),
            Activation::Relu => bias_act_each_row::<S>(Activation::Relu, t),
            Activation::Softsign => bias_act_each_row::<S>(Activation::Softsign, t),
        }
    }
}

/// [`bias_act_rows`] for one activation: [`bias_act_loop`] on every row.
///
/// # Safety
/// As [`bias_act_rows`], with `act == t.act`.
#[inline(always)]
unsafe fn bias_act_each_row<S: Simd>(act: Activation, t: &super::BiasActRows) {
    if t.stride == t.cols && t.cols < S::LANES && t.rows * t.cols >= S::LANES {
        // SAFETY: forwarded contract, with the rows contiguous and shorter than a vector.
        return unsafe { bias_act_flat::<S>(act, t) };
    }
    for r in 0..t.rows {
        // SAFETY: row r < rows of z and deriv holds cols floats (contract).
        unsafe {
            bias_act_loop::<S>(
                act,
                t.z.add(r * t.stride),
                t.bias,
                t.deriv.add(r * t.stride),
                t.cols,
            )
        }
    }
}

/// [`bias_act_each_row`] on contiguous rows shorter than a vector (a 10-class output layer,
/// `stride == cols < LANES`): the rows as one flat array of whole vectors, each vector's bias
/// lanes loaded from the bias repeated once per call (at the vector's phase: its start modulo
/// `cols`), and one lane-limited vector at the very end. Row by row, each row was one lane-limited load and
/// store, mostly crossing a cache line: measured on Zen 5, 1000x10 took 19.2 us (80 cycles a
/// vector); the same element-wise operations, so the same bits.
///
/// # Safety
/// As [`bias_act_each_row`], with `stride == cols < LANES <= 16` and `rows * cols >= LANES`.
#[inline(always)]
unsafe fn bias_act_flat<S: Simd>(act: Activation, t: &super::BiasActRows) {
    let (lanes, cols) = (S::LANES, t.cols);
    debug_assert!(t.stride == cols && cols < lanes && lanes <= 16);
    // The bias repeated: `repeated[phase..phase + lanes]` lies under a vector that starts at
    // a flat position whose column is `phase`.
    let mut repeated = [0.0f32; 32];
    let mut j = 0;
    for r in repeated.iter_mut().take(cols + lanes) {
        // SAFETY: `j < cols`, inside the bias (contract).
        *r = unsafe { *t.bias.add(j) };
        j = if j + 1 == cols { 0 } else { j + 1 };
    }
    let total = t.rows * cols;
    let step = lanes % cols;
    let (mut p, mut phase) = (0, 0);
    // SAFETY: every access is below `total`, the rows' extent in `z` and `deriv` (contiguous
    // rows), or lane-limited below it; `phase < cols`, so `phase + lanes <= 31` floats of
    // `repeated` are read.
    unsafe {
        while p + lanes <= total {
            let b = S::load(repeated.as_ptr().add(phase));
            let (a, d) = act_and_prime::<S>(act, S::add(S::load(t.z.add(p)), b));
            S::store(t.z.add(p), a);
            S::store(t.deriv.add(p), d);
            p += lanes;
            phase += step;
            if phase >= cols {
                phase -= cols;
            }
        }
        if p < total {
            let rest = total - p;
            let b = S::load(repeated.as_ptr().add(phase));
            let (a, d) = act_and_prime::<S>(act, S::add(S::load_first(t.z.add(p), rest), b));
            S::store_first(t.z.add(p), a, rest);
            S::store_first(t.deriv.add(p), d, rest);
        }
    }
}

/// The fused pass over one row of `n` floats for one activation.
///
/// # Safety
/// Inside the family's wrapper (see [`Simd`]); `z`, `bias`, `deriv` valid for `n` floats,
/// `deriv` not overlapping the others.
#[inline(always)]
unsafe fn bias_act_loop<S: Simd>(
    act: Activation,
    z: *mut f32,
    bias: *const f32,
    deriv: *mut f32,
    n: usize,
) {
    let lanes = S::LANES;
    let mut i = 0;
    // SAFETY: every access is at an index < n, or lane-limited below n.
    unsafe {
        if n > lanes && !n.is_multiple_of(lanes) {
            // The row's last vector ends at `n` and overlaps the one before it: its input is
            // loaded first (the pass is in place), and its overlapping lanes get the values the
            // whole vectors store there (the same inputs). No lane-limited store, which costs
            // far more than a plain one where it crosses a cache line (rows of 30 floats, 120
            // bytes apart; measured on Zen 5: 43 against 11 cycles a vector).
            let last = n - lanes;
            let tail = S::add(S::load(z.add(last)), S::load(bias.add(last)));
            while i + lanes <= n {
                let zz = S::add(S::load(z.add(i)), S::load(bias.add(i)));
                let (a, d) = act_and_prime::<S>(act, zz);
                S::store(z.add(i), a);
                S::store(deriv.add(i), d);
                i += lanes;
            }
            let (a, d) = act_and_prime::<S>(act, tail);
            S::store(z.add(last), a);
            S::store(deriv.add(last), d);
            return;
        }
        if S::CHEAP_MASKS {
            while i < n {
                let k = (n - i).min(lanes);
                let zz = S::add(S::load_first(z.add(i), k), S::load_first(bias.add(i), k));
                let (a, d) = act_and_prime::<S>(act, zz);
                S::store_first(z.add(i), a, k);
                S::store_first(deriv.add(i), d, k);
                i += lanes;
            }
            return;
        }
        while i + lanes <= n {
            let (a, d) = act_and_prime::<S>(act, S::add(S::load(z.add(i)), S::load(bias.add(i))));
            S::store(z.add(i), a);
            S::store(deriv.add(i), d);
            i += lanes;
        }
        if i < n {
            let rest = n - i;
            let zz = S::add(
                S::load_first(z.add(i), rest),
                S::load_first(bias.add(i), rest),
            );
            let (a, d) = act_and_prime::<S>(act, zz);
            S::store_first(z.add(i), a, rest);
            S::store_first(deriv.add(i), d, rest);
        }
    }
}

/// Floats 16..32 are zero but the first: a vector loaded at `16 - j` has 1.0 in lane `j` alone
/// (any vector width up to 16), the output error's one-hot label.
static ONE_HOT: [f32; 32] = {
    let mut t = [0.0; 32];
    t[16] = 1.0;
    t
};

/// The fused error pass ([`super::DeltaRows`]): column chunks of one vector outer, rows inner,
/// so each chunk's sums stay in a register from `+0` through the rows in order (the bits of
/// the general step's column sums), and the bias step follows each chunk's last row.
///
/// # Safety
/// Inside the family's wrapper (see [`Simd`]); `t` describes valid memory as
/// [`super::DeltaRows`] says, its buffers distinct.
#[inline(always)]
pub(crate) unsafe fn delta_rows<S: Simd>(t: &super::DeltaRows) {
    use super::ErrorOf;
    // One loop per kind of error, the kind a constant inside it.
    // SAFETY: forwarded contract.
    unsafe {
        match t.error {
            ErrorOf::Output {
                times_deriv: true, ..
            } => delta_chunks::<S, true, true>(t),
            ErrorOf::Output {
                times_deriv: false, ..
            } => delta_chunks::<S, true, false>(t),
            ErrorOf::Hidden => delta_chunks::<S, false, true>(t),
        }
    }
}

/// [`delta_rows`] for one kind of error (`OUTPUT`: the output's `a - e_y`, else the hidden
/// `delta`; `DERIV`: times `deriv`): whole vectors, then the last partial one lane-limited.
///
/// # Safety
/// As [`delta_rows`], with `OUTPUT` and `DERIV` as `t.error` says.
#[inline(always)]
unsafe fn delta_chunks<S: Simd, const OUTPUT: bool, const DERIV: bool>(t: &super::DeltaRows) {
    let lanes = S::LANES;
    let mut i = 0;
    // SAFETY: each chunk lies inside the first `cols` columns (loop bounds).
    unsafe {
        while i + lanes <= t.cols {
            delta_chunk::<S, OUTPUT, DERIV, true>(t, i, lanes);
            i += lanes;
        }
        if i < t.cols {
            delta_chunk::<S, OUTPUT, DERIV, false>(t, i, t.cols - i);
        }
    }
}

/// Columns `j0..j0 + k` of every row (`WHOLE`: `k` is a whole vector, plain loads and
/// stores; else lane-limited ones).
///
/// # Safety
/// As [`delta_chunks`], with `j0 + k <= t.cols`, `k <= LANES`, `k == LANES` when `WHOLE`.
#[inline(always)]
unsafe fn delta_chunk<S: Simd, const OUTPUT: bool, const DERIV: bool, const WHOLE: bool>(
    t: &super::DeltaRows,
    j0: usize,
    k: usize,
) {
    // SAFETY (every access): `p` is a cell `< cols` of a row `< rows` of its buffer, or one of
    // the first `cols` floats of `sums` / `bias` (contract and caller's bounds); lane-limited
    // accesses touch only lanes `< k`.
    unsafe {
        let load = |p: *const f32| {
            if WHOLE {
                S::load(p)
            } else {
                S::load_first(p, k)
            }
        };
        let store = |p: *mut f32, v: S::V| {
            if WHOLE {
                S::store(p, v)
            } else {
                S::store_first(p, v, k)
            }
        };
        let (a, labels) = match t.error {
            super::ErrorOf::Output { a, labels, .. } => (a, labels),
            super::ErrorOf::Hidden => (std::ptr::null(), std::ptr::null()),
        };
        let mut sum = S::splat(0.0);
        for r in 0..t.rows {
            let at = r * t.stride + j0;
            let mut v = if OUTPUT {
                // The label's lane of this chunk, if it has it: a - 1 there, a - 0 (= a,
                // exactly) elsewhere.
                let lane = usize::from(*labels.add(r)).wrapping_sub(j0);
                let e = if lane < S::LANES {
                    S::load(ONE_HOT.as_ptr().add(16 - lane))
                } else {
                    S::splat(0.0)
                };
                S::sub(load(a.add(at)), e)
            } else {
                load(t.delta.add(at))
            };
            if DERIV {
                v = S::mul(v, load(t.deriv.add(at)));
            }
            store(t.delta.add(at), v);
            sum = S::add(sum, v);
        }
        store(t.sums.add(j0), sum);
        if !t.bias.is_null() {
            let b = load(t.bias.add(j0));
            store(
                t.bias.add(j0),
                S::sub(b, S::mul(S::splat(t.bias_step), sum)),
            );
        }
    }
}
