//! Section 2: initial speeds per hidden layer (table and figure) and the book's bar chart.

use super::svg::{self, Axis, Band, BarChart, LineChart, Marker, Series, Stroke};
use super::{fmt_list, json_file, sci, Section, SummaryOf};
use crate::book;
use crate::error::Result;
use crate::experiments::initial_speeds::{InitialSpeeds, SpeedRow};
use crate::experiments::run::Meta;
use crate::stats::quantile;
use std::fmt::Write as _;

/// The section of [`InitialSpeeds`].
pub struct SpeedsSection;

impl Section for SpeedsSection {
    type Part = InitialSpeeds;
    const PART: InitialSpeeds = InitialSpeeds;

    fn files(&self, s: &SummaryOf<Self>) -> Result<Vec<(String, String)>> {
        let mut v = vec![
            json_file("initial-speeds.json", &(&s.rows, &s.bars))?,
            (
                "initial-speeds.svg".into(),
                svg::line_chart_svg(&figure(&s.rows)),
            ),
        ];
        if let Some(b) = &s.bars {
            v.push((
                "bars.svg".into(),
                svg::bar_chart_svg(&bars(&b.layer1, &b.layer2, b.seed)),
            ));
        }
        Ok(v)
    }

    fn markdown(&self, s: &SummaryOf<Self>, meta: &Meta) -> String {
        let mut md = String::new();
        if s.rows.is_empty() {
            return md;
        }
        let st = &meta.plan.settings;
        let _ = writeln!(md, "## 2. Initial speed of learning per hidden layer\n");
        let _ = writeln!(md, "||dC/db_l|| of each hidden layer for a fresh network (default init), cost averaged over the first {} training images (norm of the mean gradient), {} seeds per depth.\n", st.batch_images, st.speed_seeds);
        let _ = writeln!(md, "| hidden layers | ours: median | ours: 10th-90th percentile | book | book inside our band | last/first: ours (median), book |\n|---|---|---|---|---|---|");
        for r in &s.rows {
            let band = r
                .p10
                .iter()
                .zip(&r.p90)
                .map(|(a, b)| format!("{a:.3e}..{b:.3e}"))
                .collect::<Vec<_>>()
                .join(", ");
            let inside = r
                .book_inside_band
                .iter()
                .map(|&b| if b { "yes" } else { "no" })
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {:.1}x, {:.1}x |",
                r.hidden_layers,
                sci(&r.median),
                band,
                sci(&r.book),
                inside,
                r.last_over_first_median,
                r.book_last_over_first
            );
        }
        let steps: Vec<f64> = s
            .rows
            .iter()
            .flat_map(|r| r.median.windows(2).map(|w| w[1] / w[0]).collect::<Vec<_>>())
            .collect();
        let inside = s
            .rows
            .iter()
            .flat_map(|r| r.book_inside_band.iter())
            .filter(|&&b| b)
            .count();
        let total = s
            .rows
            .iter()
            .map(|r| r.book_inside_band.len())
            .sum::<usize>();
        let _ = writeln!(
        md,
        "\nEach step towards the input divides the median speed by {:.1} to {:.1} (book: roughly {}-{}), the chapter's vanishing gradient. {inside} of the book's {total} values lie inside our 10th-90th percentile bands (shaded in the figure); the others are single draws from the same spread (the book sets no seed).\n\n![initial speeds](chapter5/initial-speeds.svg)\n",
        quantile(&steps, 0.0),
        quantile(&steps, 1.0),
        book::STEP_DIVISOR.0,
        book::STEP_DIVISOR.1
    );
        if let Some(b) = &s.bars {
            let bigger = b
                .layer1
                .iter()
                .zip(&b.layer2)
                .filter(|(a, c)| c.abs() > a.abs())
                .count();
            let _ = writeln!(md, "The book's bar chart (fresh [784,30,30,10], seed {}): signed averaged bias gradient of the first six neurons of hidden layer 1: {}; of hidden layer 2: {}. Layer 2's bar is the larger in magnitude for {bigger} of the 6 neurons (the book: layer-2 bars mostly much larger).\n\n![bias gradients](chapter5/bars.svg)\n", b.seed, fmt_list(&b.layer1, 4), fmt_list(&b.layer2, 4));
        }
        md
    }
}

/// Initial speed per hidden layer: our median (solid, filled circles) inside our 10th-90th
/// percentile band (shaded), and the book's value (dashed, hollow squares) in the same colour.
pub fn figure(rows: &[SpeedRow]) -> LineChart {
    let layer = |l: usize| (l + 1) as f64;
    let mut bands = Vec::new();
    let mut series = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let c = svg::color(i);
        bands.push(Band {
            name: format!("{} hidden: ours, 10th-90th percentile", r.hidden_layers),
            points: (0..r.median.len())
                .map(|l| (layer(l), r.p10[l], r.p90[l]))
                .collect(),
            color: c,
        });
        series.push(Series {
            name: format!("{} hidden: ours, median of {}", r.hidden_layers, r.seeds),
            points: r
                .median
                .iter()
                .enumerate()
                .map(|(l, &v)| (layer(l), v))
                .collect(),
            color: c,
            stroke: Stroke::Solid,
            marker: Marker::Circle,
        });
        series.push(Series {
            name: format!("{} hidden: book", r.hidden_layers),
            points: r
                .book
                .iter()
                .enumerate()
                .map(|(l, &v)| (layer(l), v))
                .collect(),
            color: c,
            stroke: Stroke::Dashed,
            marker: Marker::Square,
        });
    }
    LineChart {
        title: "Initial speed of learning per hidden layer".into(),
        note: "layer 1 is nearest the input; shaded: our 10th-90th percentile over seeds".into(),
        x: Axis::integer("hidden layer"),
        y: Axis::log10("speed ||dC/db|| (log scale)"),
        bands,
        series,
    }
}

/// The book's bar chart: the signed averaged bias gradient of the first six neurons of each
/// hidden layer of a fresh `[784,30,30,10]`.
pub fn bars(layer1: &[f64], layer2: &[f64], seed: u64) -> BarChart {
    BarChart {
        title: "Bias gradients of the first six neurons, fresh [784,30,30,10]".into(),
        note: format!(
            "dC/db averaged over the batch, seed {seed}; bars under each layer are neurons 1-6"
        ),
        y_label: "dC/db".into(),
        bar_labels: (1..=layer1.len().max(layer2.len()))
            .map(|n| n.to_string())
            .collect(),
        groups: vec![
            ("hidden layer 1".into(), layer1.to_vec()),
            ("hidden layer 2".into(), layer2.to_vec()),
        ],
        y_range: None,
    }
}
