//! x86-64 AVX2 + FMA kernels. Every function here is `#[target_feature(enable = "avx2,fma")]`
//! and is only reached through an [`crate::isa::Isa::Avx2`] that was checked against the CPU.

use super::Tile;

/// Rows and columns of the AVX2 tile (6 rows x two 8-lane vectors).
pub const MR: usize = 6;
pub const NR: usize = 16;
use core::arch::x86_64::*;

/// AVX2 GEMM microkernel (`sgemm.avx2.6x16`).
///
/// Register tile: up to 6 rows x 16 columns = 12 ymm accumulators, plus 2 ymm for the B row and
/// 1 for the broadcast A element: 15 of the 16 ymm registers. Each k step issues 12 independent
/// FMAs, enough to cover the FMA latency (4-5 cycles) on two FMA pipes. The body is generic over
/// the live rows `R` (1..=6) and 8-lane halves `H` (1 or 2), so edge tiles do only their work.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `t` must satisfy the microkernel contract in [`super`]
/// (unit column stride for C).
pub unsafe fn gemm_tile(t: &Tile) {
    // SAFETY: forwarded contract; `rows` and the half count match the tile (see `by_shape`).
    unsafe {
        if t.b_full_rows < t.k {
            by_shape::<false, true>(t)
        } else if t.rsa == 1 && t.csa == MR as isize && t.rsb == NR as isize {
            by_shape::<true, false>(t)
        } else {
            by_shape::<false, false>(t)
        }
    }
}

/// Picks the monomorphised body for the tile's live rows and halves.
///
/// # Safety
/// As [`gemm_tile`].
unsafe fn by_shape<const PACKED: bool, const MASK_B: bool>(t: &Tile) {
    // SAFETY: forwarded contract; R == t.rows and H covers t.cols.
    unsafe {
        match (t.rows, t.cols > 8) {
            (6, true) => tile_full::<PACKED, MASK_B>(t),
            (5, true) => tile_impl::<PACKED, MASK_B, 5, 2>(t),
            (4, true) => tile_impl::<PACKED, MASK_B, 4, 2>(t),
            (3, true) => tile_impl::<PACKED, MASK_B, 3, 2>(t),
            (2, true) => tile_impl::<PACKED, MASK_B, 2, 2>(t),
            (1, true) => tile_impl::<PACKED, MASK_B, 1, 2>(t),
            (6, false) => tile_impl::<PACKED, MASK_B, 6, 1>(t),
            (5, false) => tile_impl::<PACKED, MASK_B, 5, 1>(t),
            (4, false) => tile_impl::<PACKED, MASK_B, 4, 1>(t),
            (3, false) => tile_impl::<PACKED, MASK_B, 3, 1>(t),
            (2, false) => tile_impl::<PACKED, MASK_B, 2, 1>(t),
            _ => tile_impl::<PACKED, MASK_B, 1, 1>(t),
        }
    }
}

/// Lane masks selecting columns `j < cols` of the two 8-lane halves of a 16-column row.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn column_masks(cols: usize) -> [__m256i; 2] {
    let n = _mm256_set1_epi32(cols as i32);
    let lo = _mm256_cmpgt_epi32(n, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    let hi = _mm256_cmpgt_epi32(n, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15));
    [lo, hi]
}

/// `R` rows of `H` halves from `ptr` (row stride `rs`, unit column stride): whole halves where
/// the half is full or the row may be read wide, else only the live lanes (masked loads).
/// `FULL` says at compile time that every half is full (a whole tile), so no test is made.
///
/// Not a `#[target_feature]` function itself, so that it can be forced inline into the kernels
/// (which have the features); a separate call would pass the tile through memory.
///
/// # Safety
/// The CPU must support AVX2; rows `i < R` must hold `cols` readable floats, or 16 when `wide`.
#[inline(always)]
unsafe fn load_rows<const R: usize, const H: usize, const FULL: bool>(
    ptr: *const f32,
    rs: isize,
    wide: bool,
    cols: usize,
    masks: &[__m256i; 2],
) -> [[__m256; H]; R] {
    // SAFETY: AVX2 is available (caller's contract).
    let mut out = [[unsafe { _mm256_setzero_ps() }; H]; R];
    for (i, row) in out.iter_mut().enumerate() {
        let p = ptr.wrapping_offset(i as isize * rs);
        for (h, v) in row.iter_mut().enumerate() {
            let q = p.wrapping_add(8 * h);
            // SAFETY: AVX2 is available; the half is full, or the row is readable 16 wide, or
            // the masked-off lanes are not read (caller's contract).
            *v = unsafe {
                if FULL || wide || cols >= 8 * (h + 1) {
                    _mm256_loadu_ps(q)
                } else {
                    _mm256_maskload_ps(q, masks[h])
                }
            };
        }
    }
    out
}

/// The end of every tile: the raw partial sums, or `alpha*S (+ beta*c0)` on the last k block,
/// into C's live cells.
///
/// Forced inline into the kernels, as [`load_rows`] is.
///
/// # Safety
/// The CPU must support AVX2 and FMA; the tile contract, with `R == t.rows`, `H` halves
/// covering `t.cols`, and C contiguous.
#[inline(always)]
unsafe fn write_tile<const R: usize, const H: usize, const FULL: bool>(
    t: &Tile,
    acc: [[__m256; H]; R],
    masks: &[__m256i; 2],
) {
    let mut out = acc;
    // A ragged half is best written back whole, its dead lanes with their current values (the
    // row is this thread's memory 16 wide, c_full_rows; rows are stored in order, so a later
    // row's store wins), because vmaskmovps stores are slow on AMD. That needs the whole rows
    // as they are in memory now, read before any row is stored (a ragged row's store shares a
    // cache line with the next row's start: loading that row afterwards would stall on
    // store-to-load forwarding), and only where C may be read at all.
    let ragged = !FULL && t.cols < 8 * H;
    let mut wide_old = None;
    // SAFETY (every intrinsic below): AVX2 and FMA are available (caller's contract).
    if t.finish {
        let alpha = unsafe { _mm256_set1_ps(t.alpha) };
        for row in out.iter_mut() {
            for v in row.iter_mut() {
                *v = unsafe { _mm256_mul_ps(alpha, *v) };
            }
        }
        if t.beta != 0.0 {
            // SAFETY: c0 rows hold `cols` readable floats, or 16 with c0_full_rows (contract).
            let old =
                unsafe { load_rows::<R, H, FULL>(t.c0, t.rs0, t.c0_full_rows, t.cols, masks) };
            let beta = unsafe { _mm256_set1_ps(t.beta) };
            for (row, o) in out.iter_mut().zip(&old) {
                for (v, &c) in row.iter_mut().zip(o) {
                    *v = unsafe { _mm256_fmadd_ps(beta, c, *v) };
                }
            }
            if t.c0_is_c() && t.c0_full_rows {
                wide_old = Some(old);
            }
        }
    }
    if ragged && wide_old.is_none() && t.load && t.c_full_rows {
        // SAFETY: C may be read (this block continues its partial sums), 16 wide (c_full_rows).
        wide_old = Some(unsafe { load_rows::<R, H, FULL>(t.c, t.rsc, true, t.cols, masks) });
    }
    for (i, row) in out.iter().enumerate() {
        let c = t.c.wrapping_offset(i as isize * t.rsc);
        for (h, &v) in row.iter().enumerate() {
            let ptr = c.wrapping_add(8 * h);
            // SAFETY: AVX2 is available; row i < rows of the C tile. A full half is stored
            // plainly; a ragged one either whole with its dead lanes' current values (see
            // above) or through the mask, which selects exactly the cells j < cols.
            unsafe {
                if FULL || t.cols >= 8 * (h + 1) {
                    _mm256_storeu_ps(ptr, v);
                } else if let Some(old) = &wide_old {
                    _mm256_storeu_ps(
                        ptr,
                        _mm256_blendv_ps(old[i][h], v, _mm256_castsi256_ps(masks[h])),
                    );
                } else {
                    _mm256_maskstore_ps(ptr, masks[h], v);
                }
            }
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn tile_impl<const PACKED: bool, const MASK_B: bool, const R: usize, const H: usize>(
    t: &Tile,
) {
    let masks = column_masks(t.cols);
    let (rsa, csa, rsb) = if PACKED {
        (1isize, MR as isize, NR as isize)
    } else {
        (t.rsa, t.csa, t.rsb)
    };
    let a: [*const f32; R] = std::array::from_fn(|i| t.a.wrapping_offset(i as isize * rsa));
    let mut b = t.b;
    let mut acc = if t.load {
        // SAFETY: C rows hold `cols` readable floats, or 16 with c_full_rows (contract).
        unsafe { load_rows::<R, H, false>(t.c, t.rsc, t.c_full_rows, t.cols, &masks) }
    } else {
        [[_mm256_setzero_ps(); H]; R]
    };
    let mut off = 0isize;
    // One k step; `$masked` rows read B through the column masks. Rows of B that hold 16
    // readable floats come first, so the common loop carries no per-row test.
    macro_rules! k_steps {
        ($range:expr, $masked:expr) => {
            for _ in $range {
                let mut bv = [_mm256_setzero_ps(); H];
                for (h, v) in bv.iter_mut().enumerate() {
                    let ptr = b.wrapping_add(8 * h);
                    // SAFETY: the first b_full_rows rows of the B strip hold 16 readable floats,
                    // the rest `cols`, read through masks (masked-off lanes are not read).
                    *v = unsafe {
                        if $masked {
                            _mm256_maskload_ps(ptr, masks[h])
                        } else {
                            _mm256_loadu_ps(ptr)
                        }
                    };
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    // SAFETY: rows i < R = rows are valid rows of the A strip and
                    // `off = p*csa`, p < k.
                    let x = _mm256_broadcast_ss(unsafe { &*a[i].offset(off) });
                    for (c, v) in row.iter_mut().zip(bv) {
                        *c = _mm256_fmadd_ps(x, v, *c);
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
    // SAFETY: forwarded contract.
    unsafe {
        if t.cols == 8 * H {
            write_tile::<R, H, true>(t, acc, &masks)
        } else {
            write_tile::<R, H, false>(t, acc, &masks)
        }
    };
}

#[target_feature(enable = "avx2,fma")]
/// The full 6x16 tile, written out register by register: with 16 ymm registers the generic body
/// above spills in the k loop, this one does not (measured ~25 % faster on 784x10x100).
#[allow(clippy::needless_range_loop)]
unsafe fn tile_full<const PACKED: bool, const MASK_B: bool>(t: &Tile) {
    let masks = column_masks(t.cols);
    let [mlo, mhi] = masks;
    let (rsa, csa, rsb) = if PACKED {
        (1isize, MR as isize, NR as isize)
    } else {
        (t.rsa, t.csa, t.rsb)
    };
    // Six independent row pointers. (Written with the clamp to the last live row that the
    // unpacked case needs anyway: without it LLVM rebuilds rows 3-5 from row 0 with three extra
    // address instructions in every k step, measured +6 % instructions on 10x784x30.)
    let last = if PACKED {
        MR as isize - 1
    } else {
        (t.rows - 1) as isize
    };
    let row = |i: isize| t.a.wrapping_offset(i.min(last) * rsa);
    let (a0, a1, a2, a3, a4, a5) = (row(0), row(1), row(2), row(3), row(4), row(5));
    let mut b = t.b;

    let start = if t.load {
        // SAFETY: C rows hold `cols` readable floats, or 16 with c_full_rows (contract).
        unsafe { load_rows::<MR, 2, false>(t.c, t.rsc, t.c_full_rows, t.cols, &masks) }
    } else {
        [[_mm256_setzero_ps(); 2]; MR]
    };
    // Twelve named accumulators: kept in registers through the k loop.
    let [[mut c00, mut c01], [mut c10, mut c11], [mut c20, mut c21], [mut c30, mut c31], [mut c40, mut c41], [mut c50, mut c51]] =
        start;

    let mut off = 0isize;
    // One k step from B's row halves `$b0`, `$b1`.
    macro_rules! k_step {
        ($b0:expr, $b1:expr) => {
            // SAFETY: A rows a0..a5 are valid rows of the strip and `off = p*csa` with p < k
            // (contract).
            unsafe {
                let (b0, b1) = ($b0, $b1);
                let x = _mm256_broadcast_ss(&*a0.offset(off));
                c00 = _mm256_fmadd_ps(x, b0, c00);
                c01 = _mm256_fmadd_ps(x, b1, c01);
                let x = _mm256_broadcast_ss(&*a1.offset(off));
                c10 = _mm256_fmadd_ps(x, b0, c10);
                c11 = _mm256_fmadd_ps(x, b1, c11);
                let x = _mm256_broadcast_ss(&*a2.offset(off));
                c20 = _mm256_fmadd_ps(x, b0, c20);
                c21 = _mm256_fmadd_ps(x, b1, c21);
                let x = _mm256_broadcast_ss(&*a3.offset(off));
                c30 = _mm256_fmadd_ps(x, b0, c30);
                c31 = _mm256_fmadd_ps(x, b1, c31);
                let x = _mm256_broadcast_ss(&*a4.offset(off));
                c40 = _mm256_fmadd_ps(x, b0, c40);
                c41 = _mm256_fmadd_ps(x, b1, c41);
                let x = _mm256_broadcast_ss(&*a5.offset(off));
                c50 = _mm256_fmadd_ps(x, b0, c50);
                c51 = _mm256_fmadd_ps(x, b1, c51);
            }
            b = b.wrapping_offset(rsb);
            off += csa;
        };
    }
    // Rows of B that hold 16 readable floats first, so the common loop carries no per-row test;
    // then (a ragged panel in place) the rest through masks, whose off lanes are not read.
    let whole = if MASK_B { t.b_full_rows.min(t.k) } else { t.k };
    for _ in 0..whole {
        // SAFETY: this row of the B strip holds 16 readable floats (contract).
        let (b0, b1) = unsafe { (_mm256_loadu_ps(b), _mm256_loadu_ps(b.add(8))) };
        k_step!(b0, b1);
    }
    if MASK_B {
        for _ in whole..t.k {
            // SAFETY: this row holds `cols` readable floats; masked-off lanes are not read.
            let (b0, b1) = unsafe {
                (
                    _mm256_maskload_ps(b, mlo),
                    _mm256_maskload_ps(b.wrapping_add(8), mhi),
                )
            };
            k_step!(b0, b1);
        }
    }
    let acc = [
        [c00, c01],
        [c10, c11],
        [c20, c21],
        [c30, c31],
        [c40, c41],
        [c50, c51],
    ];
    // SAFETY: forwarded contract (R = 6 = rows, 2 halves for cols > 8).
    unsafe {
        if t.cols == NR {
            write_tile::<MR, 2, true>(t, acc, &masks)
        } else {
            write_tile::<MR, 2, false>(t, acc, &masks)
        }
    };
}

/// Runs `iters` (rounded up to a multiple of 64) rounds of 12 independent 8-lane FMAs (192 flop per round) and returns a value
/// that depends on all of them, so the work cannot be optimised away. Used to measure the
/// machine's FMA peak, the 100 % of the GEMM benchmark tables.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn fma_peak_probe(iters: usize) -> f32 {
    let x = _mm256_set1_ps(std::hint::black_box(0.999_999));
    let y = _mm256_set1_ps(std::hint::black_box(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); 12];
    for _ in 0..iters.div_ceil(64) {
        for _ in 0..64 {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, x, y);
            }
        }
        // Keeps the loop from being folded; rare enough not to cost throughput.
        acc = std::hint::black_box(acc);
    }
    let mut out = [0.0f32; 8];
    let mut sum = _mm256_setzero_ps();
    for a in acc {
        sum = _mm256_add_ps(sum, a);
    }
    // SAFETY: `out` holds 8 floats.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sum) };
    out.iter().sum()
}

use super::math::*;

/// `exp(z)` for `z <= 0`, 8 lanes, the shared method with FMA: see [`crate::activation`].
/// Lanes below [`EXP_MIN_NORMAL_ARG`] give 0; NaN lanes give NaN.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn exp_nonpos(z: __m256) -> __m256 {
    exp_scaled::<0>(z)
}

/// `2^K * exp(z)`, the scale folded into the exponent field (normal wherever the true value is);
/// 0 where it would be subnormal.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn exp_scaled<const K: i32>(z: __m256) -> __m256 {
    let magic = _mm256_set1_ps(ROUND_MAGIC + K as f32);
    // n = round(z*log2 e); the low bits of `biased` hold n + 127 + K, so shifted left by 23 they
    // are 2^(n+K). Lanes where n < -126 - K get a wrong scale and are zeroed below.
    let biased = _mm256_fmadd_ps(z, _mm256_set1_ps(LOG2E), magic);
    let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(biased)));
    let n = _mm256_sub_ps(biased, magic);
    let t = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), z);
    let t = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), t);
    let mut p = _mm256_fmadd_ps(_mm256_set1_ps(EXP_C5), t, _mm256_set1_ps(EXP_C4));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(EXP_C3));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(EXP_C2));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(EXP_C1));
    // 2^(n+K) * exp(t) = s + (s*t)*p
    let e = _mm256_fmadd_ps(_mm256_mul_ps(scale, t), p, scale);
    let tiny = _mm256_cmp_ps::<_CMP_LT_OQ>(
        z,
        _mm256_set1_ps(EXP_MIN_NORMAL_ARG - K as f32 * std::f32::consts::LN_2),
    );
    _mm256_andnot_ps(tiny, e)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn abs(x: __m256) -> __m256 {
    _mm256_andnot_ps(_mm256_set1_ps(-0.0), x)
}

/// sigma(-|x|) = e/(1+e).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn sigmoid_small_side(x: __m256) -> __m256 {
    // -|x| by setting the sign bit: one instruction.
    let e = exp_nonpos(_mm256_or_ps(x, _mm256_set1_ps(-0.0)));
    // A true division: it runs on the divider, not on the two FMA pipes this kernel saturates
    // (a reciprocal estimate plus Newton steps measured slower here).
    _mm256_div_ps(e, _mm256_add_ps(_mm256_set1_ps(1.0), e))
}

/// sigma(x) and sigma'(x) from one exp.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn sigmoid_and_prime(x: __m256) -> (__m256, __m256) {
    let one = _mm256_set1_ps(1.0);
    let s = sigmoid_small_side(x);
    let one_minus = _mm256_sub_ps(one, s);
    // blendv selects by each lane's sign bit: s where x is negative (or -0), 1 - s otherwise
    // (+0 gives 1 - 0.5 = 0.5 as well).
    (
        _mm256_blendv_ps(one_minus, s, x),
        _mm256_mul_ps(s, one_minus),
    )
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn element(f: ElementFn, x: __m256) -> __m256 {
    let one = _mm256_set1_ps(1.0);
    {
        match f {
            ElementFn::Sigmoid => sigmoid_and_prime(x).0,
            ElementFn::SigmoidPrime => {
                let s = sigmoid_small_side(x);
                _mm256_mul_ps(s, _mm256_sub_ps(one, s))
            }
            ElementFn::Tanh => {
                // Computed on |x|, the sign restored last (so tanh(-0) = -0).
                let a = abs(x);
                let sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0));
                let e = exp_nonpos(_mm256_mul_ps(_mm256_set1_ps(-2.0), a));
                let big = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
                let s = _mm256_mul_ps(a, a);
                let mut p = _mm256_set1_ps(TANH_T0);
                p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(TANH_T1));
                p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(TANH_T2));
                p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(TANH_T3));
                p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(TANH_T4));
                let small = _mm256_fmadd_ps(_mm256_mul_ps(a, s), p, a);
                let is_small = _mm256_cmp_ps::<_CMP_LT_OQ>(a, _mm256_set1_ps(TANH_SMALL));
                _mm256_or_ps(_mm256_blendv_ps(big, small, is_small), sign)
            }
            ElementFn::TanhPrime => {
                // r = 4e = 2^2 exp(-2|x|) built in the exponent (normal wherever the result is).
                let r = exp_scaled::<2>(_mm256_mul_ps(_mm256_set1_ps(-2.0), abs(x)));
                let d = _mm256_fmadd_ps(_mm256_set1_ps(0.25), r, one);
                _mm256_div_ps(r, _mm256_mul_ps(d, d))
            }
            // max(0, x) returns x when x is NaN (the second operand wins on NaN).
            ElementFn::Relu => _mm256_max_ps(_mm256_setzero_ps(), x),
            ElementFn::ReluPrime => {
                let d = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_setzero_ps()), one);
                _mm256_blendv_ps(d, x, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x))
            }
        }
    }
}

/// `y[i] = f(x[i])` for `i < n`, 16 elements per iteration, the tail through a padded stack
/// buffer (so no lane reads or writes past `n`).
///
/// # Safety
/// The CPU must support AVX2 and FMA; `x` readable and `y` writable for `n` floats; `x == y`
/// (in place) is allowed, any other overlap is not.
pub unsafe fn map(f: ElementFn, x: *const f32, y: *mut f32, n: usize) {
    // One monomorphised loop per function, so no dispatch runs per vector.
    // SAFETY: forwarded contract.
    unsafe {
        match f {
            ElementFn::Sigmoid => map_impl::<{ ElementFn::Sigmoid as u8 }>(x, y, n),
            ElementFn::SigmoidPrime => map_impl::<{ ElementFn::SigmoidPrime as u8 }>(x, y, n),
            ElementFn::Tanh => map_impl::<{ ElementFn::Tanh as u8 }>(x, y, n),
            ElementFn::TanhPrime => map_impl::<{ ElementFn::TanhPrime as u8 }>(x, y, n),
            ElementFn::Relu => map_impl::<{ ElementFn::Relu as u8 }>(x, y, n),
            ElementFn::ReluPrime => map_impl::<{ ElementFn::ReluPrime as u8 }>(x, y, n),
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn map_impl<const F: u8>(x: *const f32, y: *mut f32, n: usize) {
    let f = ElementFn::ALL[F as usize];
    let mut i = 0;
    // SAFETY: every access below is at an index < n (loop bounds), or in the stack buffer.
    unsafe {
        // Four independent vectors per iteration: each one is a long dependency chain.
        while i + 32 <= n {
            let a = element(f, _mm256_loadu_ps(x.add(i)));
            let b = element(f, _mm256_loadu_ps(x.add(i + 8)));
            let c = element(f, _mm256_loadu_ps(x.add(i + 16)));
            let d = element(f, _mm256_loadu_ps(x.add(i + 24)));
            _mm256_storeu_ps(y.add(i), a);
            _mm256_storeu_ps(y.add(i + 8), b);
            _mm256_storeu_ps(y.add(i + 16), c);
            _mm256_storeu_ps(y.add(i + 24), d);
            i += 32;
        }
        while i + 8 <= n {
            _mm256_storeu_ps(y.add(i), element(f, _mm256_loadu_ps(x.add(i))));
            i += 8;
        }
        while i < n {
            let len = (n - i).min(8);
            let mut buf = [0.0f32; 8];
            std::ptr::copy_nonoverlapping(x.add(i), buf.as_mut_ptr(), len);
            let v = element(f, _mm256_loadu_ps(buf.as_ptr()));
            _mm256_storeu_ps(buf.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(buf.as_ptr(), y.add(i), len);
            i += len;
        }
    }
}

/// Fused layer epilogue over one row: pre-activation `z + bias`; writes the activation in place
/// of `z` and the derivative to `deriv`, sharing one exp between the two for sigmoid.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `z`, `bias`, `deriv` valid for `n` floats, `deriv` not
/// overlapping the others.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn bias_act_row(
    act: Activation,
    z: *mut f32,
    bias: *const f32,
    deriv: *mut f32,
    n: usize,
) {
    let mut i = 0;
    // SAFETY: every access is at an index < n, or in the stack buffers.
    unsafe {
        while i + 8 <= n {
            let zz = _mm256_add_ps(_mm256_loadu_ps(z.add(i)), _mm256_loadu_ps(bias.add(i)));
            let (a, d) = act_and_prime(act, zz);
            _mm256_storeu_ps(z.add(i), a);
            _mm256_storeu_ps(deriv.add(i), d);
            i += 8;
        }
        if i < n {
            let len = n - i;
            let (mut zb, mut bb) = ([0.0f32; 8], [0.0f32; 8]);
            std::ptr::copy_nonoverlapping(z.add(i), zb.as_mut_ptr(), len);
            std::ptr::copy_nonoverlapping(bias.add(i), bb.as_mut_ptr(), len);
            let (a, d) = act_and_prime(
                act,
                _mm256_add_ps(_mm256_loadu_ps(zb.as_ptr()), _mm256_loadu_ps(bb.as_ptr())),
            );
            _mm256_storeu_ps(zb.as_mut_ptr(), a);
            _mm256_storeu_ps(bb.as_mut_ptr(), d);
            std::ptr::copy_nonoverlapping(zb.as_ptr(), z.add(i), len);
            std::ptr::copy_nonoverlapping(bb.as_ptr(), deriv.add(i), len);
        }
    }
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn act_and_prime(act: Activation, z: __m256) -> (__m256, __m256) {
    match act {
        Activation::Sigmoid => sigmoid_and_prime(z),
        _ => (element(act.value_fn(), z), element(act.derivative_fn(), z)),
    }
}
