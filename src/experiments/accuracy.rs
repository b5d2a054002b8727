//! Part 1: accuracy versus depth. The book's four networks trained with its settings, over
//! seeds, judged against the book's single unseeded run.

use super::experiment::{Context, Experiment};
use super::plan::Settings;
use super::setup::{engine, train_run};
use crate::book;
use crate::error::Result;
use crate::nn::train::TrainConfig;
use crate::stats::{percentile_rank, quantile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Accuracy versus depth.
pub struct Accuracy;

/// One training run: a network of `hidden` hidden layers, one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub hidden: usize,
    pub seed: u64,
}

/// Its validation accuracy (fraction) after each epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trained {
    pub hidden: usize,
    pub seed: u64,
    pub validation: Vec<f64>,
    pub train_seconds: f64,
}

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

impl Experiment for Accuracy {
    type Item = Run;
    type Output = Trained;
    type Summary = Vec<AccuracyRow>;
    const NAME: &'static str = "accuracy";

    fn items(&self, s: &Settings) -> Vec<Run> {
        (1..=4)
            .flat_map(|hidden| {
                s.seeds(s.accuracy_seeds)
                    .map(move |seed| Run { hidden, seed })
            })
            .collect()
    }

    fn seed(&self, item: &Run) -> u64 {
        item.seed
    }

    fn cost(&self, item: &Run, s: &Settings) -> f64 {
        (s.accuracy_epochs * (10 + item.hidden)) as f64
    }

    fn run(&self, item: &Run, ctx: &Context) -> Result<Trained> {
        let mut cfg = TrainConfig::book(&book::mnist_layers(item.hidden, book::HIDDEN_WIDTH));
        cfg.epochs = ctx.settings.accuracy_epochs;
        cfg.seed = item.seed;
        let (validation, train_seconds) = train_run(&cfg, ctx.data, &engine())?;
        Ok(Trained {
            hidden: item.hidden,
            seed: item.seed,
            validation,
            train_seconds,
        })
    }

    fn summarise(&self, outputs: &[Trained], _s: &Settings) -> Vec<AccuracyRow> {
        let mut by_depth: BTreeMap<usize, Vec<(u64, &Vec<f64>)>> = BTreeMap::new();
        for t in outputs {
            by_depth
                .entry(t.hidden)
                .or_default()
                .push((t.seed, &t.validation));
        }
        by_depth
            .into_iter()
            .map(|(hidden, mut runs)| {
                runs.sort_by_key(|r| r.0);
                row(hidden, &runs)
            })
            .collect()
    }

    fn headlines(&self, rows: &Vec<AccuracyRow>) -> Vec<String> {
        rows.iter()
            .map(|r| {
                format!(
                    "accuracy {}: final median {:.2} % (book {:.2} %), best median {:.2} %",
                    r.layers, r.final_median, r.book_percent, r.best_median
                )
            })
            .collect()
    }
}

fn row(hidden: usize, runs: &[(u64, &Vec<f64>)]) -> AccuracyRow {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_percentile_among_seeds() {
        let acc = |seed: u64, last: f64| Trained {
            hidden: 1,
            seed,
            validation: vec![0.5, last],
            train_seconds: 0.0,
        };
        // Book 96.48 %: above 3 of 4 finals.
        let s = Settings::quick(1);
        let rows = Accuracy.summarise(
            &[acc(3, 0.964), acc(1, 0.960), acc(4, 0.970), acc(2, 0.962)],
            &s,
        );
        let row = &rows[0];
        assert_eq!(row.layers, "[784,30,10]");
        assert_eq!(row.book_percentile_final, 75.0);
        assert_eq!(row.seeds, vec![1, 2, 3, 4]);
    }
}
