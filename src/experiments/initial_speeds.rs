//! Part 2: the initial speed of learning of each hidden layer of a fresh network (the norm of
//! its averaged bias gradient) for 2, 3 and 4 hidden layers over seeds, and the book's bar
//! chart of the first six neurons' bias gradients.

use super::experiment::{Context, Experiment};
use super::plan::Settings;
use super::setup::{engine, FreshNet};
use super::speed::hidden_layer_speeds;
use crate::book;
use crate::error::Result;
use crate::nn::Cost;
use crate::stats::quantile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Initial speeds per hidden layer, and the bar chart.
pub struct InitialSpeeds;

/// One measurement on a fresh network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Probe {
    /// Each hidden layer's speed, `hidden` hidden layers.
    Speeds { hidden: usize, seed: u64 },
    /// The signed bias gradients of the first six neurons of both hidden layers of
    /// `[784,30,30,10]`.
    Bars { seed: u64 },
}

/// What a probe measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Measured {
    Speeds {
        hidden: usize,
        seed: u64,
        speeds: Vec<f64>,
    },
    Bars {
        seed: u64,
        layer1: Vec<f64>,
        layer2: Vec<f64>,
    },
}

/// Initial speed per hidden layer for one depth, over seeds.
#[derive(Serialize, Clone, Debug)]
pub struct SpeedRow {
    pub hidden_layers: usize,
    pub seeds: usize,
    pub median: Vec<f64>,
    pub p10: Vec<f64>,
    pub p90: Vec<f64>,
    pub book: Vec<f64>,
    pub book_inside_band: Vec<bool>,
    pub last_over_first_median: f64,
    pub book_last_over_first: f64,
}

/// The book's bar chart: signed mean bias gradients of the first six neurons of each hidden
/// layer of a fresh `[784,30,30,10]`.
#[derive(Serialize, Clone, Debug)]
pub struct BarsRow {
    pub seed: u64,
    pub layer1: Vec<f64>,
    pub layer2: Vec<f64>,
}

/// Everything part 2 reports.
#[derive(Serialize, Clone, Debug, Default)]
pub struct SpeedsSummary {
    pub rows: Vec<SpeedRow>,
    pub bars: Option<BarsRow>,
}

impl Experiment for InitialSpeeds {
    type Item = Probe;
    type Output = Measured;
    type Summary = SpeedsSummary;
    const NAME: &'static str = "initial-speeds";

    fn items(&self, s: &Settings) -> Vec<Probe> {
        let mut v: Vec<Probe> = (2..=4)
            .flat_map(|hidden| {
                s.seeds(s.speed_seeds)
                    .map(move |seed| Probe::Speeds { hidden, seed })
            })
            .collect();
        v.push(Probe::Bars { seed: s.base_seed });
        v
    }

    fn seed(&self, item: &Probe) -> u64 {
        match *item {
            Probe::Speeds { seed, .. } | Probe::Bars { seed } => seed,
        }
    }

    fn run(&self, item: &Probe, ctx: &Context) -> Result<Measured> {
        let e = engine();
        let m = ctx.settings.batch_images;
        let labels = &ctx.data.train.labels[..m];
        Ok(match *item {
            Probe::Speeds { hidden, seed } => {
                let (net, mut ws, mut g) = FreshNet::book(hidden, seed).build(ctx.data, m)?;
                Measured::Speeds {
                    hidden,
                    seed,
                    speeds: hidden_layer_speeds(&e, &net, &mut ws, m, labels, &mut g),
                }
            }
            Probe::Bars { seed } => {
                let (net, mut ws, mut g) = FreshNet::book(2, seed).build(ctx.data, m)?;
                e.mean_bias_gradients(&net, &mut ws, m, labels, Cost::CrossEntropy, &mut g);
                let first_six = |v: &[f32]| v[..6].iter().map(|&x| x as f64).collect();
                Measured::Bars {
                    seed,
                    layer1: first_six(&g[0]),
                    layer2: first_six(&g[1]),
                }
            }
        })
    }

    fn summarise(&self, outputs: &[Measured], _s: &Settings) -> SpeedsSummary {
        let mut by_depth: BTreeMap<usize, Vec<&Vec<f64>>> = BTreeMap::new();
        let mut bars = None;
        for o in outputs {
            match o {
                Measured::Speeds { hidden, speeds, .. } => {
                    by_depth.entry(*hidden).or_default().push(speeds)
                }
                Measured::Bars {
                    seed,
                    layer1,
                    layer2,
                } => {
                    bars = Some(BarsRow {
                        seed: *seed,
                        layer1: layer1.clone(),
                        layer2: layer2.clone(),
                    })
                }
            }
        }
        SpeedsSummary {
            rows: by_depth
                .into_iter()
                .map(|(hidden, runs)| row(hidden, &runs))
                .collect(),
            bars,
        }
    }

    fn headlines(&self, s: &SpeedsSummary) -> Vec<String> {
        s.rows
            .iter()
            .map(|r| {
                format!(
                    "initial speeds, {} hidden: last/first {:.1}x (book {:.1}x)",
                    r.hidden_layers, r.last_over_first_median, r.book_last_over_first
                )
            })
            .collect()
    }
}

fn row(hidden: usize, runs: &[&Vec<f64>]) -> SpeedRow {
    let layer = |l: usize| runs.iter().map(|v| v[l]).collect::<Vec<f64>>();
    let book: Vec<f64> = book::INITIAL_SPEEDS[hidden - 2].to_vec();
    let p10: Vec<f64> = (0..hidden).map(|l| quantile(&layer(l), 0.1)).collect();
    let p90: Vec<f64> = (0..hidden).map(|l| quantile(&layer(l), 0.9)).collect();
    let ratios: Vec<f64> = runs.iter().map(|v| v[hidden - 1] / v[0]).collect();
    SpeedRow {
        hidden_layers: hidden,
        seeds: runs.len(),
        median: (0..hidden).map(|l| quantile(&layer(l), 0.5)).collect(),
        book_inside_band: (0..hidden)
            .map(|l| book[l] >= p10[l] && book[l] <= p90[l])
            .collect(),
        p10,
        p90,
        last_over_first_median: quantile(&ratios, 0.5),
        book_last_over_first: book[hidden - 1] / book[0],
        book,
    }
}
