//! Section 7, the chapter's "other obstacles": Glorot and Bengio's saturation of the top hidden
//! layer, measured on MNIST: a table of the top layer's course per activation, a reading of it
//! against their claim, and one figure per activation drawn as their Figure 2.

use super::svg::{self, Axis, Band, LineChart, Marker, Series, Stroke};
use super::{json_file, Section, SummaryOf};
use crate::error::Result;
use crate::experiments::run::Meta;
use crate::experiments::saturation::{
    self, ActivationSummary, Saturation, HIDDEN, NEAR_ZERO, PROBE_IMAGES, VALIDATION_IMAGES, WIDTH,
};
use std::fmt::Write as _;

/// The section of [`Saturation`].
pub struct SaturationSection;

impl Section for SaturationSection {
    type Part = Saturation;
    const PART: Saturation = Saturation;

    fn files(&self, rows: &SummaryOf<Self>) -> Result<Vec<(String, String)>> {
        let mut v = vec![json_file("saturation.json", rows)?];
        for s in rows {
            v.push((
                format!("saturation-{}.svg", s.activation),
                svg::line_chart_svg(&figure(s)),
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
        let updates_per_epoch = st.saturation_images.div_ceil(crate::book::MINI_BATCH);
        let _ = writeln!(
            md,
            "## 7. Other obstacles: do sigmoid units saturate? (Glorot and Bengio, 2010)\n"
        );
        let _ = writeln!(md, "The chapter's last section cites Glorot and Bengio: with sigmoid units and the then-standard initialisation, the activations of the *top* hidden layer are driven to 0 early in training and stay there for a long time, which slows learning; tanh and softsign suffer less. Here: [784,{}x{},10] (their depth, narrower), their standard initialisation U[-1/sqrt(fan_in), 1/sqrt(fan_in)] with zero biases, cross-entropy, batch {}, eta {}, lambda {} on the first {} training images ({} updates per epoch), {} epochs, {} seed(s) per activation; validation accuracy on the first {} validation images. After every epoch, each hidden layer's activations over {} fixed validation images are summarised by their mean and 2nd-98th percentiles (median over seeds).\n",
            HIDDEN, WIDTH, crate::book::MINI_BATCH, saturation::ETA, saturation::lambda(st.saturation_images), st.saturation_images, updates_per_epoch, st.saturation_epochs, st.saturation_seeds, VALIDATION_IMAGES, PROBE_IMAGES);
        let _ = writeln!(md, "| hidden units | top layer mean at start | lowest mean (epoch) | epochs with its 98th percentile below {NEAR_ZERO} | mean at the end | final validation accuracy |\n|---|---|---|---|---|---|");
        for s in rows {
            let t = &s.top_layer;
            let _ = writeln!(
                md,
                "| {} | {:.3} | {:.3} ({}) | {} of {} | {:.3} | {} |",
                s.activation,
                t.initial_mean,
                t.min_mean,
                t.min_epoch,
                t.saturated_epochs,
                s.median.len().saturating_sub(1),
                t.final_mean,
                t.final_validation_accuracy
                    .map_or("-".into(), |a| format!("{:.2} %", 100.0 * a))
            );
        }
        let _ = writeln!(md, "\n{}\n", reading(rows));
        for s in rows {
            let _ = writeln!(
                md,
                "![saturation, {0}](chapter5/saturation-{0}.svg)\n",
                s.activation
            );
        }
        md
    }
}

/// Accuracy below this counts as "at chance" for ten classes (chance is 10 %).
const NEAR_CHANCE: f64 = 0.2;

fn percent(a: Option<f64>) -> String {
    a.map_or("-".into(), |a| format!("{:.2} %", 100.0 * a))
}

/// The plain reading of the table against the paper's claim.
fn reading(rows: &[ActivationSummary]) -> String {
    let Some(sig) = rows.iter().find(|s| s.activation == "sigmoid") else {
        return "No sigmoid run in this reproduction.".into();
    };
    let t = &sig.top_layer;
    let epochs = sig.median.len().saturating_sub(1);
    let stalled = t.final_validation_accuracy.is_some_and(|a| a < NEAR_CHANCE);
    let learning = if stalled {
        format!(
            " Meanwhile the network does not learn: validation accuracy is {} after {epochs} epochs, chance level, as in the paper's plateau.",
            percent(t.final_validation_accuracy)
        )
    } else {
        format!(
            " The network learns nonetheless ({} after {epochs} epochs).",
            percent(t.final_validation_accuracy)
        )
    };
    let claim = match (t.first_mean_below, t.saturated_epochs) {
        (_, n) if n > 0 => format!(
            "Their finding holds here: the sigmoid network's top hidden layer falls from a mean of {:.3} to {:.3} (epoch {}), and for {n} of {epochs} epochs 98 % of its activations are below {NEAR_ZERO}.",
            t.initial_mean, t.min_mean, t.min_epoch
        ),
        (Some(e), _) => format!(
            "Their finding holds here, slowly: the sigmoid network's top hidden layer is driven from a mean of {:.3} towards 0, below {NEAR_ZERO} from epoch {e} on, {:.3} at the end (2nd-98th percentiles {:.3}-{:.3}), while the layers below it end with means of {}.",
            t.initial_mean, t.final_mean, t.final_low, t.final_high, lower_means(sig)
        ),
        (None, _) if t.min_mean < 0.5 * t.initial_mean => format!(
            "It holds in part here: the sigmoid network's top hidden layer falls from a mean of {:.3} to {:.3} (epoch {}), towards 0 as the paper describes, but its mean never falls below {NEAR_ZERO} in {epochs} epochs.",
            t.initial_mean, t.min_mean, t.min_epoch
        ),
        (None, _) => format!(
            "It does not show here: the sigmoid network's top hidden layer starts at a mean of {:.3} and its lowest mean over {epochs} epochs is {:.3} (epoch {}).",
            t.initial_mean, t.min_mean, t.min_epoch
        ),
    };
    let others: Vec<String> = rows
        .iter()
        .filter(|s| s.activation != "sigmoid")
        .map(|s| {
            let o = &s.top_layer;
            format!(
                "{}: final accuracy {}, top layer's 2nd-98th percentiles {:.3} to {:.3} at the end",
                s.activation,
                percent(o.final_validation_accuracy),
                o.final_low,
                o.final_high
            )
        })
        .collect();
    let ends: Vec<String> = rows
        .iter()
        .filter(|s| s.activation != "sigmoid")
        .map(|s| {
            let o = &s.top_layer;
            if o.final_low < -0.95 && o.final_high > 0.95 {
                format!(
                    "{}'s units end at the ends of its range, +-1 (saturated there)",
                    s.activation
                )
            } else {
                format!("{}'s stay inside its range", s.activation)
            }
        })
        .collect();
    format!(
        "Reading: {claim}{learning} The activations centred on 0 learn under the same initialisation and learning rate ({}); {}. Glorot and Bengio report the same contrast: tanh layers saturate one after another at +-1, softsign's sit at its knees.",
        if others.is_empty() { "none run".into() } else { others.join("; ") },
        ends.join("; ")
    )
}

/// The final means of the hidden layers below the top one, as text.
fn lower_means(s: &ActivationSummary) -> String {
    let Some(last) = s.median.last() else {
        return "-".into();
    };
    let n = last.layers.len().saturating_sub(1);
    last.layers[..n]
        .iter()
        .map(|l| format!("{:.2}", l.mean))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One activation as their Figure 2: per hidden layer, the mean (line) and the 2nd-98th
/// percentiles (band) against training epochs.
pub fn figure(s: &ActivationSummary) -> LineChart {
    let layers = s.median.first().map_or(0, |k| k.layers.len());
    let at = |l: usize| {
        s.median
            .iter()
            .map(move |k| (k.epoch as f64, k.layers[l]))
            .collect::<Vec<_>>()
    };
    let bands = (0..layers)
        .map(|l| Band {
            name: format!("layer {} 2-98 %", l + 1),
            points: at(l).iter().map(|&(x, st)| (x, st.low, st.high)).collect(),
            color: svg::color(l),
        })
        .collect();
    let series = (0..layers)
        .map(|l| Series {
            name: format!("layer {} mean", l + 1),
            points: at(l).iter().map(|&(x, st)| (x, st.mean)).collect(),
            color: svg::color(l),
            stroke: Stroke::Solid,
            marker: Marker::None,
        })
        .collect();
    let range = if s.activation == "sigmoid" {
        (0.0, 1.0)
    } else {
        (-1.0, 1.0)
    };
    LineChart {
        title: format!(
            "{} hidden units: activations per hidden layer during training",
            s.activation
        ),
        note: format!(
            "[784,{HIDDEN}x{WIDTH},10], standard init; mean (line) and 2nd-98th percentiles (band) over {PROBE_IMAGES} validation images; layer {HIDDEN} is the top"
        ),
        x: Axis::integer(&match s.median.get(1) {
            Some(k) => format!("epochs ({} updates each)", k.updates),
            None => "epochs".into(),
        }),
        y: Axis {
            range: Some(range),
            ..Axis::linear("activation value")
        },
        bands,
        series,
    }
}
