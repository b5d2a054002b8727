//! Section 6, beyond the book: the sweep's table at the deepest net, a reading of it, and one
//! figure.

use super::svg::{self, Axis, LineChart, Marker, Series, Stroke};
use super::{json_file, Section, SummaryOf};
use crate::error::Result;
use crate::experiments::beyond::{Beyond, SweepRow, SHRINK_DEFINITION, SWEEP_ACTS, SWEEP_INITS};
use crate::experiments::run::Meta;
use std::fmt::Write as _;

/// The section of [`Beyond`].
pub struct BeyondSection;

impl Section for BeyondSection {
    type Part = Beyond;
    const PART: Beyond = Beyond;

    fn files(&self, rows: &SummaryOf<Self>) -> Result<Vec<(String, String)>> {
        let inits: Vec<&str> = SWEEP_INITS.iter().map(|i| i.name()).collect();
        let acts: Vec<&str> = SWEEP_ACTS.iter().map(|a| a.name()).collect();
        Ok(vec![
            json_file("beyond.json", rows)?,
            (
                "beyond.svg".into(),
                svg::line_chart_svg(&figure(rows, &inits, &acts)),
            ),
        ])
    }

    fn markdown(&self, rows: &SummaryOf<Self>, meta: &Meta) -> String {
        let mut md = String::new();
        if rows.is_empty() {
            return md;
        }
        let st = &meta.plan.settings;
        let max_depth = rows.iter().map(|r| r.depth).max().unwrap_or(1);
        let _ = writeln!(
            md,
            "## 6. Beyond the book: which choices keep gradients balanced\n"
        );
        let _ = writeln!(md, "Initial speed per hidden layer for 1 to {max_depth} hidden layers of 30, sigmoid output, cross-entropy, first {} images, {} seeds per configuration. \"Shrink per layer\" is the median over seeds of {SHRINK_DEFINITION}, where first is the hidden layer nearest the input and L the number of hidden layers: the factor by which the speed falls per layer on the way to the input. Above 1 gradients vanish towards the input, below 1 they explode, 1 is balanced. (N(0,1) is the book's \"large\" init; default is N(0, 1/fan_in) with N(0,1) biases; Glorot N(0, 2/(fan_in+fan_out)) and He N(0, 2/fan_in) with zero biases.)\n", st.batch_images, st.sweep_seeds);
        let _ = writeln!(md, "| activation | init | shrink per layer at {max_depth} hidden | first-layer speed at {max_depth} hidden | last-layer speed |\n|---|---|---|---|---|");
        for r in rows.iter().filter(|r| r.depth == max_depth) {
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {:.3e} | {:.3e} |",
                r.activation,
                r.init,
                r.shrink_per_layer,
                r.median[0],
                r.median[max_depth - 1]
            );
        }
        let at_max: Vec<&SweepRow> = rows.iter().filter(|r| r.depth == max_depth).collect();
        let names = |pred: &dyn Fn(f64) -> bool| {
            at_max
                .iter()
                .filter(|r| pred(r.shrink_per_layer))
                .map(|r| format!("{} / {} ({:.2}x)", r.activation, r.init, r.shrink_per_layer))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let none = |s: String| if s.is_empty() { "none".to_string() } else { s };
        let sigmoid_all_vanish = at_max
            .iter()
            .filter(|r| r.activation == "sigmoid")
            .all(|r| r.shrink_per_layer > 1.25);
        let _ = writeln!(
        md,
        "\nReading, at {max_depth} hidden layers: gradients vanish towards the input (shrink > 1.5 per layer) for {}; they explode (< 0.8) for {}; they stay balanced (0.8 .. 1.25) for {}. {}\n\n![beyond](chapter5/beyond.svg)\n",
        none(names(&|x| x > 1.5)),
        none(names(&|x| x < 0.8)),
        none(names(&|x| (0.8..=1.25).contains(&x))),
        if sigmoid_all_vanish {
            "Sigmoid hidden layers vanish under every initialisation tried: sigma' is at most 1/4, so only weights large enough to saturate the units could offset it. An activation with derivative near 1 around 0 (tanh, ReLU) together with a variance-preserving initialisation is what keeps the layers learning at the same speed."
        } else {
            "Not every sigmoid configuration vanishes at this depth; see the table."
        }
    );
        md
    }
}

/// Beyond the book at the deepest net: colour by initialisation, line style and marker by
/// activation.
pub fn figure(rows: &[SweepRow], inits: &[&str], acts: &[&str]) -> LineChart {
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
