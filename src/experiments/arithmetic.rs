//! Measurement 4: the arithmetic of unstable gradients, computed rather than quoted.

use crate::activation::ActivationKernels;
use crate::nn::rng::Normal;

/// Everything measurement 4 reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Arithmetic {
    /// sigma'(0) from our kernel (exactly 1/4).
    pub sigma_prime_at_0: f64,
    /// The largest sigma' found on a dense grid over [-10, 10] (the maximum is at 0).
    pub sigma_prime_max_on_grid: f64,
    /// One-neuron chains with N(0,1) weights and biases and a uniform input: per-layer factor
    /// |w sigma'(z)|, its quantiles, and the fraction below 1/4 and below 1.
    pub chain_samples: usize,
    pub chain_factor_median: f64,
    pub chain_factor_p90: f64,
    pub chain_factor_p99: f64,
    pub chain_fraction_below_quarter: f64,
    pub chain_fraction_below_one: f64,
    /// Median over chains of |dC/db_1| / |dC/db_4| (four neurons, three factors between them).
    pub chain_ratio_first_to_last_median: f64,
    /// Exploding chain: w = 100 everywhere, biases chosen so every z = 0.
    pub exploding_factor: f64,
    pub exploding_ratio_first_to_last: f64,
    /// The exercise: width of {a : |w sigma'(wa + b)| >= 1} by the formula and by a scan.
    pub exercise: Vec<ExercisePoint>,
    pub exercise_argmax_w: f64,
    pub exercise_max_width: f64,
}

/// One |w| of the exercise's width curve.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExercisePoint {
    pub w: f64,
    pub formula: f64,
    pub scan: f64,
}

/// exp and ln come from the `libm` crate (plain Rust, the same bits on every machine), not the
/// C library, so the published numbers do not depend on its version.
fn sigma(z: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-z))
}

fn sigma_prime(z: f64) -> f64 {
    let s = sigma(z);
    s * (1.0 - s)
}

/// The book's bound: `(2/|w|) ln(|w| (1 + sqrt(1 - 4/|w|)) / 2 - 1)` for |w| >= 4, else 0.
pub fn width_formula(w: f64) -> f64 {
    let w = w.abs();
    if w < 4.0 {
        return 0.0;
    }
    let inner = w * (1.0 + (1.0 - 4.0 / w).sqrt()) / 2.0 - 1.0;
    if inner <= 1.0 {
        0.0
    } else {
        2.0 / w * libm::log(inner)
    }
}

/// Width of `{a : |w sigma'(w a)| >= 1}` by scanning `a` with step `h` (b only shifts the set).
pub fn width_scan(w: f64, h: f64) -> f64 {
    let n = (4.0 / h) as i64;
    (-n..=n)
        .filter(|&i| (w * sigma_prime(w * i as f64 * h)).abs() >= 1.0)
        .count() as f64
        * h
}

/// Computes measurement 4 (deterministic for a seed).
pub fn compute(seed: u64, samples: usize) -> Arithmetic {
    let k = ActivationKernels::new();
    let mut d = [0.0f32];
    k.apply(crate::activation::ElementFn::SigmoidPrime, &[0.0], &mut d);
    let grid: Vec<f32> = (-10_000..=10_000).map(|i| i as f32 / 1000.0).collect();
    let mut dg = vec![0.0f32; grid.len()];
    k.apply(crate::activation::ElementFn::SigmoidPrime, &grid, &mut dg);
    let max = dg.iter().cloned().fold(0.0f32, f32::max);

    let mut rng = Normal::new(seed);
    let mut factors = Vec::with_capacity(samples * 3);
    let mut ratios = Vec::with_capacity(samples);
    for _ in 0..samples {
        // Input a0 uniform in [0, 1) from a normal sample's CDF (keeps one generator).
        let mut a = sigma(rng.sample() as f64 * 1.7);
        let mut chain = Vec::with_capacity(4);
        for _ in 0..4 {
            let (w, b) = (rng.sample() as f64, rng.sample() as f64);
            let z = w * a + b;
            chain.push((w, sigma_prime(z)));
            a = sigma(z);
        }
        // dC/db_1 / dC/db_4 = sigma'(z1) w2 * sigma'(z2) w3 * sigma'(z3) w4: three factors
        // |sigma'(z_j) w_{j+1}|, with chain[j] = (w_{j+1}, sigma'(z_{j+1})) 0-based.
        let mut ratio = 1.0;
        for j in 0..3 {
            let f = (chain[j + 1].0 * chain[j].1).abs();
            factors.push(f);
            ratio *= f;
        }
        ratios.push(ratio);
    }
    let q = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    let below = |v: &[f64], t: f64| v.iter().filter(|&&f| f < t).count() as f64 / v.len() as f64;

    // Exploding: w = 100, z = 0 everywhere: each factor is 100 * sigma'(0) = 25.
    let exploding_factor = crate::book::EXPLODING_W * sigma_prime(0.0);

    let mut exercise = Vec::new();
    let (mut best_w, mut best_width) = (0.0, 0.0);
    for i in 0..=1600 {
        let w = 4.0 + i as f64 * 0.005;
        let f = width_formula(w);
        if f > best_width {
            best_width = f;
            best_w = w;
        }
        if i % 40 == 0 {
            exercise.push(ExercisePoint {
                w,
                formula: f,
                scan: width_scan(w, 1e-4),
            });
        }
    }
    Arithmetic {
        sigma_prime_at_0: d[0] as f64,
        sigma_prime_max_on_grid: max as f64,
        chain_samples: samples,
        chain_factor_median: q(&mut factors, 0.5),
        chain_factor_p90: q(&mut factors, 0.9),
        chain_factor_p99: q(&mut factors, 0.99),
        chain_fraction_below_quarter: below(&factors, 0.25),
        chain_fraction_below_one: below(&factors, 1.0),
        chain_ratio_first_to_last_median: q(&mut ratios, 0.5),
        exploding_factor,
        exploding_ratio_first_to_last: exploding_factor.powi(3),
        exercise,
        exercise_argmax_w: best_w,
        exercise_max_width: best_width,
    }
}

/// Part 4 as an experiment: one item, [`compute`] with 100,000 chains.
pub struct UnstableGradients;

/// The one item: its seed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Chains {
    pub seed: u64,
}

impl super::experiment::Experiment for UnstableGradients {
    type Item = Chains;
    type Output = Arithmetic;
    type Summary = Option<Arithmetic>;
    const NAME: &'static str = "arithmetic";

    fn items(&self, s: &super::plan::Settings) -> Vec<Chains> {
        vec![Chains { seed: s.base_seed }]
    }

    fn seed(&self, item: &Chains) -> u64 {
        item.seed
    }

    fn run(
        &self,
        item: &Chains,
        _ctx: &super::experiment::Context,
    ) -> crate::error::Result<Arithmetic> {
        Ok(compute(item.seed, 100_000))
    }

    fn summarise(&self, outputs: &[Arithmetic], _s: &super::plan::Settings) -> Option<Arithmetic> {
        outputs.first().cloned()
    }
}
