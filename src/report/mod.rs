//! Turning experiment results into files: JSON data, SVG plots and the Markdown report.

pub mod chapter5;
pub mod plot;
