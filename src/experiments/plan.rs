//! What a run computes: the settings, the selected parts, and their work items in a fixed
//! order (shards slice that order).

use super::experiment::{Context, Part};
use crate::data::Splits;
use crate::error::{Error, Result};
use serde_json::Value;

/// How much work each part does.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub base_seed: u64,
    /// Seeds per network for accuracy versus depth.
    pub accuracy_seeds: usize,
    pub accuracy_epochs: usize,
    /// Seeds per depth for the initial speeds.
    pub speed_seeds: usize,
    /// Full-batch iterations of the learning-speed curves.
    pub curve_iterations: usize,
    pub better98_epochs: usize,
    /// Seeds per configuration of the beyond-the-book sweep, and its deepest net.
    pub sweep_seeds: usize,
    pub sweep_max_depth: usize,
    /// Images in the chapter's fixed batch.
    pub batch_images: usize,
    /// Seeds per activation, and epochs over its training subset, of the saturation part
    /// (absent from shard files written before it: then the full run's values).
    #[serde(default = "default_saturation_seeds")]
    pub saturation_seeds: usize,
    #[serde(default = "default_saturation_epochs")]
    pub saturation_epochs: usize,
    /// Training images of the saturation part (the first of the split).
    #[serde(default = "default_saturation_images")]
    pub saturation_images: usize,
    /// Seeds per choice and depth, epochs, and training images of the trained-depth part (its
    /// depths are the sweep's, 1 to `sweep_max_depth`).
    #[serde(default = "default_depth_seeds")]
    pub depth_seeds: usize,
    #[serde(default = "default_depth_epochs")]
    pub depth_epochs: usize,
    #[serde(default = "default_depth_images")]
    pub depth_images: usize,
}

fn default_saturation_images() -> usize {
    5_000
}

fn default_depth_seeds() -> usize {
    3
}

fn default_depth_epochs() -> usize {
    10
}

fn default_depth_images() -> usize {
    10_000
}

fn default_saturation_seeds() -> usize {
    2
}

fn default_saturation_epochs() -> usize {
    40
}

impl Settings {
    /// The full reproduction.
    pub fn full(base_seed: u64) -> Settings {
        Settings {
            base_seed,
            accuracy_seeds: 10,
            accuracy_epochs: crate::book::ACCURACY_EPOCHS,
            speed_seeds: 50,
            curve_iterations: crate::book::CURVE_ITERATIONS,
            better98_epochs: crate::book::BETTER_98_EPOCHS,
            sweep_seeds: 10,
            sweep_max_depth: 10,
            batch_images: crate::book::BATCH_IMAGES,
            saturation_seeds: default_saturation_seeds(),
            saturation_epochs: default_saturation_epochs(),
            saturation_images: default_saturation_images(),
            depth_seeds: default_depth_seeds(),
            depth_epochs: default_depth_epochs(),
            depth_images: default_depth_images(),
        }
    }

    /// `--quick`: the same code paths on less work (for CI).
    pub fn quick(base_seed: u64) -> Settings {
        Settings {
            base_seed,
            accuracy_seeds: 2,
            accuracy_epochs: 2,
            speed_seeds: 10,
            curve_iterations: 40,
            better98_epochs: 2,
            sweep_seeds: 3,
            sweep_max_depth: 6,
            batch_images: crate::book::BATCH_IMAGES,
            saturation_seeds: 1,
            saturation_epochs: 1,
            saturation_images: 1_000,
            depth_seeds: 1,
            depth_epochs: 1,
            depth_images: 1_000,
        }
    }

    /// Checks every count against a generous upper bound, so that settings read from a file
    /// (a shard) or typed on the command line cannot ask for more items, epochs or memory
    /// than any real run uses (a shard file could otherwise make the merge allocate without
    /// limit before anything else is checked).
    pub fn validate(&self) -> Result<()> {
        let limits: [(&str, usize, usize, usize); 14] = [
            ("accuracy seeds", self.accuracy_seeds, 0, MAX_SEEDS),
            ("accuracy epochs", self.accuracy_epochs, 0, MAX_EPOCHS),
            ("speed seeds", self.speed_seeds, 0, MAX_SEEDS),
            ("curve iterations", self.curve_iterations, 0, MAX_ITERATIONS),
            ("better98 epochs", self.better98_epochs, 0, MAX_EPOCHS),
            ("sweep seeds", self.sweep_seeds, 0, MAX_SEEDS),
            ("sweep depth", self.sweep_max_depth, 1, MAX_DEPTH),
            ("saturation seeds", self.saturation_seeds, 0, MAX_SEEDS),
            ("saturation epochs", self.saturation_epochs, 0, MAX_EPOCHS),
            (
                "saturation images",
                self.saturation_images,
                1,
                crate::data::mnist::TRAIN_ITEMS,
            ),
            ("depth seeds", self.depth_seeds, 0, MAX_SEEDS),
            ("depth epochs", self.depth_epochs, 0, MAX_EPOCHS),
            (
                "depth images",
                self.depth_images,
                1,
                crate::data::mnist::TRAIN_ITEMS,
            ),
            (
                "batch images",
                self.batch_images,
                1,
                crate::data::mnist::TRAIN_ITEMS,
            ),
        ];
        for (what, value, low, high) in limits {
            if value < low || value > high {
                return Err(Error::Invalid {
                    what: "settings",
                    problem: format!("{what} must be {low} to {high}, not {value}"),
                });
            }
        }
        Ok(())
    }

    /// `n` consecutive seeds from the base seed.
    pub fn seeds(&self, n: usize) -> impl Iterator<Item = u64> + use<> {
        let base = self.base_seed;
        (0..n as u64).map(move |i| base + i)
    }
}

/// Most seeds any count of [`Settings`] may ask for.
pub const MAX_SEEDS: usize = 1_000;
/// Most epochs of any trained part.
pub const MAX_EPOCHS: usize = 10_000;
/// Most full-batch iterations of the learning-speed curves.
pub const MAX_ITERATIONS: usize = 10_000_000;
/// Deepest network of the sweep (hidden layers).
pub const MAX_DEPTH: usize = 30;

/// One unit of work: the part it belongs to and the part's own description of the item.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkItem {
    pub part: String,
    pub item: Value,
}

/// The work of one run: the selected parts (by name, in [`super::PARTS`] order) and settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub settings: Settings,
    pub parts: Vec<String>,
}

impl Plan {
    /// Every part, in report order.
    pub fn all(settings: Settings) -> Plan {
        Plan {
            settings,
            parts: super::PARTS.iter().map(|p| p.name().to_string()).collect(),
        }
    }

    /// Checks the settings ([`Settings::validate`]) and that every part exists.
    pub fn validate(&self) -> Result<()> {
        self.settings.validate()?;
        for name in &self.parts {
            super::part(name)?;
        }
        Ok(())
    }

    /// Every item, in a fixed order (shards slice this order).
    pub fn items(&self) -> Result<Vec<WorkItem>> {
        let mut v = Vec::new();
        for name in &self.parts {
            let part = super::part(name)?;
            v.extend(
                part.item_values(&self.settings)?
                    .into_iter()
                    .map(|item| WorkItem {
                        part: name.clone(),
                        item,
                    }),
            );
        }
        Ok(v)
    }

    /// Runs items in parallel (each on one thread, so results do not depend on the thread
    /// count) and returns their outputs, with the seconds each took, in the items' order.
    /// `done` is called per finished item.
    pub fn run(
        &self,
        items: &[WorkItem],
        data: &Splits,
        done: &(dyn Fn(&WorkItem) + Sync),
    ) -> Result<Vec<(Value, f64)>> {
        use rayon::prelude::*;
        let parts: Vec<&dyn Part> = items
            .iter()
            .map(|i| super::part(&i.part))
            .collect::<Result<_>>()?;
        let costs: Vec<f64> = (0..items.len())
            .map(|i| parts[i].item_cost(&items[i].item, &self.settings))
            .collect();
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]));
        let ctx = Context {
            settings: &self.settings,
            data,
        };
        let results: Vec<(usize, Result<Value>, f64)> = order
            .par_iter()
            .with_max_len(1)
            .map(|&i| {
                let t = std::time::Instant::now();
                let r = parts[i].run_value(&items[i].item, &ctx);
                done(&items[i]);
                (i, r, t.elapsed().as_secs_f64())
            })
            .collect();
        let mut slots: Vec<Option<(Value, f64)>> = vec![None; items.len()];
        for (i, r, secs) in results {
            slots[i] = Some((r?, secs));
        }
        slots
            .into_iter()
            .map(|r| {
                r.ok_or_else(|| Error::Invalid {
                    what: "run",
                    problem: "an item produced no result".into(),
                })
            })
            .collect()
    }
}
