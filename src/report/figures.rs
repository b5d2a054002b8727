//! The report's figures, built from the summary: which data goes on which axis, in which style.
//! Drawing itself is `svg`'s job.

use super::svg::{self, Axis, Band, BarChart, LineChart, Marker, Series, Stroke};
use crate::experiments::summary::{AccuracyRow, CurveRow, SpeedRow, SweepRow};

/// Accuracy per epoch, one line per depth, with the book's final values as hollow diamonds in
/// a column just right of the last epoch (side by side, so close values stay apart). The y
/// axis is fitted to the last four fifths of the epochs, where the depths differ by tenths of
/// a point; the first epochs of slow starters are clipped, and the note says so.
pub fn accuracy(rows: &[AccuracyRow]) -> LineChart {
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

/// Initial speed per hidden layer: our median (solid, filled circles) inside our 10th-90th
/// percentile band (shaded), and the book's value (dashed, hollow squares) in the same colour.
pub fn initial_speeds(rows: &[SpeedRow]) -> LineChart {
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
/// hidden layer of a fresh [784,30,30,10].
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
    }
}

/// One curve figure: each hidden layer's speed per full-batch update.
pub fn curves(c: &CurveRow) -> LineChart {
    let layers = c.speeds.first().map_or(0, |v| v.len());
    let series = (0..layers)
        .map(|l| Series {
            name: format!("hidden layer {}", l + 1),
            points: c
                .speeds
                .iter()
                .enumerate()
                .map(|(k, v)| (k as f64, v[l]))
                .collect(),
            color: svg::color(l),
            stroke: Stroke::Solid,
            marker: Marker::None,
        })
        .collect();
    LineChart {
        title: format!("Speed of learning: {} hidden layers", c.hidden_layers),
        note: format!("seed {}; layer 1 is nearest the input", c.seed),
        x: Axis::integer("epoch (full-batch update)"),
        y: Axis::log10("speed ||dC/db|| (log scale)"),
        bands: vec![],
        series,
    }
}

/// Beyond the book at the deepest net: colour by initialisation, line style and marker by
/// activation.
pub fn beyond(rows: &[SweepRow], inits: &[&str], acts: &[&str]) -> LineChart {
    let max_depth = rows.iter().map(|r| r.depth).max().unwrap_or(1);
    let style = |a: usize| match a % 3 {
        0 => (Stroke::Solid, Marker::Circle),
        1 => (Stroke::Dashed, Marker::Square),
        _ => (Stroke::Dotted, Marker::Triangle),
    };
    let series = rows
        .iter()
        .filter(|r| r.depth == max_depth)
        .map(|r| {
            let a = acts.iter().position(|x| *x == r.activation).unwrap_or(0);
            let i = inits.iter().position(|x| *x == r.init).unwrap_or(0);
            let (stroke, marker) = style(a);
            Series {
                name: format!("{} / {}", r.activation, r.init),
                points: r
                    .median
                    .iter()
                    .enumerate()
                    .map(|(l, &v)| ((l + 1) as f64, v))
                    .collect(),
                color: svg::color(i),
                stroke,
                marker,
            }
        })
        .collect();
    LineChart {
        title: format!("Initial speed per hidden layer, {max_depth} hidden layers of 30"),
        note: "median over seeds; colour: initialisation, line and marker: activation".into(),
        x: Axis::integer("hidden layer (1 = nearest the input)"),
        y: Axis::log10("speed ||dC/db|| (log scale)"),
        bands: vec![],
        series,
    }
}
