//! Order statistics shared by the report, the benches and the perf gate.

/// Quantile `p` (0..=1) of `v` by nearest rank on the sorted values; NaN for an empty slice.
/// Nearest rank, not interpolation, so every reported quantile is a value that occurred.
///
/// The rank is found by selection, not a full sort (linear time: the saturation part asks
/// for two quantiles of 150,000 activations every epoch, and sorting them was 1.3 % of a
/// full `reproduce`). `total_cmp` is a total order in which only identical bits compare
/// equal, so the value at a rank is the sort's, bit for bit.
pub fn quantile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    let rank = ((s.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize;
    *s.select_nth_unstable_by(rank, |a, b| a.total_cmp(b)).1
}

/// The median (mean of the two middle values for an even count); NaN for an empty slice.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Percentile rank of `x` among `v`: the share of values below it plus half the share equal to
/// it, in percent (50 when `x` is the median of a symmetric sample).
pub fn percentile_rank(v: &[f64], x: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let below = v.iter().filter(|&&y| y < x).count() as f64;
    let equal = v.iter().filter(|&&y| y == x).count() as f64;
    100.0 * (below + 0.5 * equal) / v.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let v = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert_eq!(quantile(&v, 0.1), 1.0); // rank 0.4 rounds to the first
        assert_eq!(median(&v), 3.0);
        assert_eq!(median(&[1.0, 2.0, 3.0, 10.0]), 2.5);
        assert!(median(&[]).is_nan() && quantile(&[], 0.5).is_nan());
        assert_eq!(percentile_rank(&v, 3.0), 50.0);
        assert_eq!(percentile_rank(&v, 0.0), 0.0);
        assert_eq!(percentile_rank(&v, 9.0), 100.0);
        assert_eq!(percentile_rank(&v, 4.5), 80.0);
    }

    /// The selected rank is the sorted slice's value, bit for bit, on samples with ties,
    /// zeros of both signs, infinities and NaN, at every rank of small samples.
    #[test]
    fn quantile_is_the_sorted_value_at_the_rank() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let specials = [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1.0];
        for len in (1..40).chain([1000, 4097]) {
            let v: Vec<f64> = (0..len)
                .map(|_| match next() % 4 {
                    0 => specials[(next() % 6) as usize],
                    1 => (next() % 5) as f64,
                    _ => (next() % 1_000_000) as f64 / 7.0 - 70_000.0,
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_by(|a, b| a.total_cmp(b));
            for k in 0..=20 {
                let p = k as f64 / 20.0;
                let rank = ((len - 1) as f64 * p).round() as usize;
                assert_eq!(
                    quantile(&v, p).to_bits(),
                    sorted[rank].to_bits(),
                    "len {len} p {p}"
                );
            }
        }
    }
}
