//! Section 3: learning-speed curves during full-batch training, a table and one figure per
//! depth.

use super::svg::{self, Axis, LineChart, Marker, Series, Stroke};
use super::{json_file, Section, SummaryOf};
use crate::book;
use crate::error::Result;
use crate::experiments::curves::{CurveRow, Curves};
use crate::experiments::run::Meta;
use std::fmt::Write as _;

/// The section of [`Curves`].
pub struct CurvesSection;

impl Section for CurvesSection {
    type Part = Curves;
    const PART: Curves = Curves;

    fn files(&self, rows: &SummaryOf<Self>) -> Result<Vec<(String, String)>> {
        let mut v = vec![json_file("curves.json", rows)?];
        for c in rows {
            v.push((
                format!("curves-{}.svg", c.hidden_layers),
                svg::line_chart_svg(&figure(c)),
            ));
        }
        Ok(v)
    }

    fn markdown(&self, rows: &SummaryOf<Self>, meta: &Meta) -> String {
        let mut md = String::new();
        if rows.is_empty() {
            return md;
        }
        let st = &meta.plan.settings;
        let _ = writeln!(md, "## 3. Speed of learning during training\n");
        let _ = writeln!(md, "{} iterations of {{record speeds, one full-batch step on the same {} images, eta {}, lambda {}, n = {}}}, seed {}.\n", st.curve_iterations, st.batch_images, book::ETA, book::LAMBDA, st.batch_images, st.base_seed);
        let _ = writeln!(md, "| hidden layers | last/first at start | min | max | at the end | book |\n|---|---|---|---|---|---|");
        let (typical, low, high) = book::CURVE_RATIO_4;
        for c in rows {
            let book = match c.hidden_layers {
                4 => format!("~{typical:.0}x, between about {low:.0} and {high:.0}"),
                2 => "both fall, then rebound; layer 1 stays slower".into(),
                _ => "-".into(),
            };
            let _ = writeln!(
                md,
                "| {} | {:.1}x | {:.1}x | {:.1}x | {:.1}x | {} |",
                c.hidden_layers, c.ratio_start, c.ratio_min, c.ratio_max, c.ratio_end, book
            );
        }
        for c in rows {
            let _ = writeln!(
                md,
                "\n![speed, {} hidden](chapter5/curves-{}.svg)",
                c.hidden_layers, c.hidden_layers
            );
        }
        let _ = writeln!(&mut md);
        md
    }
}

/// One curve figure: each hidden layer's speed per full-batch update.
pub fn figure(c: &CurveRow) -> LineChart {
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
