//! The shape every part of the reproduction has, written once: an [`Experiment`] lists its
//! work items, computes one, and aggregates their outputs into its summary. [`Part`] is the
//! same with the types erased to JSON values, so parts of different types sit in one list
//! ([`super::PARTS`]) and their items and outputs travel through shard files unchanged.

use super::plan::Settings;
use crate::data::Splits;
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Debug;

/// What computing an item may read: the run's settings and the data.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub settings: &'a Settings,
    pub data: &'a Splits,
}

/// One part of the reproduction. Items must be independent and deterministic (a seed in each
/// item fixes its output), so any order, thread count or sharding gives the same outputs.
pub trait Experiment: Sync {
    /// One unit of work.
    type Item: Serialize + DeserializeOwned + Clone + Debug + Send + Sync;
    /// What one item produces.
    type Output: Serialize + DeserializeOwned + Clone + Debug + Send;
    /// The part's statistics over all its outputs: what its report section shows.
    type Summary: Serialize + Debug;

    /// The name used by `--only`, progress bars and `meta.json`.
    const NAME: &'static str;

    /// Every item of the part, in a fixed order.
    fn items(&self, settings: &Settings) -> Vec<Self::Item>;

    /// The seed an item uses (listed in `meta.json`).
    fn seed(&self, item: &Self::Item) -> u64;

    /// A rough relative cost, so the longest items start first (1 ~ one epoch of `[784,30,10]`
    /// at batch 10 over 50,000 images is ~40).
    fn cost(&self, _item: &Self::Item, _settings: &Settings) -> f64 {
        0.1
    }

    /// Computes one item on one thread.
    fn run(&self, item: &Self::Item, ctx: &Context) -> Result<Self::Output>;

    /// Aggregates outputs (in any order) into the summary.
    fn summarise(&self, outputs: &[Self::Output], settings: &Settings) -> Self::Summary;

    /// Console lines for the end of a run (none by default).
    fn headlines(&self, _summary: &Self::Summary) -> Vec<String> {
        Vec::new()
    }
}

/// An [`Experiment`] behind JSON values: what the plan, the runner, shard files and the report
/// registry handle. Implemented for every experiment; not meant to be implemented by hand.
pub trait Part: Sync {
    /// [`Experiment::NAME`].
    fn name(&self) -> &'static str;
    /// [`Experiment::items`], as values.
    fn item_values(&self, settings: &Settings) -> Result<Vec<Value>>;
    /// [`Experiment::seed`] of an item value.
    fn item_seed(&self, item: &Value) -> Result<u64>;
    /// [`Experiment::cost`] of an item value (0 for one that does not parse).
    fn item_cost(&self, item: &Value, settings: &Settings) -> f64;
    /// [`Experiment::run`] on an item value, the output as a value.
    fn run_value(&self, item: &Value, ctx: &Context) -> Result<Value>;
    /// [`Experiment::headlines`] of the summary of these outputs.
    fn headlines_of(&self, outputs: &[&Value], settings: &Settings) -> Result<Vec<String>>;
}

fn to_value<T: Serialize>(part: &str, what: &str, v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::Invalid {
        what: "experiment value",
        problem: format!("{part}: cannot represent {what}: {e}"),
    })
}

fn from_value<T: DeserializeOwned>(part: &str, what: &str, v: &Value) -> Result<T> {
    // A non-finite float becomes JSON null and then fails here: an error that names the
    // part, rather than a report with silent gaps.
    T::deserialize(v).map_err(|e| Error::Invalid {
        what: "experiment value",
        problem: format!("{part}: {what} {v} does not parse: {e}"),
    })
}

/// The typed outputs of `E` among values (from this run or from shard files).
pub fn outputs<E: Experiment>(values: &[&Value]) -> Result<Vec<E::Output>> {
    values
        .iter()
        .map(|v| from_value(E::NAME, "output", v))
        .collect()
}

/// `E`'s summary of output values.
pub fn summarise<E: Experiment>(
    e: &E,
    values: &[&Value],
    settings: &Settings,
) -> Result<E::Summary> {
    Ok(e.summarise(&outputs::<E>(values)?, settings))
}

impl<E: Experiment> Part for E {
    fn name(&self) -> &'static str {
        E::NAME
    }

    fn item_values(&self, settings: &Settings) -> Result<Vec<Value>> {
        self.items(settings)
            .iter()
            .map(|i| to_value(E::NAME, "an item", i))
            .collect()
    }

    fn item_seed(&self, item: &Value) -> Result<u64> {
        Ok(self.seed(&from_value(E::NAME, "item", item)?))
    }

    fn item_cost(&self, item: &Value, settings: &Settings) -> f64 {
        from_value(E::NAME, "item", item).map_or(0.0, |i| self.cost(&i, settings))
    }

    fn run_value(&self, item: &Value, ctx: &Context) -> Result<Value> {
        let output = self.run(&from_value(E::NAME, "item", item)?, ctx)?;
        to_value(E::NAME, "an output", &output)
    }

    fn headlines_of(&self, outputs: &[&Value], settings: &Settings) -> Result<Vec<String>> {
        Ok(self.headlines(&summarise(self, outputs, settings)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;

    /// A toy part: squares of its seeds, summed. Everything the runner and the report need
    /// comes through the erased [`Part`] view of it.
    struct Squares;

    impl Experiment for Squares {
        type Item = u64;
        type Output = (u64, f64);
        type Summary = f64;
        const NAME: &'static str = "squares";
        fn items(&self, s: &Settings) -> Vec<u64> {
            s.seeds(3).collect()
        }
        fn seed(&self, item: &u64) -> u64 {
            *item
        }
        fn run(&self, item: &u64, _ctx: &Context) -> Result<(u64, f64)> {
            Ok((*item, (*item * *item) as f64))
        }
        fn summarise(&self, outputs: &[(u64, f64)], _s: &Settings) -> f64 {
            outputs.iter().map(|o| o.1).sum()
        }
        fn headlines(&self, sum: &f64) -> Vec<String> {
            vec![format!("sum {sum}")]
        }
    }

    #[test]
    fn an_experiment_runs_through_its_erased_view() {
        let empty = || Dataset::from_bytes(&[], vec![], 1, 1);
        let data = Splits {
            train: empty(),
            validation: empty(),
            test: empty(),
        };
        let settings = Settings::quick(5);
        let ctx = Context {
            settings: &settings,
            data: &data,
        };
        let part: &dyn Part = &Squares;
        let items = part.item_values(&settings).unwrap();
        assert_eq!(items, vec![Value::from(5), Value::from(6), Value::from(7)]);
        assert_eq!(part.item_seed(&items[1]).unwrap(), 6);
        let outputs: Vec<Value> = items
            .iter()
            .map(|i| part.run_value(i, &ctx).unwrap())
            .collect();
        let refs: Vec<&Value> = outputs.iter().collect();
        assert_eq!(
            summarise(&Squares, &refs, &settings).unwrap(),
            25.0 + 36.0 + 49.0
        );
        assert_eq!(
            part.headlines_of(&refs, &settings).unwrap(),
            vec!["sum 110"]
        );
        // An output that is not this part's is an error naming the part, not a panic.
        let err = summarise(&Squares, &[&Value::Null], &settings).unwrap_err();
        assert!(err.to_string().contains("squares"), "{err}");
        assert!(part.run_value(&Value::from("x"), &ctx).is_err());
    }
}
