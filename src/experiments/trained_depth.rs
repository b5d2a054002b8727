//! Part 8: accuracy against depth, with and without the remedies the chapter's last section
//! cites. Networks of 1 to N hidden layers of 30 train under four choices: the book's sigmoid
//! with its default initialisation, tanh with Glorot and Bengio's normalized initialisation,
//! ReLU with He's, and the book's sigmoid network with momentum (Sutskever et al.'s remedy,
//! at the setting that trained best in our issue-22 runs). Each run also measures its fresh
//! network's initial speed shrink per layer (the beyond part's measure), so the report can ask
//! whether a balanced start predicts the trained result.

use super::beyond::shrink_per_layer;
use super::experiment::{Context, Experiment};
use super::plan::Settings;
use super::setup::{engine, train_run, FreshNet};
use super::speed::hidden_layer_speeds;
use crate::data::Splits;
use crate::error::Result;
use crate::nn::train::{Momentum, MomentumSchedule, TrainConfig};
use crate::nn::{Activation, Init};
use crate::stats::quantile;
use serde::{Deserialize, Serialize};

/// The part.
pub struct TrainedDepth;

/// One training choice.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub act: Activation,
    pub init: Init,
    /// Momentum coefficient (0: plain SGD).
    pub mu: f32,
    pub eta: f32,
}

impl Choice {
    /// How the report names it.
    pub fn name(&self) -> String {
        let base = format!("{} / {}", self.act.name(), self.init.name());
        if self.mu > 0.0 {
            format!("{base} + momentum {}", self.mu)
        } else {
            base
        }
    }
}

/// The four choices, in the report's order. Plain SGD runs at eta 0.1 for all three
/// activations (one rate, not one tuned per choice); momentum 0.9 at eta 0.03 was the best
/// momentum setting for the 4-hidden-layer sigmoid network in issue 22's runs.
pub const CHOICES: [Choice; 4] = [
    Choice {
        act: Activation::Sigmoid,
        init: Init::Default,
        mu: 0.0,
        eta: 0.1,
    },
    Choice {
        act: Activation::Tanh,
        init: Init::Normalized,
        mu: 0.0,
        eta: 0.1,
    },
    Choice {
        act: Activation::Relu,
        init: Init::He,
        mu: 0.0,
        eta: 0.1,
    },
    Choice {
        act: Activation::Sigmoid,
        init: Init::Default,
        mu: 0.9,
        eta: 0.03,
    },
];

/// Hidden layer width (the book's).
pub const WIDTH: usize = crate::book::HIDDEN_WIDTH;
/// Validation images the accuracies are measured on.
pub const VALIDATION_IMAGES: usize = 2_000;

/// One run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub choice: usize,
    pub depth: usize,
    pub seed: u64,
}

/// What one run gives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trained {
    pub choice: usize,
    pub depth: usize,
    pub seed: u64,
    /// Validation accuracy (fraction) after each epoch.
    pub validation: Vec<f64>,
    /// The fresh network's initial speed shrink per layer ([`shrink_per_layer`]).
    pub initial_shrink: f64,
}

/// One choice at one depth, over seeds.
#[derive(Serialize, Clone, Debug)]
pub struct DepthRow {
    pub choice: String,
    pub depth: usize,
    pub seeds: usize,
    /// Final validation accuracy, percent: median, lowest and highest over seeds.
    pub final_median: f64,
    pub final_min: f64,
    pub final_max: f64,
    /// Best validation accuracy over the epochs, percent, median over seeds.
    pub best_median: f64,
    /// Median over seeds of the fresh network's shrink per layer.
    pub initial_shrink: f64,
}

/// The training configuration of a run.
pub fn config(c: &Choice, depth: usize, seed: u64, epochs: usize, images: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        eta: c.eta,
        // The book's per-example L2 strength (5.0 over 50,000 images).
        lambda: crate::book::LAMBDA * images as f32 / crate::data::mnist::TRAIN_ITEMS as f32,
        init: c.init,
        hidden: c.act,
        seed,
        momentum: if c.mu > 0.0 {
            Momentum {
                mu: c.mu,
                schedule: MomentumSchedule::Constant,
            }
        } else {
            Momentum::OFF
        },
        ..TrainConfig::book(&crate::book::mnist_layers(depth, WIDTH))
    }
}

impl Experiment for TrainedDepth {
    type Item = Run;
    type Output = Trained;
    type Summary = Vec<DepthRow>;
    const NAME: &'static str = "trained-depth";

    fn items(&self, s: &Settings) -> Vec<Run> {
        let mut v = Vec::new();
        for choice in 0..CHOICES.len() {
            for depth in 1..=s.sweep_max_depth {
                v.extend(s.seeds(s.depth_seeds).map(|seed| Run {
                    choice,
                    depth,
                    seed,
                }));
            }
        }
        v
    }

    fn seed(&self, item: &Run) -> u64 {
        item.seed
    }

    fn cost(&self, item: &Run, s: &Settings) -> f64 {
        // ~40 per 50,000-image epoch of [784,30,10]; deeper nets cost a little more.
        (s.depth_epochs * s.depth_images) as f64 / 50_000.0
            * 40.0
            * (1.0 + 0.05 * item.depth as f64)
    }

    fn run(&self, item: &Run, ctx: &Context) -> Result<Trained> {
        let c = CHOICES
            .get(item.choice)
            .ok_or_else(|| crate::error::Error::Invalid {
                what: "trained-depth item",
                problem: format!("no choice {}", item.choice),
            })?;
        let s = ctx.settings;
        let m = s.batch_images;
        let fresh = FreshNet {
            hidden: item.depth,
            act: c.act,
            init: c.init,
            seed: item.seed,
        };
        let e = engine();
        let (net, mut ws, mut g) = fresh.build(ctx.data, m)?;
        let speeds = hidden_layer_speeds(&e, &net, &mut ws, m, &ctx.data.train.labels[..m], &mut g);
        let data = Splits {
            train: ctx.data.train.head(s.depth_images),
            validation: ctx.data.validation.head(VALIDATION_IMAGES),
            test: ctx.data.test.head(0),
        };
        let cfg = config(c, item.depth, item.seed, s.depth_epochs, data.train.len());
        let (validation, _) = train_run(&cfg, &data, &e)?;
        Ok(Trained {
            choice: item.choice,
            depth: item.depth,
            seed: item.seed,
            validation,
            initial_shrink: shrink_per_layer(&speeds),
        })
    }

    fn summarise(&self, outputs: &[Trained], _s: &Settings) -> Vec<DepthRow> {
        let mut sorted: Vec<&Trained> = outputs.iter().collect();
        sorted.sort_by_key(|o| (o.choice, o.depth, o.seed));
        sorted
            .chunk_by(|a, b| (a.choice, a.depth) == (b.choice, b.depth))
            .map(|group| {
                let finals: Vec<f64> = group
                    .iter()
                    .map(|r| 100.0 * r.validation.last().copied().unwrap_or(0.0))
                    .collect();
                let bests: Vec<f64> = group
                    .iter()
                    .map(|r| 100.0 * r.validation.iter().copied().fold(0.0, f64::max))
                    .collect();
                let shrinks: Vec<f64> = group.iter().map(|r| r.initial_shrink).collect();
                DepthRow {
                    choice: CHOICES
                        .get(group[0].choice)
                        .map_or("?".into(), |c| c.name()),
                    depth: group[0].depth,
                    seeds: group.len(),
                    final_median: quantile(&finals, 0.5),
                    final_min: quantile(&finals, 0.0),
                    final_max: quantile(&finals, 1.0),
                    best_median: quantile(&bests, 0.5),
                    initial_shrink: quantile(&shrinks, 0.5),
                }
            })
            .collect()
    }

    fn headlines(&self, rows: &Vec<DepthRow>) -> Vec<String> {
        let deepest = rows.iter().map(|r| r.depth).max().unwrap_or(0);
        rows.iter()
            .filter(|r| r.depth == 1 || r.depth == deepest)
            .map(|r| {
                format!(
                    "trained depth, {} at {} hidden: final median {:.2} % ({:.2}-{:.2}), initial shrink {:.2}",
                    r.choice, r.depth, r.final_median, r.final_min, r.final_max, r.initial_shrink
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_follow_the_choices() {
        let c = config(&CHOICES[3], 4, 9, 3, 10_000);
        assert_eq!(c.layers, vec![784, 30, 30, 30, 30, 10]);
        assert_eq!(
            (c.hidden, c.init, c.eta),
            (Activation::Sigmoid, Init::Default, 0.03)
        );
        assert_eq!(c.momentum.mu, 0.9);
        assert!((c.lambda - 1.0).abs() < 1e-6, "lambda {}", c.lambda);
        assert!(config(&CHOICES[1], 2, 1, 1, 10_000).momentum.is_off());
        assert_eq!(CHOICES[3].name(), "sigmoid / default + momentum 0.9");
    }
}
