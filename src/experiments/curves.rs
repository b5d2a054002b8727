//! Part 3: the speed of learning of each hidden layer during full-batch training on the
//! chapter's fixed batch, for 2, 3 and 4 hidden layers.

use super::experiment::{Context, Experiment};
use super::plan::Settings;
use super::setup::{engine, FreshNet};
use super::speed::hidden_layer_speeds;
use crate::book;
use crate::error::Result;
use crate::nn::batched::SgdParams;
use crate::nn::Cost;
use serde::{Deserialize, Serialize};

/// Learning-speed curves.
pub struct Curves;

/// One curve: `hidden` hidden layers, one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub hidden: usize,
    pub seed: u64,
}

/// Each hidden layer's speed before each full-batch update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Traced {
    pub hidden: usize,
    pub seed: u64,
    /// `speeds[k][l]`: hidden layer l after k full-batch updates.
    pub speeds: Vec<Vec<f64>>,
}

/// One learning-speed curve.
#[derive(Serialize, Clone, Debug)]
pub struct CurveRow {
    pub hidden_layers: usize,
    pub seed: u64,
    /// `speeds[k][l]`: hidden layer l after k full-batch updates.
    pub speeds: Vec<Vec<f64>>,
    /// last/first hidden layer, per iteration.
    pub ratio: Vec<f64>,
    pub ratio_start: f64,
    pub ratio_min: f64,
    pub ratio_max: f64,
    pub ratio_end: f64,
}

impl Experiment for Curves {
    type Item = Curve;
    type Output = Traced;
    type Summary = Vec<CurveRow>;
    const NAME: &'static str = "curves";

    fn items(&self, s: &Settings) -> Vec<Curve> {
        (2..=4)
            .map(|hidden| Curve {
                hidden,
                seed: s.base_seed,
            })
            .collect()
    }

    fn seed(&self, item: &Curve) -> u64 {
        item.seed
    }

    fn cost(&self, _item: &Curve, s: &Settings) -> f64 {
        s.curve_iterations as f64 * 0.3
    }

    fn run(&self, item: &Curve, ctx: &Context) -> Result<Traced> {
        let e = engine();
        let m = ctx.settings.batch_images;
        let labels = &ctx.data.train.labels[..m];
        let (mut net, mut ws, mut g) = FreshNet::book(item.hidden, item.seed).build(ctx.data, m)?;
        let step = SgdParams {
            cost: Cost::CrossEntropy,
            eta: book::ETA,
            lambda: book::LAMBDA,
            train_size: m,
        };
        let mut speeds = Vec::with_capacity(ctx.settings.curve_iterations);
        for _ in 0..ctx.settings.curve_iterations {
            speeds.push(hidden_layer_speeds(&e, &net, &mut ws, m, labels, &mut g));
            e.sgd_step(&mut net, &mut ws, m, labels, &step);
        }
        Ok(Traced {
            hidden: item.hidden,
            seed: item.seed,
            speeds,
        })
    }

    fn summarise(&self, outputs: &[Traced], _s: &Settings) -> Vec<CurveRow> {
        let mut rows: Vec<CurveRow> = outputs.iter().map(row).collect();
        rows.sort_by_key(|c| c.hidden_layers);
        rows
    }

    fn headlines(&self, rows: &Vec<CurveRow>) -> Vec<String> {
        rows.iter()
            .map(|c| {
                format!(
                    "learning-speed curve, {} hidden: last/first {:.1}x at start, {:.1}x at the end",
                    c.hidden_layers, c.ratio_start, c.ratio_end
                )
            })
            .collect()
    }
}

fn row(t: &Traced) -> CurveRow {
    let ratio: Vec<f64> = t.speeds.iter().map(|v| v[v.len() - 1] / v[0]).collect();
    CurveRow {
        hidden_layers: t.hidden,
        seed: t.seed,
        ratio_start: ratio.first().copied().unwrap_or(f64::NAN),
        ratio_min: ratio.iter().cloned().fold(f64::MAX, f64::min),
        ratio_max: ratio.iter().cloned().fold(f64::MIN, f64::max),
        ratio_end: ratio.last().copied().unwrap_or(f64::NAN),
        ratio,
        speeds: t.speeds.clone(),
    }
}
