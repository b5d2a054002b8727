//! The report's figures are readable: every SVG parses, no text (tick labels included) prints a
//! number with more than 6 significant digits, and no text is placed outside the canvas. Checked
//! on the committed figures, on the figures of a fresh quick report, and on synthetic data with
//! awkward ranges.

use std::path::Path;
use vanishing::experiments::accuracy::AccuracyRow;
use vanishing::experiments::beyond::SweepRow;
use vanishing::experiments::curves::CurveRow;
use vanishing::experiments::initial_speeds::SpeedRow;
use vanishing::report::{self, svg};

/// One `<text>` element: its attributes and its content with inner tags removed.
struct Text {
    x: f64,
    y: f64,
    size: f64,
    anchor: String,
    rotated: bool,
    content: String,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    let end = tag[at..].find('"')?;
    Some(tag[at..at + end].to_string())
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in s.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            _ if !inside => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The canvas size and every text element of `svg`. Panics on malformed markup.
fn parse(svg: &str) -> ((f64, f64), Vec<Text>) {
    let root_at = svg.find("<svg").expect("an <svg> element");
    let root = &svg[root_at..root_at + svg[root_at..].find('>').expect("closed <svg>")];
    let num = |s: Option<String>, what: &str| -> f64 {
        s.unwrap_or_else(|| panic!("missing {what}"))
            .trim_end_matches("px")
            .parse()
            .unwrap_or_else(|_| panic!("bad {what}"))
    };
    let canvas = (
        num(attr(root, "width"), "width"),
        num(attr(root, "height"), "height"),
    );
    assert!(svg.trim_end().ends_with("</svg>"), "unterminated SVG");
    let mut texts = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text") {
        let after = &rest[start..];
        let open_end = after.find('>').expect("closed <text>");
        let tag = &after[..open_end];
        let close = after.find("</text>").expect("</text>");
        let content = strip_tags(&after[open_end + 1..close]);
        texts.push(Text {
            x: num(attr(tag, "x"), "text x"),
            y: num(attr(tag, "y"), "text y"),
            size: attr(tag, "font-size").map_or(16.0, |s| s.parse().expect("font-size")),
            anchor: attr(tag, "text-anchor").unwrap_or_else(|| "start".into()),
            rotated: attr(tag, "transform").is_some_and(|t| t.contains("rotate(-90")),
            content,
        });
        rest = &after[close + 7..];
    }
    (canvas, texts)
}

/// Significant digits of each number written in `s` (digits after leading zeros, up to an
/// exponent).
fn significant_digits(s: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let number: String = chars[start..i].iter().collect();
            // An exponent belongs to the number and adds no significant digits.
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '-' || chars[j] == '+') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            let digits: String = number.chars().filter(|c| c.is_ascii_digit()).collect();
            let sig = digits.trim_start_matches('0');
            // Trailing zeros of an integer are not significant; of a decimal they are printed
            // precision and count.
            let sig = if number.contains('.') {
                sig.len()
            } else {
                sig.trim_end_matches('0').len()
            };
            out.push((number, sig));
        } else {
            i += 1;
        }
    }
    out
}

/// Every problem with one SVG, as readable lines.
fn lint(name: &str, svg: &str) -> Vec<String> {
    let ((w, h), texts) = parse(svg);
    let mut problems = Vec::new();
    for t in &texts {
        for (number, sig) in significant_digits(&t.content) {
            if sig > 6 {
                problems.push(format!(
                    "{name}: '{}' prints {number} with {sig} significant digits",
                    t.content
                ));
            }
        }
        let len = svg::text_width(&t.content, t.size);
        let (before, after) = match t.anchor.as_str() {
            "middle" => (len / 2.0, len / 2.0),
            "end" => (len, 0.0),
            _ => (0.0, len),
        };
        // Along the text's own direction, and across it (ascent above the baseline).
        let (x0, x1, y0, y1) = if t.rotated {
            (t.x - t.size, t.x + 0.3 * t.size, t.y - after, t.y + before)
        } else {
            (t.x - before, t.x + after, t.y - t.size, t.y + 0.3 * t.size)
        };
        if x0 < 0.0 || y0 < 0.0 || x1 > w || y1 > h {
            problems.push(format!(
                "{name}: '{}' spans x {x0:.0}..{x1:.0}, y {y0:.0}..{y1:.0}, outside the {w}x{h} canvas",
                t.content
            ));
        }
    }
    if texts.is_empty() {
        problems.push(format!("{name}: no text at all (no axes?)"));
    }
    problems
}

#[test]
fn the_lint_catches_what_it_should() {
    let ok = r#"<svg width="100" height="50"><text x="50" y="20" font-size="10" text-anchor="middle">10<tspan>-3</tspan></text></svg>"#;
    assert!(lint("ok", ok).is_empty(), "{:?}", lint("ok", ok));
    let long = r#"<svg width="100" height="50"><text x="50" y="20" font-size="10" text-anchor="middle">999.9999999998</text></svg>"#;
    assert_eq!(lint("long", long).len(), 1);
    let clipped = r#"<svg width="100" height="50"><text x="2" y="20" font-size="10" text-anchor="end">0.001</text></svg>"#;
    assert_eq!(lint("clipped", clipped).len(), 1);
    let rotated_off = r#"<svg width="100" height="50"><text x="18" y="25" font-size="10" text-anchor="middle" transform="rotate(-90 18 25)">a very long axis label</text></svg>"#;
    assert_eq!(lint("rotated", rotated_off).len(), 1);
    assert_eq!(significant_digits("1e-5 9999999999e-5")[1].1, 10);
    assert_eq!(significant_digits("0.0012 100000")[0].1, 2);
    assert_eq!(significant_digits("0.0012 100000")[1].1, 1);
}

fn lint_dir(dir: &Path) -> usize {
    let mut checked = 0;
    let mut problems = Vec::new();
    for e in std::fs::read_dir(dir).expect("figure directory").flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".svg") {
            let text = std::fs::read_to_string(e.path()).unwrap();
            problems.extend(lint(&name, &text));
            checked += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    checked
}

#[test]
fn committed_figures_are_readable() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/chapter5");
    let n = lint_dir(&dir);
    // accuracy, initial speeds, bars, three curves, beyond.
    assert!(n >= 7, "only {n} figures in {}", dir.display());
}

fn accuracy_row(layers: &str, book: f64, medians: Vec<f64>) -> AccuracyRow {
    AccuracyRow {
        layers: layers.into(),
        book_percent: book,
        seeds: vec![1, 2, 3],
        final_percent: vec![],
        best_percent: vec![],
        final_median: 0.0,
        final_min: 0.0,
        final_max: 0.0,
        best_median: 0.0,
        best_min: 0.0,
        best_max: 0.0,
        median_minus_book: 0.0,
        book_percentile_final: 50.0,
        book_percentile_best: 50.0,
        per_epoch_median: medians,
    }
}

/// Awkward data: values over many decades, ranges that do not start at round numbers, long
/// series, one-point series.
#[test]
fn synthetic_figures_are_readable() {
    let mut svgs = Vec::new();
    let acc: Vec<AccuracyRow> = (0..4)
        .map(|h| {
            accuracy_row(
                &format!("[784,{}10]", "30,".repeat(h + 1)),
                96.48 + 0.1 * h as f64,
                (0..30)
                    .map(|e| 96.3 - 80.0 / (1.0 + e as f64 * (h + 1) as f64))
                    .collect(),
            )
        })
        .collect();
    svgs.push((
        "accuracy",
        svg::line_chart_svg(&report::accuracy::figure(&acc)),
    ));
    let speeds: Vec<SpeedRow> = (2..=4)
        .map(|h| SpeedRow {
            hidden_layers: h,
            seeds: 50,
            median: (0..h)
                .map(|l| 0.3 * 0.2f64.powi((h - 1 - l) as i32))
                .collect(),
            p10: (0..h)
                .map(|l| 0.1 * 0.2f64.powi((h - 1 - l) as i32))
                .collect(),
            p90: (0..h)
                .map(|l| 0.9 * 0.2f64.powi((h - 1 - l) as i32))
                .collect(),
            book: vanishing::book::INITIAL_SPEEDS[h - 2].to_vec(),
            book_inside_band: vec![true; h],
            last_over_first_median: 1.0,
            book_last_over_first: 1.0,
        })
        .collect();
    svgs.push((
        "initial-speeds",
        svg::line_chart_svg(&report::initial_speeds::figure(&speeds)),
    ));
    let curve = CurveRow {
        hidden_layers: 4,
        seed: 1,
        speeds: (0..500)
            .map(|k| {
                (0..4)
                    .map(|l| 1e-9 * 10f64.powi(l) * (1.0 + k as f64))
                    .collect()
            })
            .collect(),
        ratio: vec![],
        ratio_start: 0.0,
        ratio_min: 0.0,
        ratio_max: 0.0,
        ratio_end: 0.0,
    };
    svgs.push((
        "curves",
        svg::line_chart_svg(&report::curves::figure(&curve)),
    ));
    let sweep: Vec<SweepRow> = ["sigmoid", "tanh", "relu"]
        .iter()
        .flat_map(|a| {
            ["large", "default", "glorot", "he"].map(|i| SweepRow {
                activation: a.to_string(),
                init: i.to_string(),
                depth: 10,
                median: (0..10).map(|l| 1e-12 * 50f64.powi(l)).collect(),
                shrink_per_layer: 50.0,
            })
        })
        .collect();
    svgs.push((
        "beyond",
        svg::line_chart_svg(&report::beyond::figure(
            &sweep,
            &["large", "default", "glorot", "he"],
            &["sigmoid", "tanh", "relu"],
        )),
    ));
    svgs.push((
        "bars",
        svg::bar_chart_svg(&report::initial_speeds::bars(
            &[-0.0141, -0.0016, 0.0022, 0.0035, -0.0134, -0.0055],
            &[-0.0303, -0.0282, -0.0597, 0.0669, 0.0505, -0.0481],
            1,
        )),
    ));
    let problems: Vec<String> = svgs.iter().flat_map(|(n, s)| lint(n, s)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Log axes are labelled as powers of ten only.
    let (_, texts) = parse(&svgs[2].1);
    assert!(
        texts.iter().any(|t| t.content == "10-9"),
        "curves: no 10^-9 tick"
    );
}

#[test]
fn integer_axes_have_integer_ticks() {
    for (lo, hi) in [(1.0, 2.0), (1.0, 4.0), (0.0, 499.0), (1.0, 30.0)] {
        let (_, _, ticks, decimals) = svg::linear_ticks(lo, hi, 8, true);
        assert_eq!(decimals, 0);
        assert!(ticks.iter().all(|t| t.fract() == 0.0), "{ticks:?}");
    }
    let (_, _, ticks, decimals) = svg::linear_ticks(95.1, 97.3, 6, false);
    assert!(decimals <= 1 && ticks.len() >= 3, "{ticks:?} {decimals}");
}
