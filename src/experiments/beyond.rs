//! Part 6, beyond the book: each hidden layer's initial speed for 1 to N hidden layers under
//! every activation and initialisation of the sweep, and how fast it shrinks per layer.

use super::experiment::{Context, Experiment};
use super::plan::Settings;
use super::setup::{engine, FreshNet};
use super::speed::hidden_layer_speeds;
use crate::error::Result;
use crate::nn::{Activation, Init};
use crate::stats::quantile;
use serde::{Deserialize, Serialize};

/// The activation/initialisation sweep.
pub struct Beyond;

/// The activations and initialisations of the sweep.
pub const SWEEP_ACTS: [Activation; 3] = [Activation::Sigmoid, Activation::Tanh, Activation::Relu];
pub const SWEEP_INITS: [Init; 4] = [Init::Large, Init::Default, Init::Glorot, Init::He];

/// One configuration and seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub act: Activation,
    pub init: Init,
    pub depth: usize,
    pub seed: u64,
}

/// Its hidden layers' initial speeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Speeds {
    pub act: Activation,
    pub init: Init,
    pub depth: usize,
    pub seed: u64,
    pub speeds: Vec<f64>,
}

/// One configuration of the sweep.
#[derive(Serialize, Clone, Debug)]
pub struct SweepRow {
    pub activation: String,
    pub init: String,
    pub depth: usize,
    /// Median over seeds of each hidden layer's speed.
    pub median: Vec<f64>,
    /// Median over seeds of [`shrink_per_layer`].
    pub shrink_per_layer: f64,
}

/// How [`shrink_per_layer`] is defined, as the report prints it.
pub const SHRINK_DEFINITION: &str = "(last/first)^(1/(L-1))";

/// The factor by which the speed of learning shrinks per layer on the way from the last hidden
/// layer (nearest the output) to the first (nearest the input): [`SHRINK_DEFINITION`], the
/// geometric mean of the layer-to-layer ratios. Above 1 gradients vanish towards the input,
/// below 1 they explode, 1 is balanced; 1 for a single layer.
pub fn shrink_per_layer(speeds: &[f64]) -> f64 {
    match speeds {
        [] | [_] => 1.0,
        [first, .., last] => (last / first).powf(1.0 / (speeds.len() - 1) as f64),
    }
}

impl Experiment for Beyond {
    type Item = Config;
    type Output = Speeds;
    type Summary = Vec<SweepRow>;
    const NAME: &'static str = "beyond";

    fn items(&self, s: &Settings) -> Vec<Config> {
        let mut v = Vec::new();
        for act in SWEEP_ACTS {
            for init in SWEEP_INITS {
                for depth in 1..=s.sweep_max_depth {
                    v.extend(s.seeds(s.sweep_seeds).map(|seed| Config {
                        act,
                        init,
                        depth,
                        seed,
                    }));
                }
            }
        }
        v
    }

    fn seed(&self, item: &Config) -> u64 {
        item.seed
    }

    fn run(&self, c: &Config, ctx: &Context) -> Result<Speeds> {
        let m = ctx.settings.batch_images;
        let labels = &ctx.data.train.labels[..m];
        let net = FreshNet {
            hidden: c.depth,
            act: c.act,
            init: c.init,
            seed: c.seed,
        };
        let (net, mut ws, mut g) = net.build(ctx.data, m)?;
        Ok(Speeds {
            act: c.act,
            init: c.init,
            depth: c.depth,
            seed: c.seed,
            speeds: hidden_layer_speeds(&engine(), &net, &mut ws, m, labels, &mut g),
        })
    }

    fn summarise(&self, outputs: &[Speeds], _s: &Settings) -> Vec<SweepRow> {
        let position = |o: &Speeds| {
            (
                SWEEP_ACTS.iter().position(|x| *x == o.act).unwrap_or(0),
                SWEEP_INITS.iter().position(|x| *x == o.init).unwrap_or(0),
                o.depth,
            )
        };
        let mut sorted: Vec<&Speeds> = outputs.iter().collect();
        sorted.sort_by_key(|o| position(o));
        sorted
            .chunk_by(|a, b| position(a) == position(b))
            .map(|group| {
                let (o, depth) = (group[0], group[0].depth);
                SweepRow {
                    activation: o.act.name().into(),
                    init: o.init.name().into(),
                    depth,
                    median: (0..depth)
                        .map(|l| {
                            quantile(&group.iter().map(|r| r.speeds[l]).collect::<Vec<_>>(), 0.5)
                        })
                        .collect(),
                    shrink_per_layer: quantile(
                        &group
                            .iter()
                            .map(|r| shrink_per_layer(&r.speeds))
                            .collect::<Vec<_>>(),
                        0.5,
                    ),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition the report prints and the code agree: speeds growing by r per layer
    /// towards the output give a shrink of r, whichever way round the layers are listed.
    #[test]
    fn shrink_per_layer_is_last_over_first_per_layer() {
        for r in [0.5, 1.0, 2.0, 4.0] {
            let speeds: Vec<f64> = (0..5).map(|l| 0.01 * f64::powi(r, l)).collect();
            let got = shrink_per_layer(&speeds);
            assert!((got - r).abs() < 1e-12, "r {r}: got {got}");
        }
        assert_eq!(shrink_per_layer(&[0.3]), 1.0);
        assert_eq!(SHRINK_DEFINITION, "(last/first)^(1/(L-1))");
        // The book's 4-hidden speeds shrink about 4.5x per layer towards the input: vanishing.
        let book = shrink_per_layer(crate::book::INITIAL_SPEEDS[2]);
        assert!(book > 4.0 && book < 5.0, "{book}");
    }

    /// The summary uses the same function, over seeds, per configuration.
    #[test]
    fn summary_groups_the_sweep_and_takes_medians() {
        let mk = |seed: u64, f: f64| Speeds {
            act: Activation::Tanh,
            init: Init::He,
            depth: 3,
            seed,
            speeds: vec![1.0, f, f * f],
        };
        let rows = Beyond.summarise(&[mk(1, 2.0), mk(2, 3.0), mk(3, 10.0)], &Settings::quick(1));
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!((row.activation.as_str(), row.init.as_str()), ("tanh", "he"));
        assert!((row.shrink_per_layer - 3.0).abs() < 1e-12);
        assert_eq!(row.median, vec![1.0, 3.0, 9.0]);
    }
}
