//! Turning a run's results into files: JSON data, SVG figures and the Markdown report. Each
//! part of the reproduction has its section here, one module implementing [`Section`] for its
//! experiment; `chapter5` puts the sections together and `svg` draws the figures. Depends on
//! `experiments` for the summaries' types, never the other way round.
//!
//! Adding a section: a module implementing [`Section`] and one line in [`SECTIONS`].

pub mod accuracy;
pub mod arithmetic;
pub mod better98;
pub mod beyond;
pub mod chapter5;
pub mod curves;
pub mod initial_speeds;
pub mod saturation;
pub mod svg;
pub mod trained_depth;

use crate::error::{Error, Result};
use crate::experiments::run::Meta;
use crate::experiments::{self, Experiment};
use serde::Serialize;
use serde_json::Value;

/// The summary type of a section's experiment.
pub type SummaryOf<S> = <<S as Section>::Part as Experiment>::Summary;

/// One part's section of the report: its data files and figures under `chapter5/`, and its
/// Markdown.
pub trait Section: Sync {
    /// The experiment whose summary the section shows.
    type Part: Experiment;
    /// That experiment.
    const PART: Self::Part;

    /// Files under `chapter5/`, as (file name, contents): the summary's JSON and the figures.
    fn files(&self, summary: &SummaryOf<Self>) -> Result<Vec<(String, String)>>;

    /// The Markdown section (may be empty), figures linked as `chapter5/NAME`.
    fn markdown(&self, summary: &SummaryOf<Self>, meta: &Meta) -> String;
}

/// A section's output for one run.
pub struct Rendered {
    pub files: Vec<(String, String)>,
    pub markdown: String,
}

/// A [`Section`] behind the experiments' JSON values, so sections of different types sit in
/// one list. Implemented for every section.
pub trait Publish: Sync {
    /// The part's name ([`Experiment::NAME`]).
    fn name(&self) -> &'static str;
    /// Summarises the part's outputs and renders the section.
    fn render(&self, outputs: &[&Value], meta: &Meta) -> Result<Rendered>;
}

impl<S: Section> Publish for S {
    fn name(&self) -> &'static str {
        <S::Part as Experiment>::NAME
    }

    fn render(&self, outputs: &[&Value], meta: &Meta) -> Result<Rendered> {
        let summary = experiments::summarise(&S::PART, outputs, &meta.plan.settings)?;
        Ok(Rendered {
            files: self.files(&summary)?,
            markdown: self.markdown(&summary, meta),
        })
    }
}

/// Every section, in the report's order.
pub static SECTIONS: [&dyn Publish; 8] = [
    &accuracy::AccuracySection,
    &initial_speeds::SpeedsSection,
    &curves::CurvesSection,
    &arithmetic::ArithmeticSection,
    &better98::Better98Section,
    &beyond::BeyondSection,
    &saturation::SaturationSection,
    &trained_depth::TrainedDepthSection,
];

/// A data file: `value` as pretty-printed JSON.
pub fn json_file(name: &str, value: &impl Serialize) -> Result<(String, String)> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Io {
        context: format!("serialising {name}"),
        source: std::io::Error::other(e),
    })?;
    Ok((name.to_string(), text))
}

/// Numbers with `digits` decimals, comma-separated.
pub fn fmt_list(v: &[f64], digits: usize) -> String {
    v.iter()
        .map(|x| format!("{x:.digits$}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Numbers in scientific notation, comma-separated.
pub fn sci(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.3e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every experiment has exactly one section, in the same order.
    #[test]
    fn one_section_per_part_in_the_same_order() {
        let parts: Vec<&str> = experiments::PARTS.iter().map(|p| p.name()).collect();
        let sections: Vec<&str> = SECTIONS.iter().map(|s| s.name()).collect();
        assert_eq!(parts, sections);
    }
}
