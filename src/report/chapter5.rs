//! The Markdown report and its files: `chapter5.md` plus a `chapter5/` folder of JSON data and
//! SVG figures, written from a [`Summary`]. Statistics are computed in
//! `experiments::summary`; figures are laid out in `figures` and drawn by `svg`.

use super::{figures, svg};
use crate::book;
use crate::error::{Error, Result};
use crate::experiments::items::{Part, SWEEP_ACTS, SWEEP_INITS};
use crate::experiments::summary::{Better98Row, Meta, Summary, SweepRow, SHRINK_DEFINITION};
use crate::fsutil::write_atomic;
use crate::stats::quantile;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

fn write_json(dir: &Path, name: &str, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Io {
        context: format!("serialising {name}"),
        source: std::io::Error::other(e),
    })?;
    write_atomic(&dir.join(name), text)
}

/// Names of the figures the report writes for `summary` under `chapter5/`, in order.
pub fn figure_files(summary: &Summary, parts: &[Part]) -> Vec<String> {
    let mut v = Vec::new();
    if parts.contains(&Part::Accuracy) {
        v.push("accuracy.svg".to_string());
    }
    if parts.contains(&Part::InitialSpeeds) {
        v.push("initial-speeds.svg".to_string());
        if summary.bars.is_some() {
            v.push("bars.svg".to_string());
        }
    }
    if parts.contains(&Part::Curves) {
        v.extend(
            summary
                .curves
                .iter()
                .map(|c| format!("curves-{}.svg", c.hidden_layers)),
        );
    }
    if parts.contains(&Part::Beyond) {
        v.push("beyond.svg".to_string());
    }
    v
}

/// Writes `chapter5.md` and the `chapter5/` folder into `out` (which must exist).
pub fn write_all(out: &Path, summary: &Summary, meta: &Meta) -> Result<()> {
    let data = out.join("chapter5");
    std::fs::create_dir_all(&data).map_err(|source| Error::Io {
        context: format!("creating {}", data.display()),
        source,
    })?;
    write_json(&data, "meta.json", meta)?;
    let parts = &meta.plan.parts;
    let figure = |name: &str, svg_text: String| write_atomic(&data.join(name), svg_text);
    if parts.contains(&Part::Accuracy) {
        write_json(&data, "accuracy.json", &summary.accuracy)?;
        figure(
            "accuracy.svg",
            svg::line_chart_svg(&figures::accuracy(&summary.accuracy)),
        )?;
    }
    if parts.contains(&Part::InitialSpeeds) {
        write_json(
            &data,
            "initial-speeds.json",
            &(&summary.initial_speeds, &summary.bars),
        )?;
        figure(
            "initial-speeds.svg",
            svg::line_chart_svg(&figures::initial_speeds(&summary.initial_speeds)),
        )?;
        if let Some(b) = &summary.bars {
            figure(
                "bars.svg",
                svg::bar_chart_svg(&figures::bars(&b.layer1, &b.layer2, b.seed)),
            )?;
        }
    }
    if parts.contains(&Part::Curves) {
        write_json(&data, "curves.json", &summary.curves)?;
        for c in &summary.curves {
            figure(
                &format!("curves-{}.svg", c.hidden_layers),
                svg::line_chart_svg(&figures::curves(c)),
            )?;
        }
    }
    if let Some(a) = &summary.arithmetic {
        write_json(&data, "arithmetic.json", a)?;
    }
    if let Some(b) = &summary.better98 {
        write_json(&data, "better98.json", b)?;
    }
    if parts.contains(&Part::Beyond) {
        write_json(&data, "beyond.json", &summary.sweep)?;
        let inits: Vec<&str> = SWEEP_INITS.iter().map(|i| i.name()).collect();
        let acts: Vec<&str> = SWEEP_ACTS.iter().map(|a| a.name()).collect();
        figure(
            "beyond.svg",
            svg::line_chart_svg(&figures::beyond(&summary.sweep, &inits, &acts)),
        )?;
    }
    write_atomic(&out.join("chapter5.md"), markdown(summary, meta))
}

fn fmt_list(v: &[f64], digits: usize) -> String {
    v.iter()
        .map(|x| format!("{x:.digits$}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sci(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.3e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The human-readable report: a header, then one section per part that ran.
pub fn markdown(s: &Summary, meta: &Meta) -> String {
    let m = &meta.machine;
    let mut md = String::new();
    let _ = writeln!(md, "# Chapter 5, reproduced\n");
    let _ = writeln!(
        md,
        "Produced by `vanishing reproduce` in {:.1} s on {} ({} logical CPUs, kernels {} / {}, {} threads), rustc {}, revision {}. \
         Every number below is computed by that command; the book's values are from *Neural Networks and Deep Learning*, chapter 5 (and chapter 3). \
         We compute in f32 on our own kernels; the book computes in float64 and sets no seed, so each of its numbers is one sample of a spread: \
         we report medians and ranges over seeds instead. Data: MNIST, the book's split (first 50,000 training images train, the last 10,000 validate), pixels byte/256.\n",
        meta.total_wall_seconds, m.cpu, m.logical_cpus, m.gemm_kernel, m.sigmoid_kernel, m.threads, m.rustc, m.git_revision
    );
    section_accuracy(&mut md, s, meta);
    section_speeds(&mut md, s, meta);
    section_curves(&mut md, s, meta);
    section_arithmetic(&mut md, s);
    section_better98(&mut md, s, meta);
    section_beyond(&mut md, s, meta);
    section_run(&mut md, meta);
    md
}

fn section_accuracy(md: &mut String, s: &Summary, meta: &Meta) {
    if s.accuracy.is_empty() {
        return;
    }
    let st = &meta.plan.settings;
    let _ = writeln!(md, "## 1. Accuracy versus depth\n");
    let _ = writeln!(md, "Default init, cross-entropy, {} epochs, mini-batch {}, eta {}, lambda {} (n = 50,000); {} seeds each ({} .. {}).\n", st.accuracy_epochs, book::MINI_BATCH, book::ETA, book::LAMBDA, st.accuracy_seeds, st.base_seed, st.base_seed + st.accuracy_seeds as u64 - 1);
    let _ = writeln!(md, "| network | book | ours: final, median (range) | book's percentile among our finals | ours: best epoch, median (range) | book's percentile among our bests | median - book |\n|---|---|---|---|---|---|---|");
    for r in &s.accuracy {
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
    let meds: Vec<f64> = s.accuracy.iter().map(|r| r.final_median).collect();
    let spread = quantile(&meds, 1.0) - quantile(&meds, 0.0);
    let inside = s
        .accuracy
        .iter()
        .filter(|r| r.book_percent >= r.final_min && r.book_percent <= r.final_max)
        .count();
    let _ = writeln!(
        md,
        "\nThe book does not say whether it quotes the last or the best epoch, so both are shown. The book's figure is one unseeded float64 run, so it is judged against our spread, not our median: {inside} of its {} values lie within the range of our final accuracies; a percentile of 50 means it sits mid-spread, 0 or 100 that it lies outside. Our final medians for the four depths span {spread:.2} points (the book's span {:.2}): extra hidden layers {}\n\n![accuracy](chapter5/accuracy.svg)\n",
        s.accuracy.len(),
        book::accuracy_span(),
        if spread < 1.0 { "barely change accuracy, as in the book." } else { "change accuracy by more than the book saw (fewer epochs give the deeper nets less time to start learning)." },
    );
}

fn section_speeds(md: &mut String, s: &Summary, meta: &Meta) {
    if s.initial_speeds.is_empty() {
        return;
    }
    let st = &meta.plan.settings;
    let _ = writeln!(md, "## 2. Initial speed of learning per hidden layer\n");
    let _ = writeln!(md, "||dC/db_l|| of each hidden layer for a fresh network (default init), cost averaged over the first {} training images (norm of the mean gradient), {} seeds per depth.\n", st.batch_images, st.speed_seeds);
    let _ = writeln!(md, "| hidden layers | ours: median | ours: 10th-90th percentile | book | book inside our band | last/first: ours (median), book |\n|---|---|---|---|---|---|");
    for r in &s.initial_speeds {
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
        .initial_speeds
        .iter()
        .flat_map(|r| r.median.windows(2).map(|w| w[1] / w[0]).collect::<Vec<_>>())
        .collect();
    let inside = s
        .initial_speeds
        .iter()
        .flat_map(|r| r.book_inside_band.iter())
        .filter(|&&b| b)
        .count();
    let total = s
        .initial_speeds
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
}

fn section_curves(md: &mut String, s: &Summary, meta: &Meta) {
    if s.curves.is_empty() {
        return;
    }
    let st = &meta.plan.settings;
    let _ = writeln!(md, "## 3. Speed of learning during training\n");
    let _ = writeln!(md, "{} iterations of {{record speeds, one full-batch step on the same {} images, eta {}, lambda {}, n = {}}}, seed {}.\n", st.curve_iterations, st.batch_images, book::ETA, book::LAMBDA, st.batch_images, st.base_seed);
    let _ = writeln!(md, "| hidden layers | last/first at start | min | max | at the end | book |\n|---|---|---|---|---|---|");
    let (typical, low, high) = book::CURVE_RATIO_4;
    for c in &s.curves {
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
    for c in &s.curves {
        let _ = writeln!(
            md,
            "\n![speed, {} hidden](chapter5/curves-{}.svg)",
            c.hidden_layers, c.hidden_layers
        );
    }
    let _ = writeln!(md);
}

fn section_arithmetic(md: &mut String, s: &Summary) {
    let Some(a) = &s.arithmetic else {
        return;
    };
    let book_factor = book::EXPLODING_W * 0.25;
    let _ = writeln!(md, "## 4. The arithmetic of unstable gradients\n");
    let _ = writeln!(md, "- sigma'(0) from our kernel: {} (= 1/4); the largest sigma' on a grid over [-10, 10]: {} (the maximum is at 0).", a.sigma_prime_at_0, a.sigma_prime_max_on_grid);
    let _ = writeln!(md, "- One-neuron chains, weights and biases N(0, 1), {} chains: the per-layer factor |w sigma'(z)| has median {:.4}, 90th percentile {:.4}, 99th {:.4}; {:.1} % of factors are below 1/4 and {:.2} % below 1. The median ratio |dC/db_1| / |dC/db_4| is {:.2e}: gradients vanish.", a.chain_samples, a.chain_factor_median, a.chain_factor_p90, a.chain_factor_p99, 100.0 * a.chain_fraction_below_quarter, 100.0 * a.chain_fraction_below_one, a.chain_ratio_first_to_last_median);
    let _ = writeln!(md, "- Exploding: w = {}, biases chosen so every z = 0: each factor w sigma'(0) = {}, and dC/db_1 = {} x dC/db_4 (book: {} and {}).", book::EXPLODING_W, a.exploding_factor, a.exploding_ratio_first_to_last, book_factor, book_factor.powi(3));
    let _ = writeln!(md, "- The exercise: the width of {{a : |w sigma'(wa + b)| >= 1}} is largest at |w| = {:.3}, width {:.4} (book: {} and {}). Formula against a brute-force scan (step 1e-4):\n", a.exercise_argmax_w, a.exercise_max_width, book::EXERCISE_W, book::EXERCISE_WIDTH);
    let _ = writeln!(md, "| |w| | formula | scan |\n|---|---|---|");
    for p in a.exercise.iter().step_by(4) {
        let _ = writeln!(md, "| {:.2} | {:.5} | {:.5} |", p.w, p.formula, p.scan);
    }
    let _ = writeln!(md);
}

fn section_better98(md: &mut String, s: &Summary, meta: &Meta) {
    let Some(Better98Row {
        validation_accuracy_percent: acc,
        train_seconds: secs,
    }) = &s.better98
    else {
        return;
    };
    let best = acc.iter().cloned().fold(0.0, f64::max);
    let _ = writeln!(md, "## 5. Chapter 3's \"better than 98 %\"\n");
    let _ = writeln!(md, "[784,100,10], large N(0,1) init, cross-entropy, {} epochs, mini-batch {}, eta {}, lambda {}, seed {}: final {:.2} %, best {:.2} % (book: {:.2} %), {:.1} s of training.\n", acc.len(), book::MINI_BATCH, book::ETA, book::LAMBDA, meta.plan.settings.base_seed, acc.last().copied().unwrap_or(0.0), best, book::BETTER_98, secs);
}

fn section_beyond(md: &mut String, s: &Summary, meta: &Meta) {
    if s.sweep.is_empty() {
        return;
    }
    let st = &meta.plan.settings;
    let max_depth = s.sweep.iter().map(|r| r.depth).max().unwrap_or(1);
    let _ = writeln!(
        md,
        "## 6. Beyond the book: which choices keep gradients balanced\n"
    );
    let _ = writeln!(md, "Initial speed per hidden layer for 1 to {max_depth} hidden layers of 30, sigmoid output, cross-entropy, first {} images, {} seeds per configuration. \"Shrink per layer\" is the median over seeds of {SHRINK_DEFINITION}, where first is the hidden layer nearest the input and L the number of hidden layers: the factor by which the speed falls per layer on the way to the input. Above 1 gradients vanish towards the input, below 1 they explode, 1 is balanced. (N(0,1) is the book's \"large\" init; default is N(0, 1/fan_in) with N(0,1) biases; Glorot N(0, 2/(fan_in+fan_out)) and He N(0, 2/fan_in) with zero biases.)\n", st.batch_images, st.sweep_seeds);
    let _ = writeln!(md, "| activation | init | shrink per layer at {max_depth} hidden | first-layer speed at {max_depth} hidden | last-layer speed |\n|---|---|---|---|---|");
    for r in s.sweep.iter().filter(|r| r.depth == max_depth) {
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
    let at_max: Vec<&SweepRow> = s.sweep.iter().filter(|r| r.depth == max_depth).collect();
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
}

fn section_run(md: &mut String, meta: &Meta) {
    let _ = writeln!(md, "## Run\n");
    let _ = writeln!(md, "Whole run: {:.1} s of wall time. Seconds per part, summed over its work items (items of all parts run interleaved on every thread):\n", meta.total_wall_seconds);
    let _ = writeln!(md, "| part | item seconds |\n|---|---|");
    for (p, t) in &meta.item_seconds_per_part {
        let _ = writeln!(md, "| {p} | {t:.1} |");
    }
    let _ = writeln!(md, "\nData and plots: `chapter5/*.json`, `chapter5/*.svg`; run metadata in `chapter5/meta.json`.");
}
