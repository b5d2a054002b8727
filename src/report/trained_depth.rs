//! Section 8: accuracy against depth with and without the remedies, a table with the initial
//! shrink per layer beside each accuracy, a reading, and one figure.

use super::svg::{self, Axis, Band, LineChart, Marker, Series, Stroke};
use super::{json_file, Section, SummaryOf};
use crate::error::Result;
use crate::experiments::run::Meta;
use crate::experiments::trained_depth::{
    DepthRow, TrainedDepth, CHOICES, VALIDATION_IMAGES, WIDTH,
};
use std::fmt::Write as _;

/// The section of [`TrainedDepth`].
pub struct TrainedDepthSection;

impl Section for TrainedDepthSection {
    type Part = TrainedDepth;
    const PART: TrainedDepth = TrainedDepth;

    fn files(&self, rows: &SummaryOf<Self>) -> Result<Vec<(String, String)>> {
        Ok(vec![
            json_file("trained-depth.json", rows)?,
            (
                "trained-depth.svg".into(),
                svg::line_chart_svg(&figure(rows)),
            ),
        ])
    }

    fn markdown(&self, rows: &SummaryOf<Self>, meta: &Meta) -> String {
        let mut md = String::new();
        if rows.is_empty() {
            return md;
        }
        let st = &meta.plan.settings;
        let names: Vec<String> = CHOICES.iter().map(|c| c.name()).collect();
        let _ = writeln!(
            md,
            "## 8. Does a deeper network learn better with the remedies?\n"
        );
        let _ = writeln!(md, "1 to {} hidden layers of {WIDTH}, sigmoid output, cross-entropy, batch {}, the book's per-example L2 strength, trained {} epochs on the first {} training images, {} seed(s) per cell; validation accuracy on the first {VALIDATION_IMAGES} validation images. Choices: {}. Plain SGD runs at eta 0.1 for every activation, momentum 0.9 at eta 0.03. Each cell: the final accuracy's median over seeds [lowest-highest], then the fresh network's initial speed shrink per layer (section 6's measure, {}; 1 is balanced, above 1 vanishing).\n",
            st.sweep_max_depth, crate::book::MINI_BATCH, st.depth_epochs, st.depth_images, st.depth_seeds, names.join("; "), crate::experiments::beyond::SHRINK_DEFINITION);
        let _ = write!(md, "| hidden layers |");
        for n in &names {
            let _ = write!(md, " {n} |");
        }
        let _ = writeln!(md, "\n|---|{}", "---|".repeat(names.len()));
        let depths = rows.iter().map(|r| r.depth).max().unwrap_or(0);
        for d in 1..=depths {
            let _ = write!(md, "| {d} |");
            for n in &names {
                match rows.iter().find(|r| r.depth == d && &r.choice == n) {
                    Some(r) => {
                        let _ = write!(
                            md,
                            " {:.2} % [{:.2}-{:.2}], shrink {:.2} |",
                            r.final_median, r.final_min, r.final_max, r.initial_shrink
                        );
                    }
                    None => {
                        let _ = write!(md, " - |");
                    }
                }
            }
            let _ = writeln!(md);
        }
        let _ = writeln!(
            md,
            "\n{}\n\n![trained depth](chapter5/trained-depth.svg)\n",
            reading(
                rows,
                &names,
                st.depth_epochs * st.depth_images.div_ceil(crate::book::MINI_BATCH)
            )
        );
        md
    }
}

/// Per choice: the depth of its best median final accuracy, and how it fares at the deepest.
fn reading(rows: &[DepthRow], names: &[String], updates: usize) -> String {
    let deepest = rows.iter().map(|r| r.depth).max().unwrap_or(0);
    let parts: Vec<String> = names
        .iter()
        .filter_map(|n| {
            let mine: Vec<&DepthRow> = rows.iter().filter(|r| &r.choice == n).collect();
            let best = mine
                .iter()
                .max_by(|a, b| a.final_median.total_cmp(&b.final_median))?;
            let one = mine.iter().find(|r| r.depth == 1)?;
            let last = mine.iter().find(|r| r.depth == deepest)?;
            Some(format!(
                "{n}: best at {} hidden ({:.2} %), {:.2} % at 1 and {:.2} % at {deepest} (shrink {:.2} there)",
                best.depth, best.final_median, one.final_median, last.final_median, last.initial_shrink
            ))
        })
        .collect();
    // Does a balanced start predict the trained result? Compare, at the deepest net, the
    // choices' ordering by accuracy with their ordering by how far the shrink is from 1.
    let mut at: Vec<&DepthRow> = rows.iter().filter(|r| r.depth == deepest).collect();
    at.sort_by(|a, b| b.final_median.total_cmp(&a.final_median));
    let imbalance = |r: &DepthRow| r.initial_shrink.ln().abs();
    let most_balanced = at
        .iter()
        .min_by(|a, b| imbalance(a).total_cmp(&imbalance(b)))
        .map(|r| r.choice.clone());
    let most_accurate = at.first().map(|r| r.choice.clone());
    let predicts = match (&most_balanced, &most_accurate) {
        (Some(b), Some(a)) if a == b => format!("At {deepest} hidden layers the most balanced start ({b}) is also the most accurate network."),
        (Some(b), Some(a)) => format!("At {deepest} hidden layers the most balanced start ({b}) is not the most accurate network ({a}): a balanced start alone does not decide the trained result."),
        _ => String::new(),
    };
    // Sutskever et al.'s remedy: how deep the sigmoid network still learns (median final
    // accuracy above 50 %) with and without momentum.
    let learns_to = |name: &str| {
        rows.iter()
            .filter(|r| r.choice == name && r.final_median > 50.0)
            .map(|r| r.depth)
            .max()
    };
    let momentum = match (
        CHOICES.first().map(|c| learns_to(&c.name())),
        CHOICES.last().map(|c| learns_to(&c.name())),
    ) {
        (Some(Some(plain)), Some(Some(with))) => format!(
            " Momentum (Sutskever et al.'s remedy) {} the sigmoid network: with it, median accuracy stays above 50 % up to {with} hidden layers, without it up to {plain}.",
            if with > plain { "helps" } else if with == plain { "does not deepen" } else { "hurts" }
        ),
        _ => String::new(),
    };
    let stuck = rows.iter().filter(|r| r.final_median < 20.0).count();
    let plateau = if stuck > 0 {
        format!(" {stuck} cells end below 20 % (chance is 10 %): networks that did not learn within this budget of {updates} updates. For sigmoid that is the slow start, not a limit: section 1's 4-hidden-layer sigmoid network, trained 30 epochs on all 50,000 images, ends near the 1-hidden network's accuracy.")
    } else {
        String::new()
    };
    format!(
        "Reading: {}. {predicts}{momentum}{plateau}",
        parts.join("; ")
    )
}

/// Final accuracy against depth: per choice, the median (line) and the seeds' range (band).
/// (The median best epoch is in the JSON; drawn too, it lay on the final lines.)
pub fn figure(rows: &[DepthRow]) -> LineChart {
    let names: Vec<String> = CHOICES.iter().map(|c| c.name()).collect();
    let mut bands = Vec::new();
    let mut series = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let mine: Vec<&DepthRow> = rows.iter().filter(|r| &r.choice == n).collect();
        if mine.is_empty() {
            continue;
        }
        bands.push(Band {
            name: format!("{n}: range over seeds"),
            points: mine
                .iter()
                .map(|r| (r.depth as f64, r.final_min, r.final_max))
                .collect(),
            color: svg::color(i),
        });
        series.push(Series {
            name: format!("{n}: final"),
            points: mine
                .iter()
                .map(|r| (r.depth as f64, r.final_median))
                .collect(),
            color: svg::color(i),
            stroke: Stroke::Solid,
            marker: Marker::Circle,
        });
    }
    LineChart {
        title: "Validation accuracy against depth, with and without the remedies".into(),
        note: format!("hidden layers of {WIDTH}; median final accuracy over seeds (line) and their range (band)"),
        x: Axis::integer("hidden layers"),
        y: Axis::linear("validation accuracy (%)"),
        bands,
        series,
    }
}
