//! Chapter 5's measurements (and what the suite adds beyond the book). Each part is one
//! module implementing [`Experiment`]: its work items (independent and deterministic), how
//! one is computed, and how their outputs aggregate into the part's summary. A run computes
//! items (all of them, or one shard's slice); shards merged give exactly what one run gives.
//! Writing the summaries out is `crate::report`'s job; this module knows nothing of it.
//!
//! Adding a part: a module here implementing [`Experiment`], one line in [`PARTS`], and its
//! report section (`crate::report`, one module and one line in its registry).

pub mod accuracy;
pub mod arithmetic;
pub mod better98;
pub mod beyond;
pub mod compare;
pub mod curves;
mod experiment;
pub mod initial_speeds;
pub mod plan;
pub mod run;
pub mod saturation;
pub mod setup;
pub mod speed;
pub mod trained_depth;

use crate::error::{Error, Result};
pub use experiment::{outputs, summarise, Context, Experiment, Part};
pub use plan::{Plan, Settings, WorkItem};

/// Every part, in the report's order (`--only` names, in the same order).
pub static PARTS: [&dyn Part; 8] = [
    &accuracy::Accuracy,
    &initial_speeds::InitialSpeeds,
    &curves::Curves,
    &arithmetic::UnstableGradients,
    &better98::Better98,
    &beyond::Beyond,
    &saturation::Saturation,
    &trained_depth::TrainedDepth,
];

/// The part called `name`.
pub fn part(name: &str) -> Result<&'static dyn Part> {
    PARTS
        .iter()
        .copied()
        .find(|p| p.name() == name.trim())
        .ok_or_else(|| Error::Invalid {
            what: "part",
            problem: format!(
                "'{name}' is not one of {}",
                PARTS.map(|p| p.name()).join(", ")
            ),
        })
}

/// The parts named in a comma-separated `--only` list, in [`PARTS`] order, each once.
pub fn parse_parts(list: &str) -> Result<Vec<String>> {
    let named: Vec<&str> = list
        .split(',')
        .map(|s| part(s).map(|p| p.name()))
        .collect::<Result<_>>()?;
    Ok(PARTS
        .iter()
        .map(|p| p.name())
        .filter(|n| named.contains(n))
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_have_unique_names_and_parse_in_report_order() {
        let names: Vec<&str> = PARTS.iter().map(|p| p.name()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert_eq!(
            parse_parts("beyond, accuracy,beyond").unwrap(),
            vec!["accuracy", "beyond"]
        );
        let err = parse_parts("accuracy,nope").unwrap_err().to_string();
        assert!(
            err.contains("'nope'") && err.contains("initial-speeds"),
            "{err}"
        );
    }
}
