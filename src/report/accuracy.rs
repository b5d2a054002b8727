//! Section 1: accuracy versus depth, a table and one figure.

use super::svg::{self, Axis, LineChart, Marker, Series, Stroke};
use super::{json_file, Section, SummaryOf};
use crate::book;
use crate::error::Result;
use crate::experiments::accuracy::{Accuracy, AccuracyRow};
use crate::experiments::run::Meta;
use crate::stats::quantile;
use std::fmt::Write as _;

/// The section of [`Accuracy`].
pub struct AccuracySection;

impl Section for AccuracySection {
    type Part = Accuracy;
    const PART: Accuracy = Accuracy;

    fn files(&self, rows: &SummaryOf<Self>) -> Result<Vec<(String, String)>> {
        Ok(vec![
            json_file("accuracy.json", rows)?,
            ("accuracy.svg".into(), svg::line_chart_svg(&figure(rows))),
        ])
    }

    fn markdown(&self, rows: &SummaryOf<Self>, meta: &Meta) -> String {
        let mut md = String::new();
        if rows.is_empty() {
            return md;
        }
        let st = &meta.plan.settings;
        let _ = writeln!(md, "## 1. Accuracy versus depth\n");
        let _ = writeln!(md, "Default init, cross-entropy, {} epochs, mini-batch {}, eta {}, lambda {} (n = 50,000); {} seeds each ({} .. {}).\n", st.accuracy_epochs, book::MINI_BATCH, book::ETA, book::LAMBDA, st.accuracy_seeds, st.base_seed, st.base_seed + st.accuracy_seeds as u64 - 1);
        let _ = writeln!(md, "| network | book | ours: final, median (range) | book's percentile among our finals | ours: best epoch, median (range) | book's percentile among our bests | median - book |\n|---|---|---|---|---|---|---|");
        for r in rows {
            let _ = writeln!(
            md,
            "| {} | {:.2} % | {:.2} % ({:.2} .. {:.2}) | {:.0} | {:.2} % ({:.2} .. {:.2}) | {:.0} | {:+.2} |",
            r.layers,
            r.book_percent,
            r.final_median,
            r.final_min,
            r.final_max,
            r.book_percentile_final,
            r.best_median,
            r.best_min,
            r.best_max,
            r.book_percentile_best,
            r.median_minus_book
        );
        }
        let meds: Vec<f64> = rows.iter().map(|r| r.final_median).collect();
        let spread = quantile(&meds, 1.0) - quantile(&meds, 0.0);
        let inside = rows
            .iter()
            .filter(|r| r.book_percent >= r.final_min && r.book_percent <= r.final_max)
            .count();
        let _ = writeln!(
        md,
        "\nThe book does not say whether it quotes the last or the best epoch, so both are shown. The book's figure is one unseeded float64 run, so it is judged against our spread, not our median: {inside} of its {} values lie within the range of our final accuracies; a percentile of 50 means it sits mid-spread, 0 or 100 that it lies outside. Our final medians for the four depths span {spread:.2} points (the book's span {:.2}): extra hidden layers {}\n\n![accuracy](chapter5/accuracy.svg)\n",
        rows.len(),
        book::accuracy_span(),
        if spread < 1.0 { "barely change accuracy, as in the book." } else { "change accuracy by more than the book saw (fewer epochs give the deeper nets less time to start learning)." },
    );
        md
    }
}

/// Accuracy per epoch, one line per depth, with the book's final values as hollow diamonds in
/// a column just right of the last epoch (side by side, so close values stay apart). The y
/// axis is fitted to the last four fifths of the epochs, where the depths differ by tenths of
/// a point; the first epochs of slow starters are clipped, and the note says so.
pub fn figure(rows: &[AccuracyRow]) -> LineChart {
    let epochs = rows
        .iter()
        .map(|r| r.per_epoch_median.len())
        .max()
        .unwrap_or(0);
    let skip = if epochs > 4 { epochs / 5 } else { 0 };
    let shown = rows
        .iter()
        .flat_map(|r| r.per_epoch_median.iter().skip(skip).copied())
        .chain(rows.iter().map(|r| r.book_percent));
    let (lo, hi) = shown.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let clipped = rows
        .iter()
        .flat_map(|r| r.per_epoch_median.iter())
        .any(|&v| v < lo);
    let mut series = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        series.push(Series {
            name: format!("{}: ours, median of {}", r.layers, r.seeds.len()),
            points: r
                .per_epoch_median
                .iter()
                .enumerate()
                .map(|(e, &v)| ((e + 1) as f64, v))
                .collect(),
            color: svg::color(i),
            stroke: Stroke::Solid,
            marker: if epochs <= 40 {
                Marker::Circle
            } else {
                Marker::None
            },
        });
        series.push(Series {
            name: format!("{}: book, {:.2} %", r.layers, r.book_percent),
            points: vec![(epochs as f64 + 1.0 + 0.6 * i as f64, r.book_percent)],
            color: svg::color(i),
            stroke: Stroke::None,
            marker: Marker::Diamond,
        });
    }
    let pad = 0.05 * (hi - lo).max(0.1);
    LineChart {
        title: "Validation accuracy versus epoch, by depth".into(),
        note: if clipped {
            format!(
                "diamonds right of the last epoch: the book; y axis fitted to epochs {}+ (earlier ones lie below)",
                skip + 1
            )
        } else {
            "diamonds right of the last epoch: the book's final values".into()
        },
        x: Axis::integer("epoch"),
        y: Axis {
            range: Some((lo - pad, hi + pad)),
            ..Axis::linear("validation accuracy (%)")
        },
        bands: vec![],
        series,
    }
}
