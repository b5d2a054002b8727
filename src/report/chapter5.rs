//! Aggregates `reproduce`'s item results into per-part summaries and writes the report:
//! `chapter5.md` plus a `chapter5/` folder of JSON data and SVG plots.

use super::plot::{line_chart, Chart, Series};
use crate::error::{Error, Result};
use crate::experiments::arithmetic::Arithmetic;
use crate::experiments::book;
use crate::experiments::items::{ItemResult, Part, Plan, SWEEP_ACTS, SWEEP_INITS};
use crate::meta::Machine;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// Quantile `p` of `v` (nearest rank on the sorted values).
pub fn quantile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((s.len() - 1) as f64 * p).round() as usize]
}

#[derive(Serialize)]
pub struct AccuracyRow {
    pub layers: String,
    pub book_percent: f64,
    pub seeds: Vec<u64>,
    pub final_percent: Vec<f64>,
    pub best_percent: Vec<f64>,
    pub final_median: f64,
    pub final_min: f64,
    pub final_max: f64,
    pub best_median: f64,
    pub best_min: f64,
    pub best_max: f64,
    pub median_minus_book: f64,
    pub per_epoch_median: Vec<f64>,
}

#[derive(Serialize)]
pub struct SpeedRow {
    pub hidden_layers: usize,
    pub seeds: usize,
    pub median: Vec<f64>,
    pub p10: Vec<f64>,
    pub p90: Vec<f64>,
    pub book: Vec<f64>,
    pub book_inside_band: Vec<bool>,
    pub last_over_first_median: f64,
    pub book_last_over_first: f64,
}

#[derive(Serialize)]
pub struct CurveRow {
    pub hidden_layers: usize,
    pub seed: u64,
    /// speeds[k][l]: hidden layer l after k full-batch updates.
    pub speeds: Vec<Vec<f64>>,
    /// last/first hidden layer, per iteration.
    pub ratio: Vec<f64>,
    pub ratio_start: f64,
    pub ratio_min: f64,
    pub ratio_max: f64,
    pub ratio_end: f64,
}

#[derive(Serialize)]
pub struct SweepRow {
    pub activation: String,
    pub init: String,
    pub depth: usize,
    /// Median over seeds of each hidden layer's speed.
    pub median: Vec<f64>,
    /// Median over seeds of (first/last)^(1/(depth-1)): > 1 means gradients shrink towards the
    /// input (vanish), < 1 that they grow (explode); 1 is balanced.
    pub shrink_per_layer: f64,
}

/// Everything the report shows.
#[derive(Serialize, Default)]
pub struct Summary {
    pub accuracy: Vec<AccuracyRow>,
    pub initial_speeds: Vec<SpeedRow>,
    pub bars: Option<(Vec<f64>, Vec<f64>)>,
    pub curves: Vec<CurveRow>,
    pub arithmetic: Option<Arithmetic>,
    pub better98: Option<Better98Row>,
    pub sweep: Vec<SweepRow>,
}

/// Chapter 3's run: validation accuracy after each epoch, and how long training took.
#[derive(Serialize, Clone, Debug)]
pub struct Better98Row {
    pub validation_accuracy_percent: Vec<f64>,
    pub train_seconds: f64,
}

fn layers_name(hidden: usize) -> String {
    let mut v = vec!["784".to_string()];
    v.extend(std::iter::repeat_n("30".to_string(), hidden));
    v.push("10".into());
    format!("[{}]", v.join(","))
}

/// Aggregates item results (in any order) into the summary.
pub fn summarise(results: &[ItemResult]) -> Summary {
    let mut s = Summary::default();
    for hidden in 1..=4 {
        let runs: Vec<(u64, &Vec<f64>)> = results
            .iter()
            .filter_map(|r| match r {
                ItemResult::Accuracy {
                    hidden: h,
                    seed,
                    validation,
                    ..
                } if *h == hidden => Some((*seed, validation)),
                _ => None,
            })
            .collect();
        if runs.is_empty() {
            continue;
        }
        let finals: Vec<f64> = runs
            .iter()
            .map(|(_, v)| 100.0 * v.last().copied().unwrap_or(0.0))
            .collect();
        let bests: Vec<f64> = runs
            .iter()
            .map(|(_, v)| 100.0 * v.iter().cloned().fold(0.0, f64::max))
            .collect();
        let epochs = runs[0].1.len();
        let per_epoch_median = (0..epochs)
            .map(|e| 100.0 * quantile(&runs.iter().map(|(_, v)| v[e]).collect::<Vec<_>>(), 0.5))
            .collect();
        let book = book::ACCURACY[hidden - 1];
        s.accuracy.push(AccuracyRow {
            layers: layers_name(hidden),
            book_percent: book,
            seeds: runs.iter().map(|r| r.0).collect(),
            final_median: quantile(&finals, 0.5),
            final_min: quantile(&finals, 0.0),
            final_max: quantile(&finals, 1.0),
            best_median: quantile(&bests, 0.5),
            best_min: quantile(&bests, 0.0),
            best_max: quantile(&bests, 1.0),
            median_minus_book: quantile(&finals, 0.5) - book,
            final_percent: finals,
            best_percent: bests,
            per_epoch_median,
        });
    }
    for hidden in 2..=4 {
        let runs: Vec<&Vec<f64>> = results
            .iter()
            .filter_map(|r| match r {
                ItemResult::InitialSpeed {
                    hidden: h, speeds, ..
                } if *h == hidden => Some(speeds),
                _ => None,
            })
            .collect();
        if runs.is_empty() {
            continue;
        }
        let layer = |l: usize| runs.iter().map(|v| v[l]).collect::<Vec<f64>>();
        let book: Vec<f64> = book::INITIAL_SPEEDS[hidden - 2].to_vec();
        let p10: Vec<f64> = (0..hidden).map(|l| quantile(&layer(l), 0.1)).collect();
        let p90: Vec<f64> = (0..hidden).map(|l| quantile(&layer(l), 0.9)).collect();
        s.initial_speeds.push(SpeedRow {
            hidden_layers: hidden,
            seeds: runs.len(),
            median: (0..hidden).map(|l| quantile(&layer(l), 0.5)).collect(),
            book_inside_band: (0..hidden)
                .map(|l| book[l] >= p10[l] && book[l] <= p90[l])
                .collect(),
            p10,
            p90,
            last_over_first_median: quantile(
                &runs
                    .iter()
                    .map(|v| v[hidden - 1] / v[0])
                    .collect::<Vec<_>>(),
                0.5,
            ),
            book_last_over_first: book[hidden - 1] / book[0],
            book,
        });
    }
    for r in results {
        match r {
            ItemResult::Bars { layer1, layer2, .. } => {
                s.bars = Some((layer1.clone(), layer2.clone()))
            }
            ItemResult::Curve {
                hidden,
                seed,
                speeds,
            } => {
                let ratio: Vec<f64> = speeds.iter().map(|v| v[v.len() - 1] / v[0]).collect();
                s.curves.push(CurveRow {
                    hidden_layers: *hidden,
                    seed: *seed,
                    ratio_start: ratio.first().copied().unwrap_or(f64::NAN),
                    ratio_min: ratio.iter().cloned().fold(f64::MAX, f64::min),
                    ratio_max: ratio.iter().cloned().fold(f64::MIN, f64::max),
                    ratio_end: ratio.last().copied().unwrap_or(f64::NAN),
                    ratio,
                    speeds: speeds.clone(),
                });
            }
            ItemResult::Arithmetic(a) => s.arithmetic = Some(a.clone()),
            ItemResult::Better98 {
                validation,
                train_seconds,
                ..
            } => {
                s.better98 = Some(Better98Row {
                    validation_accuracy_percent: validation.iter().map(|v| 100.0 * v).collect(),
                    train_seconds: *train_seconds,
                })
            }
            _ => {}
        }
    }
    s.curves.sort_by_key(|c| c.hidden_layers);
    for act in SWEEP_ACTS {
        for init in SWEEP_INITS {
            for depth in 1..=64 {
                let runs: Vec<&Vec<f64>> = results
                    .iter()
                    .filter_map(|r| match r {
                        ItemResult::Sweep {
                            act: a,
                            init: i,
                            depth: d,
                            speeds,
                            ..
                        } if *a == act && *i == init && *d == depth => Some(speeds),
                        _ => None,
                    })
                    .collect();
                if runs.is_empty() {
                    continue;
                }
                let shrink = if depth > 1 {
                    quantile(
                        &runs
                            .iter()
                            .map(|v| (v[depth - 1] / v[0]).powf(1.0 / (depth - 1) as f64))
                            .collect::<Vec<_>>(),
                        0.5,
                    )
                } else {
                    1.0
                };
                s.sweep.push(SweepRow {
                    activation: act.name().into(),
                    init: init.name().into(),
                    depth,
                    median: (0..depth)
                        .map(|l| quantile(&runs.iter().map(|v| v[l]).collect::<Vec<_>>(), 0.5))
                        .collect(),
                    shrink_per_layer: shrink,
                });
            }
        }
    }
    s
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

fn write_json(dir: &Path, name: &str, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Io {
        context: format!("serialising {name}"),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(dir.join(name), text).map_err(io(format!("writing {name}")))
}

/// Run metadata for `meta.json`.
#[derive(Serialize, serde::Deserialize, Clone, Debug)]
pub struct Meta {
    pub machine: Machine,
    pub plan: Plan,
    pub seeds: Vec<u64>,
    pub item_seconds_per_part: Vec<(String, f64)>,
    pub total_wall_seconds: f64,
    pub shards: Option<usize>,
}

/// Writes `chapter5.md` and the `chapter5/` folder into `out` (which must exist).
pub fn write_all(out: &Path, summary: &Summary, meta: &Meta) -> Result<()> {
    let data = out.join("chapter5");
    std::fs::create_dir_all(&data).map_err(io(format!("creating {}", data.display())))?;
    write_json(&data, "meta.json", meta)?;
    let parts = &meta.plan.parts;
    if parts.contains(&Part::Accuracy) {
        write_json(&data, "accuracy.json", &summary.accuracy)?;
        let series = summary
            .accuracy
            .iter()
            .map(|r| Series {
                name: format!("{} median", r.layers),
                points: r
                    .per_epoch_median
                    .iter()
                    .enumerate()
                    .map(|(e, &v)| ((e + 1) as f64, v))
                    .collect(),
            })
            .collect::<Vec<_>>();
        line_chart(
            &data.join("accuracy.svg"),
            &Chart {
                title: "Validation accuracy versus epoch, by depth (median over seeds)",
                x_label: "epoch",
                y_label: "validation accuracy (%)",
                log_y: false,
            },
            &series,
        )?;
    }
    if parts.contains(&Part::InitialSpeeds) {
        write_json(
            &data,
            "initial-speeds.json",
            &(&summary.initial_speeds, &summary.bars),
        )?;
        let mut series = Vec::new();
        for r in &summary.initial_speeds {
            series.push(Series {
                name: format!("{} hidden: ours (median)", r.hidden_layers),
                points: r
                    .median
                    .iter()
                    .enumerate()
                    .map(|(l, &v)| ((l + 1) as f64, v))
                    .collect(),
            });
            series.push(Series {
                name: format!("{} hidden: book", r.hidden_layers),
                points: r
                    .book
                    .iter()
                    .enumerate()
                    .map(|(l, &v)| ((l + 1) as f64, v))
                    .collect(),
            });
        }
        line_chart(
            &data.join("initial-speeds.svg"),
            &Chart {
                title: "Initial speed of learning per hidden layer",
                x_label: "hidden layer",
                y_label: "||dC/db|| (log)",
                log_y: true,
            },
            &series,
        )?;
    }
    if parts.contains(&Part::Curves) {
        write_json(&data, "curves.json", &summary.curves)?;
        for c in &summary.curves {
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
                })
                .collect::<Vec<_>>();
            let title = format!("Speed of learning: {} hidden layers", c.hidden_layers);
            line_chart(
                &data.join(format!("curves-{}.svg", c.hidden_layers)),
                &Chart {
                    title: &title,
                    x_label: "epoch (full-batch update)",
                    y_label: "||dC/db|| (log)",
                    log_y: true,
                },
                &series,
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
        let max_depth = summary.sweep.iter().map(|r| r.depth).max().unwrap_or(1);
        let series = summary
            .sweep
            .iter()
            .filter(|r| r.depth == max_depth)
            .map(|r| Series {
                name: format!("{} / {}", r.activation, r.init),
                points: r
                    .median
                    .iter()
                    .enumerate()
                    .map(|(l, &v)| ((l + 1) as f64, v))
                    .collect(),
            })
            .collect::<Vec<_>>();
        let title = format!("Initial speed per hidden layer, {max_depth} hidden layers of 30");
        line_chart(
            &data.join("beyond.svg"),
            &Chart {
                title: &title,
                x_label: "hidden layer",
                y_label: "||dC/db|| (log)",
                log_y: true,
            },
            &series,
        )?;
    }
    let md = markdown(summary, meta);
    std::fs::write(out.join("chapter5.md"), md).map_err(io("writing chapter5.md".into()))
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

/// The human-readable report.
pub fn markdown(s: &Summary, meta: &Meta) -> String {
    let st = &meta.plan.settings;
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
    if !s.accuracy.is_empty() {
        let _ = writeln!(md, "## 1. Accuracy versus depth\n");
        let _ = writeln!(md, "Default init, cross-entropy, {} epochs, mini-batch 10, eta 0.1, lambda 5.0 (n = 50,000); {} seeds each ({} .. {}).\n", st.accuracy_epochs, st.accuracy_seeds, st.base_seed, st.base_seed + st.accuracy_seeds as u64 - 1);
        let _ = writeln!(md, "| network | book | ours: final, median (range) | ours: best epoch, median (range) | median - book |\n|---|---|---|---|---|");
        for r in &s.accuracy {
            let _ = writeln!(
                md,
                "| {} | {:.2} % | {:.2} % ({:.2} .. {:.2}) | {:.2} % ({:.2} .. {:.2}) | {:+.2} |",
                r.layers,
                r.book_percent,
                r.final_median,
                r.final_min,
                r.final_max,
                r.best_median,
                r.best_min,
                r.best_max,
                r.median_minus_book
            );
        }
        let meds: Vec<f64> = s.accuracy.iter().map(|r| r.final_median).collect();
        let spread = quantile(&meds, 1.0) - quantile(&meds, 0.0);
        let worst = s
            .accuracy
            .iter()
            .map(|r| r.median_minus_book.abs())
            .fold(0.0, f64::max);
        let _ = writeln!(
            md,
            "\nThe book does not say whether it quotes the last or the best epoch, so both are shown. Our final medians for the four depths span {spread:.2} points (the book's span 0.42): extra hidden layers {} The largest gap between a median and the book's value is {worst:.2} points{}.\n\n![accuracy](chapter5/accuracy.svg)\n",
            if spread < 1.0 { "barely change accuracy, as in the book." } else { "change accuracy by more than the book saw (fewer epochs give the deeper nets less time to start learning)." },
            if worst <= 0.4 { ", within the 0.4-point bar" } else { "; more than 0.4 points, so this run does not match the book there" }
        );
    }
    if !s.initial_speeds.is_empty() {
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
        if let Some((l1, l2)) = &s.bars {
            let _ = writeln!(md, "\nThe book's bars (fresh [784,30,30,10], seed {}): signed averaged bias gradient of the first six neurons of hidden layer 1: {}; of hidden layer 2: {} (layer-2 bars larger in magnitude, as in the book).", st.base_seed, fmt_list(l1, 4), fmt_list(l2, 4));
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
            "\nEach step towards the input divides the median speed by {:.1} to {:.1} (book: roughly 4-6), the chapter's vanishing gradient. {inside} of the book's {total} values lie inside our 10th-90th percentile bands; the others are single draws from the same spread (the book sets no seed).\n\n![initial speeds](chapter5/initial-speeds.svg)\n",
            quantile(&steps, 0.0),
            quantile(&steps, 1.0)
        );
    }
    if !s.curves.is_empty() {
        let _ = writeln!(md, "## 3. Speed of learning during training\n");
        let _ = writeln!(md, "{} iterations of {{record speeds, one full-batch step on the same {} images, eta 0.1, lambda 5.0, n = {}}}, seed {}.\n", st.curve_iterations, st.batch_images, st.batch_images, st.base_seed);
        let _ = writeln!(md, "| hidden layers | last/first at start | min | max | at the end | book |\n|---|---|---|---|---|---|");
        for c in &s.curves {
            let book = match c.hidden_layers {
                4 => "~100x, between about 50 and 140",
                2 => "both fall, then rebound; layer 1 stays slower",
                _ => "-",
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
    if let Some(a) = &s.arithmetic {
        let _ = writeln!(md, "## 4. The arithmetic of unstable gradients\n");
        let _ = writeln!(md, "- sigma'(0) from our kernel: {} (= 1/4); the largest sigma' on a grid over [-10, 10]: {} (the maximum is at 0).", a.sigma_prime_at_0, a.sigma_prime_max_on_grid);
        let _ = writeln!(md, "- One-neuron chains, weights and biases N(0, 1), {} chains: the per-layer factor |w sigma'(z)| has median {:.4}, 90th percentile {:.4}, 99th {:.4}; {:.1} % of factors are below 1/4 and {:.2} % below 1. The median ratio |dC/db_1| / |dC/db_4| is {:.2e}: gradients vanish.", a.chain_samples, a.chain_factor_median, a.chain_factor_p90, a.chain_factor_p99, 100.0 * a.chain_fraction_below_quarter, 100.0 * a.chain_fraction_below_one, a.chain_ratio_first_to_last_median);
        let _ = writeln!(md, "- Exploding: w = 100, biases chosen so every z = 0: each factor w sigma'(0) = {}, and dC/db_1 = {} x dC/db_4 (book: 25 and 15,625).", a.exploding_factor, a.exploding_ratio_first_to_last);
        let _ = writeln!(md, "- The exercise: the width of {{a : |w sigma'(wa + b)| >= 1}} is largest at |w| = {:.3}, width {:.4} (book: {} and {}). Formula against a brute-force scan (step 1e-4):\n", a.exercise_argmax_w, a.exercise_max_width, book::EXERCISE_W, book::EXERCISE_WIDTH);
        let _ = writeln!(md, "| |w| | formula | scan |\n|---|---|---|");
        for p in a.exercise.iter().step_by(4) {
            let _ = writeln!(md, "| {:.2} | {:.5} | {:.5} |", p.w, p.formula, p.scan);
        }
        let _ = writeln!(md);
    }
    if let Some(Better98Row {
        validation_accuracy_percent: acc,
        train_seconds: secs,
    }) = &s.better98
    {
        let best = acc.iter().cloned().fold(0.0, f64::max);
        let _ = writeln!(md, "## 5. Chapter 3's \"better than 98 %\"\n");
        let _ = writeln!(md, "[784,100,10], large N(0,1) init, cross-entropy, {} epochs, mini-batch 10, eta 0.1, lambda 5.0, seed {}: final {:.2} %, best {:.2} % (book: {:.2} %), {:.1} s of training.\n", acc.len(), st.base_seed, acc.last().copied().unwrap_or(0.0), best, book::BETTER_98, secs);
    }
    if !s.sweep.is_empty() {
        let max_depth = s.sweep.iter().map(|r| r.depth).max().unwrap_or(1);
        let _ = writeln!(
            md,
            "## 6. Beyond the book: which choices keep gradients balanced\n"
        );
        let _ = writeln!(md, "Initial speed per hidden layer for 1 to {max_depth} hidden layers of 30, sigmoid output, cross-entropy, first {} images, {} seeds per configuration. \"Shrink per layer\" is the median of (first/last)^(1/(L-1)): above 1 gradients vanish towards the input, below 1 they explode, 1 is balanced. (N(0,1) is the book's \"large\" init; default is N(0, 1/fan_in) with N(0,1) biases; Glorot N(0, 2/(fan_in+fan_out)) and He N(0, 2/fan_in) with zero biases.)\n", st.batch_images, st.sweep_seeds);
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
    let _ = writeln!(md, "## Run\n");
    let _ = writeln!(md, "Whole run: {:.1} s of wall time. Seconds per part, summed over its work items (items of all parts run interleaved on every thread):\n", meta.total_wall_seconds);
    let _ = writeln!(md, "| part | item seconds |\n|---|---|");
    for (p, t) in &meta.item_seconds_per_part {
        let _ = writeln!(md, "| {p} | {t:.1} |");
    }
    let _ = writeln!(md, "\nData and plots: `chapter5/*.json`, `chapter5/*.svg`; run metadata in `chapter5/meta.json`.");
    md
}
