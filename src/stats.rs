//! Order statistics shared by the report, the benches and the perf gate.

/// Quantile `p` (0..=1) of `v` by nearest rank on the sorted values; NaN for an empty slice.
/// Nearest rank, not interpolation, so every reported quantile is a value that occurred.
pub fn quantile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((s.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize]
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
}
