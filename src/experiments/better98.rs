//! Part 5: chapter 3's "better than 98 %": `[784,100,10]` with the large N(0,1) initialisation.

use super::experiment::{Context, Experiment};
use super::plan::Settings;
use super::setup::{engine, train_run};
use crate::book;
use crate::error::Result;
use crate::nn::train::TrainConfig;
use crate::nn::Init;
use serde::{Deserialize, Serialize};

/// Chapter 3's network.
pub struct Better98;

/// The one run: its seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub seed: u64,
}

/// Its validation accuracy (fraction) per epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trained {
    pub seed: u64,
    pub validation: Vec<f64>,
    pub train_seconds: f64,
}

/// Chapter 3's run: validation accuracy after each epoch, and how long training took.
#[derive(Serialize, Clone, Debug)]
pub struct Better98Row {
    pub validation_accuracy_percent: Vec<f64>,
    pub train_seconds: f64,
}

impl Experiment for Better98 {
    type Item = Run;
    type Output = Trained;
    type Summary = Option<Better98Row>;
    const NAME: &'static str = "better98";

    fn items(&self, s: &Settings) -> Vec<Run> {
        vec![Run { seed: s.base_seed }]
    }

    fn seed(&self, item: &Run) -> u64 {
        item.seed
    }

    fn cost(&self, _item: &Run, s: &Settings) -> f64 {
        (s.better98_epochs * 30) as f64
    }

    fn run(&self, item: &Run, ctx: &Context) -> Result<Trained> {
        let mut cfg = TrainConfig::book(&[784, 100, 10]);
        cfg.init = Init::Large;
        cfg.epochs = ctx.settings.better98_epochs;
        cfg.seed = item.seed;
        let (validation, train_seconds) = train_run(&cfg, ctx.data, &engine())?;
        Ok(Trained {
            seed: item.seed,
            validation,
            train_seconds,
        })
    }

    fn summarise(&self, outputs: &[Trained], _s: &Settings) -> Option<Better98Row> {
        outputs.first().map(|t| Better98Row {
            validation_accuracy_percent: t.validation.iter().map(|v| 100.0 * v).collect(),
            train_seconds: t.train_seconds,
        })
    }

    fn headlines(&self, row: &Option<Better98Row>) -> Vec<String> {
        row.iter()
            .map(|b| {
                format!(
                    "[784,100,10] large init: final {:.2} % (book {:.2} %)",
                    b.validation_accuracy_percent.last().copied().unwrap_or(0.0),
                    book::BETTER_98
                )
            })
            .collect()
    }
}
