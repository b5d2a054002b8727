//! Turning a run's summary into files: JSON data, SVG figures and the Markdown report. Depends
//! on `experiments` for the summary's types, never the other way round.

pub mod chapter5;
pub mod figures;
pub mod svg;
