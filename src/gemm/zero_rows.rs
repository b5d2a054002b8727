//! What a caller may tell a product besides its operands ([`Hints`]): cache lines to ask for
//! meanwhile, and which rows of A are all zero ([`ZeroRowMap`]), so that the rank-k update
//! skips their sums (`kernels::rank_k`; the bits are the same either way).
//!
//! The trainer's first-layer update `W^T <- decay*W^T - (eta/m) X^T delta` has A = `X^T`: a
//! row of A is one pixel position across the batch, and MNIST's digits leave a third or more of
//! the 784 positions zero in all ten images of a batch. The map is built from the bytes the
//! batch is gathered from, in the pass that reads them anyway, because a search inside the
//! kernel would read `X` a second time (measured on Zen 5: +14.6 % on a dense 784x10x30 update).

/// Extras for one product ([`super::Gemm::gemm_hinted`]).
#[derive(Clone, Copy, Default)]
pub(crate) struct Hints<'a> {
    /// Byte addresses of cache lines to ask for while the product runs (see
    /// [`super::Gemm::gemm_prefetching`]).
    pub prefetch: &'a [usize],
    /// The rows of A that are all zero, when the caller knows them from the data A holds.
    pub zero_rows_of_a: Option<&'a ZeroRowMap>,
}

impl<'a> Hints<'a> {
    /// Only cache lines to ask for.
    pub fn lines(prefetch: &'a [usize]) -> Hints<'a> {
        Hints {
            prefetch,
            zero_rows_of_a: None,
        }
    }
}

/// Which of `rows` positions are zero in every one of a batch of byte rows: bit `i % 64` of
/// word `i / 64` set when byte `i` is 0 in every row (so the f32 row `byte * scale` is `+0`
/// there). Reused from batch to batch without allocating.
#[derive(Clone, Debug, Default)]
pub(crate) struct ZeroRowMap {
    words: Vec<u64>,
    /// The OR of the batch's byte rows, eight to a word, kept to reuse its allocation.
    any: Vec<u64>,
    rows: usize,
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

impl ZeroRowMap {
    /// An empty map (no rows).
    pub fn new() -> ZeroRowMap {
        ZeroRowMap::default()
    }

    /// The map of `width` positions over the byte rows `rows` (each `width` bytes): a position
    /// is a zero row when its byte is 0 in every one of them. With no rows at all, every
    /// position is zero.
    pub fn fill_from_bytes<'b>(&mut self, width: usize, rows: impl IntoIterator<Item = &'b [u8]>) {
        self.rows = width;
        // The OR of the rows, eight bytes to a word (little-endian: byte j of a word is
        // position 8w + j), so the whole pass is word loads and ORs. (ORing each word across
        // the rows in a register instead, word by word, measured slower: a bounds check per
        // row and word.)
        self.any.clear();
        self.any.resize(width.div_ceil(8), 0);
        self.words.clear();
        self.words.resize(width.div_ceil(64), 0);
        // The bytes of the last word past the width start as 0xff: never a zero position.
        if !width.is_multiple_of(8) {
            *self.any.last_mut().expect("a word for the tail") = u64::MAX << (8 * (width % 8));
        }
        for (r, row) in rows.into_iter().enumerate() {
            assert_eq!(row.len(), width, "every byte row has the map's width");
            let whole = row.chunks_exact(8);
            let tail = whole.remainder();
            for (a, eight) in self.any.iter_mut().zip(whole) {
                *a |= u64::from_le_bytes(eight.try_into().expect("eight bytes"));
            }
            if !tail.is_empty() {
                let mut le = [0u8; 8];
                le[..tail.len()].copy_from_slice(tail);
                *self.any.last_mut().expect("a word for the tail") |= u64::from_le_bytes(le);
            }
            // Dense rows (no position zero in both of the first two) leave nothing to find:
            // the map stays empty, and the other rows need not be read.
            if r == 1 && self.any.iter().all(|&a| zero_bytes(a) == 0) {
                return;
            }
        }
        for (word, eights) in self.words.iter_mut().zip(self.any.chunks(8)) {
            *word = eights.iter().enumerate().fold(0, |bits, (e, &a)| {
                bits | gather_flags(zero_bytes(a)) << (8 * e)
            });
        }
    }

    /// The positions the map covers (A's rows).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The words, `rows.div_ceil(64)` of them, for the kernel.
    pub fn as_ptr(&self) -> *const u64 {
        self.words.as_ptr()
    }

    /// Whether position `i` is a zero row.
    #[cfg(test)]
    pub fn is_zero(&self, i: usize) -> bool {
        i < self.rows && self.words[i / 64] >> (i % 64) & 1 == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::{reference_cell, Gemm, MatMut, MatRef};
    use crate::isa::Isa;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

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

    /// The map over random sparse byte rows, at widths around word and byte-group edges,
    /// against the definition.
    #[test]
    fn map_marks_exactly_the_positions_zero_in_every_row() {
        let mut r = ChaCha8Rng::seed_from_u64(3);
        let mut map = ZeroRowMap::new();
        for width in [1, 7, 8, 9, 63, 64, 65, 130, 784] {
            // Sparse rows, and nearly dense ones (a zero in one byte of fifty: the first two
            // rows then rarely share one, and the map stops reading early).
            let cases = [0, 1, 3, 10, 16, 17, 40].map(|n| (n, false));
            for (nrows, dense) in cases.into_iter().chain([(2, true), (3, true), (10, true)]) {
                let rows: Vec<Vec<u8>> = (0..nrows)
                    .map(|_| {
                        (0..width)
                            .map(|_| {
                                if dense {
                                    if r.random_bool(0.02) {
                                        0
                                    } else {
                                        r.random_range(1..=255u8)
                                    }
                                } else if r.random_bool(0.7) {
                                    0
                                } else {
                                    r.random()
                                }
                            })
                            .collect()
                    })
                    .collect();
                map.fill_from_bytes(width, rows.iter().map(|v| v.as_slice()));
                assert_eq!(map.rows(), width);
                for i in 0..width {
                    let want = rows.iter().all(|row| row[i] == 0);
                    assert_eq!(
                        map.is_zero(i),
                        want,
                        "width {width}, {nrows} rows, position {i}"
                    );
                }
                assert!(!map.is_zero(width), "no position past the width");
            }
        }
    }

    /// A product told A's zero rows gives the contract's bits ([`reference_cell`]), as without
    /// the map, on every family: updates of 1 to 16 rows of X with runs of zero rows that
    /// start and end anywhere (zeros of both signs), widths around every chunk, beta 0 (C
    /// holds NaN) and not, and D with an infinity or a NaN (`0 * inf` is NaN, so such a
    /// product must not skip).
    #[test]
    fn zero_row_maps_give_the_contract_bits() {
        let mut r = ChaCha8Rng::seed_from_u64(5);
        let mut cases = 0;
        let mut skipped_rows = 0;
        for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
            let g = Gemm::with_isa(isa).threads(1);
            for k in [1, 2, 3, 10, 16] {
                for (m, n) in [
                    (5, 7),
                    (64, 30),
                    (130, 16),
                    (300, 33),
                    (784, 30),
                    (200, 113),
                ] {
                    for special in [None, Some(f32::INFINITY), Some(f32::NAN)] {
                        for beta in [0.0f32, 0.9999] {
                            // X: k x m, with runs of columns zero in every row.
                            let mut x: Vec<f32> =
                                (0..k * m).map(|_| r.random_range(-1.0..1.0)).collect();
                            let mut bytes = vec![vec![1u8; m]; k];
                            let mut i = 0;
                            while i < m {
                                let run = r.random_range(1..12);
                                if r.random_bool(0.5) {
                                    for col in i..(i + run).min(m) {
                                        for p in 0..k {
                                            let z = if r.random_bool(0.5) { 0.0 } else { -0.0 };
                                            x[p * m + col] = z;
                                            bytes[p][col] = 0;
                                        }
                                    }
                                }
                                i += run;
                            }
                            let mut d: Vec<f32> =
                                (0..k * n).map(|_| r.random_range(-1.0..1.0)).collect();
                            if let Some(v) = special {
                                d[r.random_range(0..k * n)] = v;
                            }
                            let rs = n.div_ceil(16) * 16;
                            let w0: Vec<f32> = (0..m * rs)
                                .map(|_| {
                                    if beta == 0.0 {
                                        f32::NAN
                                    } else {
                                        r.random_range(-1.0..1.0)
                                    }
                                })
                                .collect();
                            let mut map = ZeroRowMap::new();
                            map.fill_from_bytes(m, bytes.iter().map(|v| v.as_slice()));
                            skipped_rows += (0..m).filter(|&i| map.is_zero(i)).count();
                            let (alpha, xv, dv) = (
                                -0.01,
                                MatRef::row_major(&x, k, m).unwrap().t(),
                                MatRef::row_major(&d, k, n).unwrap(),
                            );
                            let mut hinted = w0.clone();
                            let hints = Hints {
                                prefetch: &[],
                                zero_rows_of_a: Some(&map),
                            };
                            let cv = MatMut::new(&mut hinted, m, n, rs, 1).unwrap();
                            g.gemm_hinted(alpha, xv, dv, beta, cv, &hints).unwrap();
                            for i in 0..m {
                                for j in 0..n {
                                    let terms = (0..k).map(|p| (x[p * m + i], d[p * n + j]));
                                    let want = reference_cell(alpha, terms, beta, w0[i * rs + j]);
                                    let got = hinted[i * rs + j];
                                    assert!(
                                        got.to_bits() == want.to_bits()
                                            || (got.is_nan() && want.is_nan()),
                                        "{isa:?} k {k} {m}x{n} beta {beta} D {special:?}: \
                                         W[{i},{j}] = {got:e}, the contract gives {want:e}"
                                    );
                                }
                                // The padding past n is never written.
                                for j in n..rs {
                                    assert_eq!(
                                        hinted[i * rs + j].to_bits(),
                                        w0[i * rs + j].to_bits(),
                                        "{isa:?} padding W[{i},{j}]"
                                    );
                                }
                            }
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert!(
            skipped_rows > 1000,
            "the maps marked rows to skip ({skipped_rows})"
        );
        println!("{cases} cases with zero-row maps, {skipped_rows} zero rows");
    }

    /// A map of another height than A's is refused.
    #[test]
    fn a_map_of_another_height_is_an_error() {
        let x = vec![0.0f32; 2 * 8];
        let d = vec![1.0f32; 2 * 4];
        let mut w = vec![0.0f32; 8 * 4];
        let mut map = ZeroRowMap::new();
        map.fill_from_bytes(7, std::iter::empty());
        let hints = Hints {
            prefetch: &[],
            zero_rows_of_a: Some(&map),
        };
        let err = Gemm::new().gemm_hinted(
            1.0,
            MatRef::row_major(&x, 2, 8).unwrap().t(),
            MatRef::row_major(&d, 2, 4).unwrap(),
            0.0,
            MatMut::new(&mut w, 8, 4, 4, 1).unwrap(),
            &hints,
        );
        assert!(err.is_err(), "a 7-row map for 8 rows of A");
    }
}
