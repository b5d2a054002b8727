//! Section 4: the arithmetic of unstable gradients, as a list and the exercise's table.

use super::{json_file, Section, SummaryOf};
use crate::book;
use crate::error::Result;
use crate::experiments::arithmetic::UnstableGradients;
use crate::experiments::run::Meta;
use std::fmt::Write as _;

/// The section of [`UnstableGradients`].
pub struct ArithmeticSection;

impl Section for ArithmeticSection {
    type Part = UnstableGradients;
    const PART: UnstableGradients = UnstableGradients;

    fn files(&self, summary: &SummaryOf<Self>) -> Result<Vec<(String, String)>> {
        summary
            .iter()
            .map(|a| json_file("arithmetic.json", a))
            .collect()
    }

    fn markdown(&self, summary: &SummaryOf<Self>, _meta: &Meta) -> String {
        let mut md = String::new();
        let Some(a) = summary else {
            return md;
        };
        let book_factor = book::EXPLODING_W * 0.25;
        let _ = writeln!(md, "## 4. The arithmetic of unstable gradients\n");
        let _ = writeln!(md, "- sigma'(0) from our kernel: {} (= 1/4); the largest sigma' on a grid over [-10, 10]: {} (the maximum is at 0).", a.sigma_prime_at_0, a.sigma_prime_max_on_grid);
        let _ = writeln!(md, "- One-neuron chains, weights and biases N(0, 1), {} chains: the per-layer factor |w sigma'(z)| has median {:.4}, 90th percentile {:.4}, 99th {:.4}; {:.1} % of factors are below 1/4 and {:.2} % below 1. The median ratio |dC/db_1| / |dC/db_4| is {:.2e}: gradients vanish.", a.chain_samples, a.chain_factor_median, a.chain_factor_p90, a.chain_factor_p99, 100.0 * a.chain_fraction_below_quarter, 100.0 * a.chain_fraction_below_one, a.chain_ratio_first_to_last_median);
        let _ = writeln!(md, "- Exploding: w = {}, biases chosen so every z = 0: each factor w sigma'(0) = {}, and dC/db_1 = {} x dC/db_4 (book: {} and {}).", book::EXPLODING_W, a.exploding_factor, a.exploding_ratio_first_to_last, book_factor, book_factor.powi(3));
        let _ = writeln!(md, "- The exercise: the width of {{a : |w sigma'(wa + b)| >= 1}} is largest at |w| = {:.3}, width {:.4} (book: {} and {}). Formula against a brute-force scan (step 1e-4):\n", a.exercise_argmax_w, a.exercise_max_width, book::EXERCISE_W, book::EXERCISE_WIDTH);
        let _ = writeln!(md, "| |w| | formula | scan |\n|---|---|---|");
        for p in a.exercise.iter().step_by(4) {
            let _ = writeln!(md, "| {:.2} | {:.5} | {:.5} |", p.w, p.formula, p.scan);
        }
        let _ = writeln!(&mut md);
        md
    }
}
