//! What a caller may tell a product besides its operands ([`Hints`]): cache lines to ask for
//! meanwhile, and which rows or columns of A are all zero ([`ZeroRowMap`]), so that the rank-k
//! update skips those rows' sums (`kernels::rank_k`) and the sparse-depth forward those
//! columns' terms (`kernels::sparse_depth`); the bits are the same either way.
//!
//! The trainer's first-layer update `W^T <- decay*W^T - (eta/m) X^T delta` has A = `X^T`: a
//! row of A is one pixel position across the batch, and MNIST's digits leave a third or more of
//! the 784 positions zero in all ten images of a batch. The map is built from the bytes the
//! batch is gathered from, right after the gather has brought them into L1 (the activation
//! family's `zero_byte_map` kernel: on AVX2 one compare per 32 positions), because a search
//! inside the rank-k kernel would read `X` a second time (measured on Zen 5: +14.6 % on a
//! dense 784x10x30 update).

/// Extras for one product ([`super::Gemm::gemm_hinted`]).
#[derive(Clone, Copy, Default)]
pub(crate) struct Hints<'a> {
    /// Byte addresses of cache lines to ask for while the product runs (see
    /// [`super::Gemm::gemm_prefetching`]).
    pub prefetch: &'a [usize],
    /// The rows of A that are all zero, when the caller knows them from the data A holds.
    pub zero_rows_of_a: Option<&'a ZeroRowMap>,
    /// The columns of A (positions of the depth) that are all zero, likewise.
    pub zero_cols_of_a: Option<&'a ZeroRowMap>,
}

impl<'a> Hints<'a> {
    /// Only cache lines to ask for.
    pub fn lines(prefetch: &'a [usize]) -> Hints<'a> {
        Hints {
            prefetch,
            zero_rows_of_a: None,
            zero_cols_of_a: None,
        }
    }
}

/// Which of `rows` positions are zero in every one of a batch of byte rows: bit `i % 64` of
/// word `i / 64` set when byte `i` is 0 in every row (so the f32 row `byte * scale` is `+0`
/// there). Filled by the activation family's byte-map kernel
/// (`ActivationKernels::zero_byte_map`); reused from batch to batch without allocating.
#[derive(Clone, Debug, Default)]
pub(crate) struct ZeroRowMap {
    words: Vec<u64>,
    rows: usize,
}

impl ZeroRowMap {
    /// An empty map (no rows).
    pub fn new() -> ZeroRowMap {
        ZeroRowMap::default()
    }

    /// Makes this the map of `rows` positions, its `rows.div_ceil(64)` words (zeroed) written
    /// by `fill`: bit `i % 64` of word `i / 64` for position `i`, none at or past `rows`.
    pub fn fill(&mut self, rows: usize, fill: impl FnOnce(&mut [u64])) {
        self.rows = rows;
        self.words.clear();
        self.words.resize(rows.div_ceil(64), 0);
        fill(&mut self.words);
    }

    /// The map of the byte rows `rows` (each `width` bytes) by the portable kernel.
    #[cfg(test)]
    pub fn fill_from_bytes<'b>(&mut self, width: usize, rows: impl IntoIterator<Item = &'b [u8]>) {
        let rows: Vec<&[u8]> = rows.into_iter().collect();
        self.fill(width, |out| {
            crate::kernels::scalar::zero_byte_map(&rows, width, out)
        });
    }

    /// The positions the map covers (A's rows).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether any position is marked.
    pub fn marks_any(&self) -> bool {
        self.words.iter().any(|&w| w != 0)
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
                                zero_cols_of_a: None,
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

    /// A product told A's zero columns (the sparse-depth kernel) gives the contract's bits
    /// ([`reference_cell`]) on every family: 1 to 16 rows, depths around the map's 64-bit
    /// words, column counts of 1 to 8 lines, runs of zero columns of both signs (none, some,
    /// all), B with an infinity or a NaN in a skipped row (then nothing may be skipped) or a
    /// live one, C holding NaN (beta = 0: never read) and its padding never written.
    #[test]
    fn zero_column_maps_give_the_contract_bits() {
        let mut r = ChaCha8Rng::seed_from_u64(7);
        let (mut cases, mut skipped) = (0, 0);
        for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
            let g = Gemm::with_isa(isa).threads(1);
            for m in [1, 2, 5, 10, 12, 13, 16] {
                for k in [1, 7, 63, 64, 65, 130, 784] {
                    for n in [16, 32, 48, 112, 128] {
                        for special in [None, Some(f32::INFINITY), Some(f32::NAN)] {
                            let density = [0.0, 0.5, 1.0][r.random_range(0..3)];
                            let mut a: Vec<f32> =
                                (0..m * k).map(|_| r.random_range(-1.0..1.0)).collect();
                            let mut zero_col = vec![false; k];
                            let mut p = 0;
                            while p < k {
                                let run = r.random_range(1..20);
                                if r.random_bool(density) {
                                    for col in p..(p + run).min(k) {
                                        zero_col[col] = true;
                                        for i in 0..m {
                                            let z = if r.random_bool(0.5) { 0.0 } else { -0.0 };
                                            a[i * k + col] = z;
                                        }
                                    }
                                }
                                p += run;
                            }
                            let mut b: Vec<f32> =
                                (0..k * n).map(|_| r.random_range(-1.0..1.0)).collect();
                            if let Some(v) = special {
                                // In a skipped row when there is one, else anywhere.
                                let rows: Vec<usize> = (0..k).filter(|&p| zero_col[p]).collect();
                                let row = if rows.is_empty() || r.random_bool(0.3) {
                                    r.random_range(0..k)
                                } else {
                                    rows[r.random_range(0..rows.len())]
                                };
                                b[row * n + r.random_range(0..n)] = v;
                            }
                            let bytes: Vec<Vec<u8>> = (0..m)
                                .map(|i| (0..k).map(|p| u8::from(a[i * k + p] != 0.0)).collect())
                                .collect();
                            let mut map = ZeroRowMap::new();
                            map.fill_from_bytes(k, bytes.iter().map(|v| v.as_slice()));
                            skipped += (0..k).filter(|&p| map.is_zero(p)).count();
                            let rs = n + 16;
                            let mut c = vec![f32::NAN; m * rs];
                            let alpha = [1.0f32, -0.37][r.random_range(0..2)];
                            let hints = Hints {
                                zero_cols_of_a: Some(&map),
                                ..Hints::default()
                            };
                            g.gemm_hinted(
                                alpha,
                                MatRef::row_major(&a, m, k).unwrap(),
                                MatRef::row_major(&b, k, n).unwrap(),
                                0.0,
                                MatMut::new(&mut c, m, n, rs, 1).unwrap(),
                                &hints,
                            )
                            .unwrap();
                            for i in 0..m {
                                for j in 0..n {
                                    let terms = (0..k).map(|p| (a[i * k + p], b[p * n + j]));
                                    let want = reference_cell(alpha, terms, 0.0, f32::NAN);
                                    let got = c[i * rs + j];
                                    assert!(
                                        got.to_bits() == want.to_bits()
                                            || (got.is_nan() && want.is_nan()),
                                        "{isa:?} {m}x{k}x{n} B {special:?}: C[{i},{j}] = \
                                         {got:e}, the contract gives {want:e}"
                                    );
                                }
                                for j in n..rs {
                                    assert!(c[i * rs + j].is_nan(), "{isa:?} padding C[{i},{j}]");
                                }
                            }
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert!(
            skipped > 10_000,
            "the maps marked columns to skip ({skipped})"
        );
        println!("{cases} cases with zero-column maps, {skipped} zero columns");
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
            zero_cols_of_a: None,
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
        let hints = Hints {
            zero_cols_of_a: Some(&map),
            ..Hints::default()
        };
        let err = Gemm::new().gemm_hinted(
            1.0,
            MatRef::row_major(&d, 4, 2).unwrap(),
            MatRef::row_major(&x, 2, 8).unwrap(),
            0.0,
            MatMut::new(&mut w, 4, 8, 8, 1).unwrap(),
            &hints,
        );
        assert!(err.is_err(), "a 7-position map for a depth of 2");
    }
}
