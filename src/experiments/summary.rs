//! The statistics of a run: item results (in any order) aggregated into per-part rows. This is
//! the last step of computing; `report` only formats what is here.

use super::arithmetic::Arithmetic;
use super::items::{ItemResult, Plan, SWEEP_ACTS, SWEEP_INITS};
use crate::book;
use crate::meta::Machine;
use crate::stats::{percentile_rank, quantile};
use serde::Serialize;

/// Accuracy versus depth for one network, over seeds.
#[derive(Serialize, Clone, Debug)]
pub struct AccuracyRow {
    pub layers: String,
    pub book_percent: f64,
    pub seeds: Vec<u64>,
    pub final_percent: Vec<f64>,
    pub best_percent: Vec<f64>,
    pub final_median: f64,
    pub final_min: f64,
    pub final_max: f64,
    pub best_median: f64,
    pub best_min: f64,
    pub best_max: f64,
    pub median_minus_book: f64,
    /// Where the book's value falls among our final accuracies (percentile rank, 0-100).
    pub book_percentile_final: f64,
    /// The same among our best-epoch accuracies.
    pub book_percentile_best: f64,
    pub per_epoch_median: Vec<f64>,
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

/// One learning-speed curve.
#[derive(Serialize, Clone, Debug)]
pub struct CurveRow {
    pub hidden_layers: usize,
    pub seed: u64,
    /// speeds[k][l]: hidden layer l after k full-batch updates.
    pub speeds: Vec<Vec<f64>>,
    /// last/first hidden layer, per iteration.
    pub ratio: Vec<f64>,
    pub ratio_start: f64,
    pub ratio_min: f64,
    pub ratio_max: f64,
    pub ratio_end: f64,
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

/// One configuration of the beyond-the-book sweep.
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

/// Chapter 3's run: validation accuracy after each epoch, and how long training took.
#[derive(Serialize, Clone, Debug)]
pub struct Better98Row {
    pub validation_accuracy_percent: Vec<f64>,
    pub train_seconds: f64,
}

/// The book's bar chart: signed mean bias gradients of the first six neurons of each hidden
/// layer of a fresh [784,30,30,10].
#[derive(Serialize, Clone, Debug)]
pub struct BarsRow {
    pub seed: u64,
    pub layer1: Vec<f64>,
    pub layer2: Vec<f64>,
}

/// Everything the report shows.
#[derive(Serialize, Default, Clone, Debug)]
pub struct Summary {
    pub accuracy: Vec<AccuracyRow>,
    pub initial_speeds: Vec<SpeedRow>,
    pub bars: Option<BarsRow>,
    pub curves: Vec<CurveRow>,
    pub arithmetic: Option<Arithmetic>,
    pub better98: Option<Better98Row>,
    pub sweep: Vec<SweepRow>,
}

/// Run metadata for `meta.json`.
#[derive(Serialize, serde::Deserialize, Clone, Debug)]
pub struct Meta {
    pub machine: Machine,
    pub plan: Plan,
    pub seeds: Vec<u64>,
    pub item_seconds_per_part: Vec<(String, f64)>,
    pub total_wall_seconds: f64,
    pub shards: Option<usize>,
}

fn accuracy_row(hidden: usize, runs: &[(u64, &Vec<f64>)]) -> AccuracyRow {
    let finals: Vec<f64> = runs
        .iter()
        .map(|(_, v)| 100.0 * v.last().copied().unwrap_or(0.0))
        .collect();
    let bests: Vec<f64> = runs
        .iter()
        .map(|(_, v)| 100.0 * v.iter().cloned().fold(0.0, f64::max))
        .collect();
    let epochs = runs.iter().map(|(_, v)| v.len()).min().unwrap_or(0);
    let per_epoch_median = (0..epochs)
        .map(|e| 100.0 * quantile(&runs.iter().map(|(_, v)| v[e]).collect::<Vec<_>>(), 0.5))
        .collect();
    let book = book::ACCURACY[hidden - 1];
    AccuracyRow {
        layers: book::layers_name(&book::mnist_layers(hidden, book::HIDDEN_WIDTH)),
        book_percent: book,
        seeds: runs.iter().map(|r| r.0).collect(),
        final_median: quantile(&finals, 0.5),
        final_min: quantile(&finals, 0.0),
        final_max: quantile(&finals, 1.0),
        best_median: quantile(&bests, 0.5),
        best_min: quantile(&bests, 0.0),
        best_max: quantile(&bests, 1.0),
        median_minus_book: quantile(&finals, 0.5) - book,
        book_percentile_final: percentile_rank(&finals, book),
        book_percentile_best: percentile_rank(&bests, book),
        final_percent: finals,
        best_percent: bests,
        per_epoch_median,
    }
}

fn speed_row(hidden: usize, runs: &[&Vec<f64>]) -> SpeedRow {
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

fn curve_row(hidden: usize, seed: u64, speeds: &[Vec<f64>]) -> CurveRow {
    let ratio: Vec<f64> = speeds.iter().map(|v| v[v.len() - 1] / v[0]).collect();
    CurveRow {
        hidden_layers: hidden,
        seed,
        ratio_start: ratio.first().copied().unwrap_or(f64::NAN),
        ratio_min: ratio.iter().cloned().fold(f64::MAX, f64::min),
        ratio_max: ratio.iter().cloned().fold(f64::MIN, f64::max),
        ratio_end: ratio.last().copied().unwrap_or(f64::NAN),
        ratio,
        speeds: speeds.to_vec(),
    }
}

/// Aggregates item results (in any order) into the summary. Every kind of result is handled
/// explicitly (no catch-all arm), so a new kind does not compile until it is summarised.
pub fn summarise(results: &[ItemResult]) -> Summary {
    let mut s = Summary::default();
    // Per-seed results, grouped by configuration.
    use std::collections::BTreeMap;
    let mut accuracy: BTreeMap<usize, Vec<(u64, &Vec<f64>)>> = BTreeMap::new();
    let mut speeds: BTreeMap<usize, Vec<&Vec<f64>>> = BTreeMap::new();
    let mut sweep: Vec<(usize, usize, usize, &Vec<f64>)> = Vec::new();
    for r in results {
        match r {
            ItemResult::Accuracy {
                hidden,
                seed,
                validation,
                ..
            } => accuracy
                .entry(*hidden)
                .or_default()
                .push((*seed, validation)),
            ItemResult::InitialSpeed {
                hidden, speeds: v, ..
            } => speeds.entry(*hidden).or_default().push(v),
            ItemResult::Bars {
                seed,
                layer1,
                layer2,
            } => {
                s.bars = Some(BarsRow {
                    seed: *seed,
                    layer1: layer1.clone(),
                    layer2: layer2.clone(),
                })
            }
            ItemResult::Curve {
                hidden,
                seed,
                speeds: v,
            } => s.curves.push(curve_row(*hidden, *seed, v)),
            ItemResult::Arithmetic(a) => s.arithmetic = Some(a.clone()),
            ItemResult::Better98 {
                validation,
                train_seconds,
                ..
            } => {
                s.better98 = Some(Better98Row {
                    validation_accuracy_percent: validation.iter().map(|v| 100.0 * v).collect(),
                    train_seconds: *train_seconds,
                })
            }
            ItemResult::Sweep {
                act,
                init,
                depth,
                speeds: v,
                ..
            } => {
                let a = SWEEP_ACTS.iter().position(|x| x == act).unwrap_or(0);
                let i = SWEEP_INITS.iter().position(|x| x == init).unwrap_or(0);
                sweep.push((a, i, *depth, v));
            }
        }
    }
    for (hidden, mut runs) in accuracy {
        runs.sort_by_key(|r| r.0);
        s.accuracy.push(accuracy_row(hidden, &runs));
    }
    for (hidden, runs) in speeds {
        s.initial_speeds.push(speed_row(hidden, &runs));
    }
    s.curves.sort_by_key(|c| c.hidden_layers);
    sweep.sort_by_key(|r| (r.0, r.1, r.2));
    for group in sweep.chunk_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2)) {
        let (a, i, depth, _) = group[0];
        let runs: Vec<&Vec<f64>> = group.iter().map(|r| r.3).collect();
        s.sweep.push(SweepRow {
            activation: SWEEP_ACTS[a].name().into(),
            init: SWEEP_INITS[i].name().into(),
            depth,
            median: (0..depth)
                .map(|l| quantile(&runs.iter().map(|v| v[l]).collect::<Vec<_>>(), 0.5))
                .collect(),
            shrink_per_layer: quantile(
                &runs.iter().map(|v| shrink_per_layer(v)).collect::<Vec<_>>(),
                0.5,
            ),
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Activation, Init};

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
        let book = shrink_per_layer(book::INITIAL_SPEEDS[2]);
        assert!(book > 4.0 && book < 5.0, "{book}");
    }

    /// The sweep's summary uses the same function, over seeds, per configuration.
    #[test]
    fn summary_groups_the_sweep_and_takes_medians() {
        let mk = |seed: u64, f: f64| ItemResult::Sweep {
            act: Activation::Tanh,
            init: Init::He,
            depth: 3,
            seed,
            speeds: vec![1.0, f, f * f],
        };
        let s = summarise(&[mk(1, 2.0), mk(2, 3.0), mk(3, 10.0)]);
        assert_eq!(s.sweep.len(), 1);
        let row = &s.sweep[0];
        assert_eq!((row.activation.as_str(), row.init.as_str()), ("tanh", "he"));
        assert!((row.shrink_per_layer - 3.0).abs() < 1e-12);
        assert_eq!(row.median, vec![1.0, 3.0, 9.0]);
    }

    #[test]
    fn book_percentile_among_seeds() {
        let acc = |seed: u64, last: f64| ItemResult::Accuracy {
            hidden: 1,
            seed,
            validation: vec![0.5, last],
            train_seconds: 0.0,
        };
        // Book 96.48 %: above 3 of 4 finals.
        let s = summarise(&[acc(1, 0.960), acc(2, 0.962), acc(3, 0.964), acc(4, 0.970)]);
        let row = &s.accuracy[0];
        assert_eq!(row.layers, "[784,30,10]");
        assert_eq!(row.book_percentile_final, 75.0);
        assert_eq!(row.seeds, vec![1, 2, 3, 4]);
    }
}
