//! Portable kernels, always built and tested: the reference every SIMD path is checked against.

use super::Tile;

/// Rows and columns of the portable kernel's tile.
pub const MR: usize = 6;
pub const NR: usize = 16;

/// Portable GEMM microkernel (`sgemm.scalar.6x16`): the contract's recurrence written out with
/// a fused multiply-add per term ([`fma`]), accumulators in a local array.
///
/// # Safety
/// See the microkernel contract in [`super`] (C has a unit column stride here).
pub unsafe fn gemm_tile(t: &Tile) {
    let mut acc = [[0.0f32; NR]; MR];
    if t.load {
        for (i, acc_row) in acc.iter_mut().enumerate().take(t.rows) {
            for (j, v) in acc_row.iter_mut().enumerate().take(t.cols) {
                // SAFETY: (i, j) is a live cell of the C tile (contract).
                *v = unsafe { *t.c.offset(i as isize * t.rsc + j as isize) };
            }
        }
    }
    let last = t.rows - 1;
    let mut padded = [0.0f32; NR];
    for p in 0..t.k {
        let row = t.b.wrapping_offset(p as isize * t.rsb);
        let brow: &[f32; NR] = if p < t.b_full_rows {
            // SAFETY: row p of the B strip holds NR readable floats (contract).
            unsafe { &*(row as *const [f32; NR]) }
        } else {
            // SAFETY: row p holds `cols` readable floats (contract); the rest stays zero.
            padded[..t.cols].copy_from_slice(unsafe { std::slice::from_raw_parts(row, t.cols) });
            &padded
        };
        for (i, acc_row) in acc.iter_mut().enumerate() {
            let r = i.min(last) as isize;
            // SAFETY: row r < rows and column p < k of A are inside the strip (contract).
            let a = unsafe { *t.a.offset(r * t.rsa + p as isize * t.csa) };
            for (acc_ij, &b) in acc_row.iter_mut().zip(brow) {
                *acc_ij = fma(a, b, *acc_ij);
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate().take(t.rows) {
        for (j, &s) in acc_row.iter().enumerate().take(t.cols) {
            let v = if !t.finish {
                s
            } else if t.beta == 0.0 {
                t.alpha * s
            } else {
                // SAFETY: (i, j) is a live cell of c0 (contract).
                let old = unsafe { *t.c0.offset(i as isize * t.rs0 + j as isize * t.cs0) };
                fma(t.beta, old, t.alpha * s)
            };
            // SAFETY: (i, j) is a live cell of the C tile (contract).
            unsafe { *t.c.offset(i as isize * t.rsc + j as isize) = v };
        }
    }
}

use super::math::*;

/// `a*b + c` rounded once, as the SIMD kernels' FMA instructions compute it: `f32::mul_add`.
/// That is one instruction where the target has FMA built in (aarch64, or x86-64 compiled with
/// `-C target-feature=+fma`). On a default x86-64 build it is a call into the C library's
/// `fmaf`, which runs the FMA instruction on every x86-64 CPU since 2013 (Haswell, Piledriver)
/// but cannot be vectorised: the scalar GEMM then runs several times slower than with plain
/// multiply-adds (`reproduce --quick`: 16 s unfused, about 100 s fused, on a Xeon with AVX-512).
/// On a CPU without FMA, glibc emulates it exactly in software, tens of cycles a call. That is
/// the price of the portable path giving the same bits as the SIMD ones.
#[inline(always)]
fn fma(a: f32, b: f32, c: f32) -> f32 {
    a.mul_add(b, c)
}

/// `exp(z)` for `z <= 0` following the shared method (round, Cody-Waite reduction, polynomial,
/// exponent-bit reconstruction); 0 below [`EXP_MIN_NORMAL_ARG`]. NaN propagates.
#[inline(always)]
fn exp_nonpos(z: f32) -> f32 {
    exp_scaled::<0>(z)
}

/// `2^K * exp(z)`, the scale folded into the exponent field, so the result is normal wherever
/// the true value is; 0 where `2^K exp(z)` would be subnormal. Every step is the vector kernels'
/// operation, fused multiply-adds included ([`fma`]), so all families give the same bits.
#[inline(always)]
fn exp_scaled<const K: i32>(z: f32) -> f32 {
    if z < EXP_MIN_NORMAL_ARG - K as f32 * std::f32::consts::LN_2 {
        return 0.0;
    }
    // n = round(z*log2 e); `biased` holds n + 127 + K in its low bits, so its bits shifted
    // left by 23 are 2^(n+K). n >= -126 - K here, so that exponent field is valid.
    let magic = ROUND_MAGIC + K as f32;
    let biased = fma(z, LOG2E, magic);
    let scale = f32::from_bits(biased.to_bits() << 23);
    let n = biased - magic;
    let t = fma(-n, LN2_HI, z);
    let t = fma(-n, LN2_LO, t);
    let p = fma(EXP_C5, t, EXP_C4);
    let p = fma(p, t, EXP_C3);
    let p = fma(p, t, EXP_C2);
    let p = fma(p, t, EXP_C1);
    // 2^(n+K) * exp(t) = s + (s*t)*p
    fma(scale * t, p, scale)
}

/// sigma(-|x|) = e/(1+e) with e = exp(-|x|): the small side, free of cancellation.
#[inline(always)]
fn sigmoid_small_side(x: f32) -> f32 {
    let e = exp_nonpos(-x.abs());
    e / (1.0 + e)
}

/// One element of an [`ElementFn`].
#[inline(always)]
pub fn element(f: ElementFn, x: f32) -> f32 {
    match f {
        ElementFn::Sigmoid => {
            let s = sigmoid_small_side(x);
            if x > 0.0 {
                1.0 - s
            } else {
                s
            }
        }
        ElementFn::SigmoidPrime => {
            let s = sigmoid_small_side(x);
            s * (1.0 - s)
        }
        ElementFn::Tanh => {
            // Computed on |x|, the sign restored last (so tanh(-0) = -0).
            let a = x.abs();
            let t = if a < TANH_SMALL {
                let s = a * a;
                let p = fma(TANH_T0, s, TANH_T1);
                let p = fma(p, s, TANH_T2);
                let p = fma(p, s, TANH_T3);
                let p = fma(p, s, TANH_T4);
                fma(a * s, p, a)
            } else {
                let e = exp_nonpos(-2.0 * a);
                (1.0 - e) / (1.0 + e)
            };
            t.copysign(x)
        }
        ElementFn::TanhPrime => {
            // r = 4e = 2^2 exp(-2|x|) built in the exponent, so the result stays normal
            // wherever the true value is (e itself is subnormal there); then e = r/4.
            let r = exp_scaled::<2>(-2.0 * x.abs());
            let d = fma(0.25f32, r, 1.0);
            r / (d * d)
        }
        ElementFn::Relu => {
            if x > 0.0 || x.is_nan() {
                x
            } else {
                0.0
            }
        }
        ElementFn::ReluPrime => {
            if x > 0.0 {
                1.0
            } else if x.is_nan() {
                x
            } else {
                0.0
            }
        }
        ElementFn::Softsign => {
            // a / (1 + a) on a = |x|, the sign restored last (softsign(-0) = -0). The plain
            // quotient a / fl(1 + a) errs by up to 1.5 ULP and is not monotone (adjacent inputs
            // step back by up to 2 ULP where 1 + a rounds), so the rounding error of 1 + a is
            // recovered exactly (Fast2Sum), the division's remainder exactly (an FMA), and the
            // quotient corrected by both: correctly rounded but for results within about
            // 2^-20 ULP of a rounding boundary. At infinity the limit 1 is taken.
            let a = x.abs();
            let d = 1.0 + a;
            let (big, small) = if a > 1.0 { (a, 1.0) } else { (1.0, a) };
            let e = small - (d - big);
            let q0 = a / d;
            let r = fma(-q0, d, a);
            let num = fma(-q0, e, r);
            let q = q0 + num / d;
            if a > f32::MAX {
                1.0f32.copysign(x)
            } else {
                q.copysign(x)
            }
        }
        ElementFn::SoftsignPrime => {
            // t*t with t = 1 / (1 + a), corrected for the rounding of 1 + a as in softsign
            // (without it, 3 ULP); t*t rather than 1/(d*d), which overflows for a above about
            // 1.8e19, where the true value is still a normal or subnormal number.
            let a = x.abs();
            let d = 1.0 + a;
            let (big, small) = if a > 1.0 { (a, 1.0) } else { (1.0, a) };
            let e = small - (d - big);
            let t0 = 1.0 / d;
            let r = fma(-t0, d, 1.0);
            let t = t0 + fma(-t0, e, r) / d;
            if a > f32::MAX {
                0.0
            } else {
                t * t
            }
        }
    }
}

/// `y[i] = f(x[i])` for `i < n`.
///
/// # Safety
/// `x` must be readable and `y` writable for `n` floats; they may be the same pointer (in place)
/// but must not otherwise overlap.
pub unsafe fn map(f: ElementFn, x: *const f32, y: *mut f32, n: usize) {
    for i in 0..n {
        // SAFETY: i < n (caller's contract); each element is read before it is written.
        unsafe { *y.add(i) = element(f, *x.add(i)) };
    }
}

/// Fused layer epilogue over one row: `z <- z + bias` is the pre-activation; writes
/// `out = act(z)` in place of `z` and `deriv = act'(z)`.
///
/// # Safety
/// `z`, `bias`, `deriv` must each be valid for `n` floats and `deriv` must not overlap the others.
unsafe fn bias_act_row(act: Activation, z: *mut f32, bias: *const f32, deriv: *mut f32, n: usize) {
    let (vf, df) = (act.value_fn(), act.derivative_fn());
    for i in 0..n {
        // SAFETY: i < n (caller's contract).
        unsafe {
            let zz = *z.add(i) + *bias.add(i);
            *z.add(i) = element(vf, zz);
            *deriv.add(i) = element(df, zz);
        }
    }
}

/// The fused layer epilogue over rows ([`super::BiasActRows`]): [`bias_act_row`] on each.
///
/// # Safety
/// `t` describes valid memory as [`super::BiasActRows`] says.
pub unsafe fn bias_act_rows(t: &super::BiasActRows) {
    for r in 0..t.rows {
        // SAFETY: row r < rows of z and deriv holds cols floats (contract).
        unsafe {
            bias_act_row(
                t.act,
                t.z.add(r * t.stride),
                t.bias,
                t.deriv.add(r * t.stride),
                t.cols,
            )
        }
    }
}

/// `dst[i] = src[i] * scale` for `i < n`: byte features to floats (exact for a power-of-two
/// `scale`, as the pixel scale 1/256 is). `#[inline(always)]` so the SIMD families compile the
/// same loop with their instructions.
///
/// # Safety
/// `src` readable for `n` bytes, `dst` writable for `n` floats.
#[inline(always)]
pub unsafe fn scale_bytes(src: *const u8, dst: *mut f32, n: usize, scale: f32) {
    // SAFETY: the caller guarantees both extents; a byte and a float buffer cannot be the same
    // memory as `&`/`&mut` pairs here because the caller passes distinct buffers.
    let (src, dst) = unsafe {
        (
            std::slice::from_raw_parts(src, n),
            std::slice::from_raw_parts_mut(dst, n),
        )
    };
    for (d, &b) in dst.iter_mut().zip(src) {
        *d = f32::from(b) * scale;
    }
}

/// A mini-batch gathered from byte rows ([`super::GatherRows`]): each row through
/// [`scale_bytes`], then the map by [`zero_byte_map`] when asked for. `#[inline(always)]` so
/// the SIMD families that have no fused pass compile the same two steps with their
/// instructions (the map pass passed in as `map`).
///
/// The lengths are checked (a mismatch panics), so the only contract left is `map`'s.
#[inline(always)]
pub fn gather_rows_then_map(g: &mut super::GatherRows, map: fn(&[&[u8]], usize, &mut [u64])) {
    g.check();
    let width = g.width;
    for (row, dst) in g.rows.iter().zip(g.dst.chunks_exact_mut(width.max(1))) {
        // SAFETY: the check above: `row` holds `width` bytes, `dst` `width` floats.
        unsafe { scale_bytes(row.as_ptr(), dst.as_mut_ptr(), width, g.scale) };
    }
    if let Some(out) = g.zero_map.as_deref_mut() {
        map(g.rows, width, out);
    }
}

/// The portable family's [`super::GatherRows`] pass (see [`gather_rows_then_map`]).
///
/// # Safety
/// None beyond the table line's (the lengths are checked); `unsafe` for the table's type.
pub unsafe fn gather_rows(g: &mut super::GatherRows) {
    gather_rows_then_map(g, zero_byte_map)
}

/// [`scale_bytes`] as a plain function pointer for the portable family's table line.
///
/// # Safety
/// As [`scale_bytes`].
pub unsafe fn scale_bytes_portable(src: *const u8, dst: *mut f32, n: usize, scale: f32) {
    // SAFETY: forwarded contract.
    unsafe { scale_bytes(src, dst, n, scale) }
}

/// The momentum update of one parameter buffer, for `i < n`: `v[i] <- fma(mu, v[i], g[i])`,
/// then `w[i] <- fma(decay, w[i], v[i])` (`g` is the step's `-(eta/m) * gradient`, `decay`
/// the weight decay factor, 1 for biases, where `fma(1, b, v) = b + v`). Each output is one
/// fused multiply-add of its inputs, so every family gives the same bits. `#[inline(always)]`
/// so the SIMD families compile the same loop with their instructions.
///
/// # Safety
/// `w`, `v` writable and `g` readable for `n` floats, no two overlapping.
#[inline(always)]
pub unsafe fn momentum(w: *mut f32, v: *mut f32, g: *const f32, n: usize, mu: f32, decay: f32) {
    // SAFETY: the caller guarantees the extents and that the three buffers are distinct.
    let (w, v, g) = unsafe {
        (
            std::slice::from_raw_parts_mut(w, n),
            std::slice::from_raw_parts_mut(v, n),
            std::slice::from_raw_parts(g, n),
        )
    };
    for ((w, v), &g) in w.iter_mut().zip(v.iter_mut()).zip(g) {
        *v = fma(mu, *v, g);
        *w = fma(decay, *w, *v);
    }
}

/// [`momentum`] as a plain function pointer for the portable family's table line.
///
/// # Safety
/// As [`momentum`].
pub unsafe fn momentum_portable(
    w: *mut f32,
    v: *mut f32,
    g: *const f32,
    n: usize,
    mu: f32,
    decay: f32,
) {
    // SAFETY: forwarded contract.
    unsafe { momentum(w, v, g, n, mu, decay) }
}

/// Bit `8j` of the result set when byte `j` of `w` (little-endian) is zero, every other bit
/// clear: exact for every byte value (no borrow between bytes, unlike `w - 0x01..01`).
fn zero_bytes(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // A byte's top bit here is set when its low seven bits are not all zero.
    let low = (w & LOW7).wrapping_add(LOW7);
    (!(low | w | LOW7) >> 7) & 0x0101_0101_0101_0101
}

/// Bits `8j` (`j < 8`) of `flags` gathered into bits `j` of one byte. Each flag, multiplied by
/// the constant's bit `56 - 7i`, lands alone on bit `56 + j - 7(i - j)`: those positions are
/// distinct for distinct `(i, j)`, so no two partial products meet and nothing carries; the ones
/// with `i = j` make bits 56..63.
fn gather_flags(flags: u64) -> u64 {
    flags.wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Bytes `lo..lo + 8` of `row` as a little-endian word, the bytes at or past `end` (at most
/// the row's length) set to 0xff: never a zero position.
fn byte_word(row: &[u8], lo: usize, end: usize) -> u64 {
    let live = end.saturating_sub(lo).min(8);
    let mut le = [0xffu8; 8];
    le[..live].copy_from_slice(&row[lo..lo + live]);
    u64::from_le_bytes(le)
}

/// The positions zero in every one of the byte `rows` (each `width` bytes long): bit `i % 64`
/// of `out[i / 64]` set when byte `i` is 0 in every row, every bit at or past `width` clear
/// (`out` holds `width.div_ceil(64)` words). With no rows, every position is zero. The
/// trainer's map of the pixel positions a batch leaves blank (`gemm::ZeroRowMap`).
///
/// The portable form: the rows are ORed eight bytes to a word, and each word's zero bytes
/// found with exact bit arithmetic ([`zero_bytes`], [`gather_flags`]). When the first two rows
/// share no zero position, no position is zero in all of them: the map is empty, and the other
/// rows are not read (dense input costs two rows, not ten).
///
/// Panics if a row's length is not `width` or `out`'s is not `width.div_ceil(64)`.
pub fn zero_byte_map(rows: &[&[u8]], width: usize, out: &mut [u64]) {
    assert!(
        out.len() == width.div_ceil(64) && rows.iter().all(|r| r.len() == width),
        "zero_byte_map: rows of {width} bytes into {} words",
        out.len()
    );
    out.fill(0);
    let words = (0..width).step_by(8);
    if let [first, second, ..] = rows {
        let shared = words
            .clone()
            .any(|lo| zero_bytes(byte_word(first, lo, width) | byte_word(second, lo, width)) != 0);
        if !shared {
            return;
        }
    }
    for lo in words {
        // Starting from the word of no rows: zero at the live positions, 0xff past the width.
        let live = (width - lo).min(8);
        let none = u64::MAX.checked_shl(8 * live as u32).unwrap_or(0);
        let any = rows
            .iter()
            .fold(none, |a, row| a | byte_word(row, lo, width));
        out[lo / 64] |= gather_flags(zero_bytes(any)) << (lo % 64);
    }
}

/// A layer's error rows with their bias sums and bias step ([`super::DeltaRows`]), one float
/// at a time: column by column, each column's sum from `+0` through the rows in order, the
/// reference every vector family matches bit for bit.
///
/// # Safety
/// `t` describes valid memory as [`super::DeltaRows`] says, its buffers distinct.
pub unsafe fn delta_rows(t: &super::DeltaRows) {
    for j in 0..t.cols {
        let mut sum = 0.0f32;
        for r in 0..t.rows {
            let at = r * t.stride + j;
            // SAFETY (every access): cell `j < cols` of row `r < rows` of its buffer, the
            // label of row `r`, or float `j < cols` of `sums` / `bias` (contract).
            unsafe {
                let v = match t.error {
                    super::ErrorOf::Output {
                        a,
                        labels,
                        times_deriv,
                    } => {
                        let mut v = *a.add(at);
                        if usize::from(*labels.add(r)) == j {
                            v -= 1.0;
                        }
                        if times_deriv {
                            v *= *t.deriv.add(at);
                        }
                        v
                    }
                    super::ErrorOf::Hidden => *t.delta.add(at) * *t.deriv.add(at),
                };
                *t.delta.add(at) = v;
                sum += v;
            }
        }
        // SAFETY: float `j < cols` of `sums` and of a non-null `bias` (contract).
        unsafe {
            *t.sums.add(j) = sum;
            if !t.bias.is_null() {
                *t.bias.add(j) -= t.bias_step * sum;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value alone and in every lane, against the byte-by-byte definition.
    #[test]
    fn zero_byte_flags_are_exact() {
        for v in 0..=255u8 {
            for lane in 0..8 {
                for fill in [0u8, 1, 0x80, 0xff, 0x7f] {
                    let mut bytes = [fill; 8];
                    bytes[lane] = v;
                    let want = bytes
                        .iter()
                        .enumerate()
                        .fold(0u64, |acc, (j, &b)| acc | (u64::from(b == 0) << j));
                    let got = gather_flags(zero_bytes(u64::from_le_bytes(bytes)));
                    assert_eq!(got, want, "bytes {bytes:?}");
                }
            }
        }
    }
}
