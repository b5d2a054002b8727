//! Part 7, the chapter's "other obstacles": Glorot and Bengio's (2010) saturation question
//! (their Figure 2) on MNIST. A deep network with their "standard" initialisation trains with
//! sigmoid, tanh or softsign hidden units; after every epoch (and before the first) each
//! hidden layer's activations over a fixed set of validation images are summarised by their
//! mean and their 2nd and 98th percentiles. Does the top hidden layer of the sigmoid network
//! saturate near 0 early on, and for how long?

use super::experiment::{Context, Experiment};
use super::plan::Settings;
use super::setup::engine;
use crate::data::Splits;
use crate::error::Result;
use crate::nn::batched::{Engine, Workspace};
use crate::nn::train::{self, TrainConfig};
use crate::nn::{Activation, Init, Network};
use serde::{Deserialize, Serialize};

/// The part.
pub struct Saturation;

/// The activations compared, in the report's order (Glorot and Bengio's three).
pub const ACTIVATIONS: [Activation; 3] =
    [Activation::Sigmoid, Activation::Tanh, Activation::Softsign];

/// Hidden layers and their width. Glorot and Bengio used four hidden layers (of 1,000 units,
/// on 32x32 images); four of 100 keeps the part within seconds on MNIST.
pub const HIDDEN: usize = 4;
pub const WIDTH: usize = 100;
/// Validation images the per-epoch accuracy is measured on.
pub const VALIDATION_IMAGES: usize = 2_000;
/// The fixed inputs the activation statistics are taken over (their paper: 300 test images).
pub const PROBE_IMAGES: usize = 300;
/// Learning rate for every activation: one for all three, not a tuned one each (0.1 trains
/// tanh and softsign stably here). The L2 strength is the book's per example (5.0 over 50,000
/// images: 0.5 over the full run's 5,000, `Settings::saturation_images`, the first of the
/// training split: short epochs, so the statistics follow training every 500 updates).
pub const ETA: f32 = 0.1;
/// Percentiles of the band.
pub const LOW_PERCENTILE: f64 = 0.02;
pub const HIGH_PERCENTILE: f64 = 0.98;

/// One training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub activation: Activation,
    pub seed: u64,
}

/// One hidden layer's activations over the probe images.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

/// The statistics of every hidden layer after `epoch` epochs (0: the fresh network), and the
/// validation accuracy then (None before training).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub epoch: usize,
    pub updates: usize,
    pub validation_accuracy: Option<f64>,
    pub layers: Vec<LayerStats>,
}

/// What one run gives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    pub activation: Activation,
    pub seed: u64,
    pub checkpoints: Vec<Checkpoint>,
}

/// One activation's trajectories (one per seed) and what they show about the top hidden layer.
#[derive(Serialize, Clone, Debug)]
pub struct ActivationSummary {
    pub activation: String,
    pub seeds: Vec<u64>,
    /// Per checkpoint, per hidden layer: the median over seeds of the mean and of each
    /// percentile.
    pub median: Vec<Checkpoint>,
    pub top_layer: TopLayer,
}

/// The top hidden layer's course in the median trajectory.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct TopLayer {
    /// Its mean before training.
    pub initial_mean: f64,
    /// The lowest mean it reaches, and after how many epochs.
    pub min_mean: f64,
    pub min_epoch: usize,
    /// Epochs (checkpoints after training began) at which its 98th percentile is below
    /// [`NEAR_ZERO`]: nearly every unit nearly off.
    pub saturated_epochs: usize,
    /// The first epoch after which its mean is below [`NEAR_ZERO`], if any.
    pub first_mean_below: Option<usize>,
    /// Its mean and 2nd-98th percentiles at the end.
    pub final_mean: f64,
    pub final_low: f64,
    pub final_high: f64,
    pub final_validation_accuracy: Option<f64>,
}

/// An activation "near 0" for the saturation count: sigmoid units at 0 pass almost no signal
/// and almost no gradient on (sigma'(z) ~ sigma(z) there).
pub const NEAR_ZERO: f64 = 0.1;

/// The training configuration of a run.
pub fn config(act: Activation, seed: u64, epochs: usize, images: usize) -> TrainConfig {
    let layers = crate::book::mnist_layers(HIDDEN, WIDTH);
    TrainConfig {
        epochs,
        eta: ETA,
        lambda: lambda(images),
        init: Init::Standard,
        hidden: act,
        seed,
        ..TrainConfig::book(&layers)
    }
}

/// The book's per-example L2 strength over `images` training images.
pub fn lambda(images: usize) -> f32 {
    crate::book::LAMBDA * images as f32 / crate::data::mnist::TRAIN_ITEMS as f32
}

/// Mean and percentiles of every hidden layer of `net` over `probe` (already in `ws.x`).
fn stats(engine: &Engine, net: &Network, ws: &mut Workspace, probe: usize) -> Vec<LayerStats> {
    engine.forward(net, ws, probe);
    let hidden = net.sizes.len() - 2;
    (0..hidden)
        .map(|l| {
            let width = net.sizes[l + 1];
            let v: Vec<f64> = ws.a[l][..probe * width].iter().map(|&x| x as f64).collect();
            LayerStats {
                mean: v.iter().sum::<f64>() / v.len() as f64,
                low: crate::stats::quantile(&v, LOW_PERCENTILE),
                high: crate::stats::quantile(&v, HIGH_PERCENTILE),
            }
        })
        .collect()
}

/// The subset a run trains and validates on.
fn subset(data: &Splits, images: usize) -> Splits {
    Splits {
        train: data.train.head(images),
        validation: data.validation.head(VALIDATION_IMAGES),
        test: data.test.head(0),
    }
}

impl Experiment for Saturation {
    type Item = Run;
    type Output = Trajectory;
    type Summary = Vec<ActivationSummary>;
    const NAME: &'static str = "saturation";

    fn items(&self, s: &Settings) -> Vec<Run> {
        ACTIVATIONS
            .iter()
            .flat_map(|&activation| {
                s.seeds(s.saturation_seeds)
                    .map(move |seed| Run { activation, seed })
            })
            .collect()
    }

    fn seed(&self, item: &Run) -> u64 {
        item.seed
    }

    fn cost(&self, _item: &Run, s: &Settings) -> f64 {
        // An epoch: 500 steps of a net about 1.4x [784,100,10], plus the evaluations.
        (s.saturation_epochs * s.saturation_images) as f64 / 5_000.0 * 4.0
    }

    fn run(&self, item: &Run, ctx: &Context) -> Result<Trajectory> {
        let data = subset(ctx.data, ctx.settings.saturation_images);
        let cfg = config(
            item.activation,
            item.seed,
            ctx.settings.saturation_epochs,
            data.train.len(),
        );
        let e = engine();
        let probe = PROBE_IMAGES.min(ctx.data.validation.len());
        let fresh = Network::new(&cfg.layers, cfg.hidden, cfg.init, cfg.seed)?;
        let mut ws = Workspace::new(&fresh, probe.max(1));
        ctx.data.validation.images_into(0..probe, &mut ws.x);
        let mut checkpoints = vec![Checkpoint {
            epoch: 0,
            updates: 0,
            validation_accuracy: None,
            layers: stats(&e, &fresh, &mut ws, probe),
        }];
        let steps_per_epoch = data.train.len().div_ceil(cfg.batch);
        train::train_observed(
            &cfg,
            &data,
            &e,
            || {},
            |record, net| {
                checkpoints.push(Checkpoint {
                    epoch: record.epoch,
                    updates: record.epoch * steps_per_epoch,
                    validation_accuracy: Some(record.validation_accuracy),
                    layers: stats(&e, net, &mut ws, probe),
                });
            },
        )?;
        Ok(Trajectory {
            activation: item.activation,
            seed: item.seed,
            checkpoints,
        })
    }

    fn summarise(&self, outputs: &[Trajectory], _s: &Settings) -> Vec<ActivationSummary> {
        ACTIVATIONS
            .iter()
            .filter_map(|&act| {
                let mut runs: Vec<&Trajectory> =
                    outputs.iter().filter(|t| t.activation == act).collect();
                runs.sort_by_key(|t| t.seed);
                let first = runs.first()?;
                let median = (0..first.checkpoints.len())
                    .map(|c| median_checkpoint(&runs, c))
                    .collect::<Vec<_>>();
                Some(ActivationSummary {
                    activation: act.name().into(),
                    seeds: runs.iter().map(|t| t.seed).collect(),
                    top_layer: top_layer(&median),
                    median,
                })
            })
            .collect()
    }

    fn headlines(&self, summary: &Vec<ActivationSummary>) -> Vec<String> {
        summary
            .iter()
            .map(|s| {
                let t = &s.top_layer;
                format!(
                    "saturation, {}: top hidden layer mean {:.3} at start, lowest {:.3} (epoch {}), {} epochs with 98 % of it below {NEAR_ZERO}, final {:.3}",
                    s.activation, t.initial_mean, t.min_mean, t.min_epoch, t.saturated_epochs, t.final_mean
                )
            })
            .collect()
    }
}

/// Checkpoint `c` with every statistic the median over `runs` (which all have it).
fn median_checkpoint(runs: &[&Trajectory], c: usize) -> Checkpoint {
    let at: Vec<&Checkpoint> = runs.iter().filter_map(|t| t.checkpoints.get(c)).collect();
    let med = |f: &dyn Fn(&Checkpoint) -> f64| {
        crate::stats::median(&at.iter().map(|k| f(k)).collect::<Vec<_>>())
    };
    let layers = at[0].layers.len();
    Checkpoint {
        epoch: at[0].epoch,
        updates: at[0].updates,
        validation_accuracy: at[0]
            .validation_accuracy
            .map(|_| med(&|k| k.validation_accuracy.unwrap_or(f64::NAN))),
        layers: (0..layers)
            .map(|l| LayerStats {
                mean: med(&|k| k.layers[l].mean),
                low: med(&|k| k.layers[l].low),
                high: med(&|k| k.layers[l].high),
            })
            .collect(),
    }
}

/// What the median trajectory says about the top hidden layer.
pub fn top_layer(median: &[Checkpoint]) -> TopLayer {
    let top = |k: &Checkpoint| {
        k.layers.last().copied().unwrap_or(LayerStats {
            mean: f64::NAN,
            low: f64::NAN,
            high: f64::NAN,
        })
    };
    let (min_epoch, min_mean) = median
        .iter()
        .map(|k| (k.epoch, top(k).mean))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, f64::NAN));
    TopLayer {
        initial_mean: median.first().map_or(f64::NAN, |k| top(k).mean),
        min_mean,
        min_epoch,
        saturated_epochs: median
            .iter()
            .skip(1)
            .filter(|k| top(k).high < NEAR_ZERO)
            .count(),
        first_mean_below: median
            .iter()
            .skip(1)
            .find(|k| top(k).mean < NEAR_ZERO)
            .map(|k| k.epoch),
        final_mean: median.last().map_or(f64::NAN, |k| top(k).mean),
        final_low: median.last().map_or(f64::NAN, |k| top(k).low),
        final_high: median.last().map_or(f64::NAN, |k| top(k).high),
        final_validation_accuracy: median.last().and_then(|k| k.validation_accuracy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(epoch: usize, top: (f64, f64)) -> Checkpoint {
        Checkpoint {
            epoch,
            updates: epoch * 500,
            validation_accuracy: (epoch > 0).then_some(0.9),
            layers: vec![
                LayerStats {
                    mean: 0.5,
                    low: 0.1,
                    high: 0.9,
                },
                LayerStats {
                    mean: top.0,
                    low: 0.0,
                    high: top.1,
                },
            ],
        }
    }

    #[test]
    fn top_layer_reads_the_last_hidden_layer() {
        let m = vec![
            k(0, (0.5, 0.9)),
            k(1, (0.02, 0.05)),
            k(2, (0.01, 0.08)),
            k(3, (0.2, 0.6)),
        ];
        let t = top_layer(&m);
        assert_eq!(t.initial_mean, 0.5);
        assert_eq!((t.min_mean, t.min_epoch), (0.01, 2));
        assert_eq!(t.saturated_epochs, 2);
        assert_eq!(t.first_mean_below, Some(1));
        assert_eq!((t.final_mean, t.final_low, t.final_high), (0.2, 0.0, 0.6));
        assert_eq!(t.final_validation_accuracy, Some(0.9));
    }

    #[test]
    fn the_network_is_glorot_and_bengios_shape() {
        let c = config(Activation::Tanh, 7, 3, 5_000);
        assert_eq!(c.lambda, 0.5);
        assert_eq!(c.layers, vec![784, 100, 100, 100, 100, 10]);
        assert_eq!(c.init, Init::Standard);
        assert_eq!((c.epochs, c.seed, c.hidden), (3, 7, Activation::Tanh));
    }
}
