//! Small SVG charts written directly: line charts (linear or log-10 axes, shaded bands, markers,
//! dashed lines) and grouped signed bar charts.
//!
//! Why not a plotting crate: the report needs exact control of what a reader sees (tick labels
//! as powers of ten, integer ticks on discrete axes, ranges fitted to the data, a legend that
//! can never cover data), and each of those was a fight with plotters' automatic layout. The
//! whole chart is a few dozen SVG elements; writing them is shorter than overriding a layout.
//!
//! Layout: a fixed canvas; the legend sits in its own column right of the plot area, so it
//! covers nothing; every line, band and marker is clipped to the plot area.

use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// Canvas size in pixels.
pub const WIDTH: f64 = 900.0;
pub const HEIGHT: f64 = 500.0;
const FONT: f64 = 13.0;
const TITLE_FONT: f64 = 16.0;
/// Estimated advance of one character, as a share of the font size (sans-serif, generous).
pub const CHAR_WIDTH: f64 = 0.6;

/// Colours that stay apart from each other (Tableau 10 plus two).
const PALETTE: [&str; 12] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#393b79", "#637939",
];

/// The colour for index `i` of the palette (wrapping).
pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// How values map onto an axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    Linear,
    /// Base-10 logarithmic; ticks at powers of ten, labelled 10^k.
    Log10,
}

/// One axis.
#[derive(Clone, Debug)]
pub struct Axis {
    pub label: String,
    pub scale: Scale,
    /// Ticks only at whole numbers (a discrete axis such as a layer index or an epoch).
    pub integer: bool,
    /// Fixed range; `None` fits the range to the data.
    pub range: Option<(f64, f64)>,
}

impl Axis {
    /// A linear axis fitted to the data.
    pub fn linear(label: &str) -> Axis {
        Axis {
            label: label.into(),
            scale: Scale::Linear,
            integer: false,
            range: None,
        }
    }
    /// A discrete axis: whole-number ticks.
    pub fn integer(label: &str) -> Axis {
        Axis {
            integer: true,
            ..Axis::linear(label)
        }
    }
    /// A log-10 axis fitted to the data.
    pub fn log10(label: &str) -> Axis {
        Axis {
            scale: Scale::Log10,
            ..Axis::linear(label)
        }
    }
}

/// Marker drawn at each point of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Marker {
    None,
    Circle,
    /// Hollow square.
    Square,
    /// Hollow diamond.
    Diamond,
    Triangle,
}

/// Line style of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stroke {
    None,
    Solid,
    Dashed,
    Dotted,
}

/// One named series of points.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: &'static str,
    pub stroke: Stroke,
    pub marker: Marker,
}

/// A shaded band between a low and a high value at each x.
#[derive(Clone, Debug)]
pub struct Band {
    pub name: String,
    /// (x, low, high)
    pub points: Vec<(f64, f64, f64)>,
    pub color: &'static str,
}

/// A line chart.
#[derive(Clone, Debug)]
pub struct LineChart {
    pub title: String,
    /// A second, smaller line under the title (what the reader should know about the axes).
    pub note: String,
    pub x: Axis,
    pub y: Axis,
    pub bands: Vec<Band>,
    pub series: Vec<Series>,
}

/// A grouped bar chart of signed values (one colour per group).
#[derive(Clone, Debug)]
pub struct BarChart {
    pub title: String,
    pub note: String,
    pub y_label: String,
    /// Label under each bar, shared by every group (e.g. neuron numbers).
    pub bar_labels: Vec<String>,
    /// (group name, one value per bar label)
    pub groups: Vec<(String, Vec<f64>)>,
    /// The value axis's ends, when fixed (e.g. 0 to 100 for percentages); fitted otherwise.
    pub y_range: Option<(f64, f64)>,
}

fn draw_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        context: format!("writing {}", path.display()),
        source,
    }
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Estimated width in pixels of `text` at `size`.
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * CHAR_WIDTH
}

/// Ticks of a linear axis over [lo, hi]: a step of 1, 2 or 5 times a power of ten giving
/// about `target` ticks (at least 1 on an integer axis), the range widened to whole steps.
/// Returns (range low, range high, ticks, decimals for the labels).
pub fn linear_ticks(lo: f64, hi: f64, target: usize, integer: bool) -> (f64, f64, Vec<f64>, usize) {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    if integer {
        step = step.max(1.0).round();
    }
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let ticks: Vec<f64> = (first as i64..=last as i64)
        .map(|k| k as f64 * step)
        .collect();
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    (first * step, last * step, ticks, decimals)
}

/// Formats a tick value with `decimals` digits, without a negative zero.
fn tick_label(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        format!("{:.decimals$}", 0.0)
    } else {
        s
    }
}

/// A resolved axis: maps values to pixels and lists labelled ticks.
struct Mapped {
    scale: Scale,
    lo: f64,
    hi: f64,
    /// (position in axis units: value or log10 value, label as SVG text content)
    ticks: Vec<(f64, String)>,
}

impl Mapped {
    fn fit(axis: &Axis, values: &[f64], target: usize) -> Mapped {
        let finite: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && (axis.scale == Scale::Linear || *v > 0.0))
            .collect();
        let data = |f: fn(f64, f64) -> f64, start: f64| finite.iter().copied().fold(start, f);
        let (dlo, dhi) = if finite.is_empty() {
            match axis.scale {
                Scale::Linear => (0.0, 1.0),
                Scale::Log10 => (0.1, 1.0),
            }
        } else {
            (data(f64::min, f64::MAX), data(f64::max, f64::MIN))
        };
        let (dlo, dhi) = axis.range.unwrap_or((dlo, dhi));
        match axis.scale {
            Scale::Linear => {
                let pad = if axis.range.is_some() || axis.integer {
                    0.0
                } else {
                    0.04 * (dhi - dlo)
                };
                let (lo, hi, ticks, dec) = linear_ticks(dlo - pad, dhi + pad, target, axis.integer);
                // Integer axes keep the data's own ends (no empty half-steps), with a margin
                // of 3 % on short ones so markers at the ends are not cut in half.
                let (lo, hi) = if axis.integer && dhi > dlo {
                    let (l, h) = (dlo.floor(), dhi.ceil());
                    let margin = if h - l <= 60.0 { 0.03 * (h - l) } else { 0.0 };
                    (l - margin, h + margin)
                } else {
                    (lo, hi)
                };
                Mapped {
                    scale: Scale::Linear,
                    lo,
                    hi,
                    ticks: ticks
                        .into_iter()
                        .filter(|t| *t >= lo - 1e-9 && *t <= hi + 1e-9)
                        .map(|t| (t, tick_label(t, dec)))
                        .collect(),
                }
            }
            Scale::Log10 => {
                let lo = dlo.log10().floor();
                let mut hi = dhi.log10().ceil();
                if hi <= lo {
                    hi = lo + 1.0;
                }
                let decades = (hi - lo) as usize;
                let every = decades.div_ceil(8).max(1);
                let ticks = (0..=decades)
                    .step_by(every)
                    .map(|k| {
                        let e = lo as i64 + k as i64;
                        (
                            e as f64,
                            format!(
                                "10<tspan dy=\"-6\" font-size=\"{:.0}\">{}</tspan>",
                                FONT * 0.75,
                                e
                            ),
                        )
                    })
                    .collect();
                Mapped {
                    scale: Scale::Log10,
                    lo,
                    hi,
                    ticks,
                }
            }
        }
    }

    /// Position in axis units (log10 on a log axis); `None` for values a log axis cannot show.
    fn unit(&self, v: f64) -> Option<f64> {
        match self.scale {
            Scale::Linear => v.is_finite().then_some(v),
            Scale::Log10 => (v.is_finite() && v > 0.0).then(|| v.log10()),
        }
    }

    /// Share of the way along the axis, 0 at `lo`, 1 at `hi`.
    fn share(&self, u: f64) -> f64 {
        (u - self.lo) / (self.hi - self.lo)
    }
}

/// The plot area in pixels.
#[derive(Clone, Copy)]
struct Area {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

/// Common frame: background, title, note, clip path; returns the SVG so far.
fn frame(title: &str, note: &str, area: Area) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\">"
    );
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"white\"/>"
    );
    let _ = writeln!(
        s,
        "<defs><clipPath id=\"plot\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/></clipPath></defs>",
        area.left,
        area.top,
        area.right - area.left,
        area.bottom - area.top
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"22\" font-size=\"{TITLE_FONT}\" font-weight=\"bold\" text-anchor=\"middle\">{}</text>",
        WIDTH / 2.0,
        esc(title)
    );
    if !note.is_empty() {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"40\" font-size=\"{:.0}\" fill=\"#555\" text-anchor=\"middle\">{}</text>",
            WIDTH / 2.0,
            FONT - 1.0,
            esc(note)
        );
    }
    s
}

/// Axis lines, ticks, grid and labels.
fn axes(s: &mut String, area: Area, x: &Mapped, y: &Mapped, x_label: &str, y_label: &str) {
    let px = |u: f64| area.left + x.share(u) * (area.right - area.left);
    let py = |u: f64| area.bottom - y.share(u) * (area.bottom - area.top);
    for (u, label) in &x.ticks {
        let xp = px(*u);
        let _ = writeln!(
            s,
            "<line x1=\"{xp:.1}\" y1=\"{:.1}\" x2=\"{xp:.1}\" y2=\"{:.1}\" stroke=\"#e4e4e4\"/>",
            area.top, area.bottom
        );
        let _ = writeln!(
            s,
            "<text x=\"{xp:.1}\" y=\"{:.1}\" font-size=\"{FONT}\" text-anchor=\"middle\">{label}</text>",
            area.bottom + 18.0
        );
    }
    for (u, label) in &y.ticks {
        let yp = py(*u);
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" y1=\"{yp:.1}\" x2=\"{:.1}\" y2=\"{yp:.1}\" stroke=\"#e4e4e4\"/>",
            area.left, area.right
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{FONT}\" text-anchor=\"end\">{label}</text>",
            area.left - 6.0,
            yp + 4.5
        );
    }
    let _ = writeln!(
        s,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#333\"/>",
        area.left,
        area.top,
        area.right - area.left,
        area.bottom - area.top
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{FONT}\" text-anchor=\"middle\">{}</text>",
        (area.left + area.right) / 2.0,
        area.bottom + 40.0,
        esc(x_label)
    );
    let (cx, cy) = (18.0, (area.top + area.bottom) / 2.0);
    let _ = writeln!(
        s,
        "<text x=\"{cx:.1}\" y=\"{cy:.1}\" font-size=\"{FONT}\" text-anchor=\"middle\" transform=\"rotate(-90 {cx:.1} {cy:.1})\">{}</text>",
        esc(y_label)
    );
}

fn dash(stroke: Stroke) -> &'static str {
    match stroke {
        Stroke::Dashed => " stroke-dasharray=\"7 4\"",
        Stroke::Dotted => " stroke-dasharray=\"2 3\"",
        _ => "",
    }
}

fn marker(s: &mut String, m: Marker, x: f64, y: f64, color: &str) {
    let _ = match m {
        Marker::None => Ok(()),
        Marker::Circle => writeln!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{color}\"/>"
        ),
        Marker::Square => writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"9\" height=\"9\" fill=\"white\" stroke=\"{color}\" stroke-width=\"2\"/>",
            x - 4.5,
            y - 4.5
        ),
        Marker::Diamond => writeln!(
            s,
            "<polygon points=\"{:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1}\" fill=\"white\" stroke=\"{color}\" stroke-width=\"2\"/>",
            x - 6.0,
            y - 6.0,
            x + 6.0,
            y + 6.0
        ),
        Marker::Triangle => writeln!(
            s,
            "<polygon points=\"{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"{color}\"/>",
            y - 5.0,
            x - 5.0,
            y + 4.0,
            x + 5.0,
            y + 4.0
        ),
    };
}

/// The legend column right of the plot area: one row per entry.
enum Swatch<'a> {
    Line(&'a Series),
    Band(&'a Band),
    Bar(&'static str),
}

fn legend(s: &mut String, left: f64, top: f64, entries: &[(String, Swatch)]) {
    for (i, (name, swatch)) in entries.iter().enumerate() {
        let y = top + 8.0 + i as f64 * 21.0;
        match swatch {
            Swatch::Line(se) => {
                if se.stroke != Stroke::None {
                    let _ = writeln!(
                        s,
                        "<line x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-width=\"2\"{}/>",
                        left + 28.0,
                        se.color,
                        dash(se.stroke)
                    );
                }
                marker(s, se.marker, left + 14.0, y, se.color);
            }
            Swatch::Band(b) => {
                let _ = writeln!(
                    s,
                    "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"28\" height=\"12\" fill=\"{}\" fill-opacity=\"0.18\"/>",
                    y - 6.0,
                    b.color
                );
            }
            Swatch::Bar(c) => {
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"14\" height=\"12\" fill=\"{c}\"/>",
                    left + 7.0,
                    y - 6.0
                );
            }
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{FONT}\">{}</text>",
            left + 36.0,
            y + 4.5,
            esc(name)
        );
    }
}

/// Width the legend column needs for `names`.
fn legend_width(names: &[&str]) -> f64 {
    let longest = names
        .iter()
        .map(|n| text_width(n, FONT))
        .fold(0.0, f64::max);
    if names.is_empty() {
        0.0
    } else {
        longest + 36.0 + 16.0
    }
}

fn plot_area(legend_w: f64, has_note: bool) -> Area {
    Area {
        left: 78.0,
        top: if has_note { 56.0 } else { 40.0 },
        right: WIDTH - legend_w.max(12.0) - 10.0,
        bottom: HEIGHT - 58.0,
    }
}

/// Renders a line chart to SVG text.
pub fn line_chart_svg(chart: &LineChart) -> String {
    let xs: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(
            chart
                .bands
                .iter()
                .flat_map(|b| b.points.iter().map(|p| p.0)),
        )
        .collect();
    let ys: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(
            chart
                .bands
                .iter()
                .flat_map(|b| b.points.iter().flat_map(|p| [p.1, p.2])),
        )
        .collect();
    let names: Vec<&str> = chart
        .bands
        .iter()
        .map(|b| b.name.as_str())
        .chain(chart.series.iter().map(|s| s.name.as_str()))
        .collect();
    let area = plot_area(legend_width(&names), !chart.note.is_empty());
    let x = Mapped::fit(&chart.x, &xs, 8);
    let y = Mapped::fit(&chart.y, &ys, 6);
    let mut s = frame(&chart.title, &chart.note, area);
    axes(&mut s, area, &x, &y, &chart.x.label, &chart.y.label);
    let px = |u: f64| area.left + x.share(u) * (area.right - area.left);
    let py = |u: f64| area.bottom - y.share(u) * (area.bottom - area.top);
    let _ = writeln!(s, "<g clip-path=\"url(#plot)\">");
    for b in &chart.bands {
        let pts: Vec<(f64, f64, f64)> = b
            .points
            .iter()
            .filter_map(|&(xv, lo, hi)| Some((px(x.unit(xv)?), py(y.unit(lo)?), py(y.unit(hi)?))))
            .collect();
        let mut poly = String::new();
        for p in pts.iter() {
            let _ = write!(poly, "{:.1},{:.1} ", p.0, p.2);
        }
        for p in pts.iter().rev() {
            let _ = write!(poly, "{:.1},{:.1} ", p.0, p.1);
        }
        let _ = writeln!(
            s,
            "<polygon points=\"{}\" fill=\"{}\" fill-opacity=\"0.18\" stroke=\"none\"/>",
            poly.trim_end(),
            b.color
        );
    }
    for se in &chart.series {
        let pts: Vec<(f64, f64)> = se
            .points
            .iter()
            .filter_map(|&(xv, yv)| Some((px(x.unit(xv)?), py(y.unit(yv)?))))
            .collect();
        if se.stroke != Stroke::None && pts.len() > 1 {
            let path: Vec<String> = pts
                .iter()
                .map(|p| format!("{:.1},{:.1}", p.0, p.1))
                .collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>",
                path.join(" "),
                se.color,
                dash(se.stroke)
            );
        }
        for &(xp, yp) in &pts {
            marker(&mut s, se.marker, xp, yp, se.color);
        }
    }
    let _ = writeln!(s, "</g>");
    let entries: Vec<(String, Swatch)> = chart
        .bands
        .iter()
        .map(|b| (b.name.clone(), Swatch::Band(b)))
        .chain(
            chart
                .series
                .iter()
                .map(|se| (se.name.clone(), Swatch::Line(se))),
        )
        .collect();
    legend(&mut s, area.right + 16.0, area.top, &entries);
    s.push_str("</svg>\n");
    s
}

/// Renders a grouped bar chart to SVG text: groups side by side, a gap between them, the
/// bars' labels under each bar and a zero line.
pub fn bar_chart_svg(chart: &BarChart) -> String {
    let names: Vec<&str> = chart.groups.iter().map(|g| g.0.as_str()).collect();
    let area = plot_area(legend_width(&names), !chart.note.is_empty());
    let values: Vec<f64> = chart
        .groups
        .iter()
        .flat_map(|g| g.1.iter().copied())
        .chain([0.0])
        .collect();
    let axis = Axis {
        range: chart.y_range,
        ..Axis::linear(&chart.y_label)
    };
    let y = Mapped::fit(&axis, &values, 6);
    let bars = chart.bar_labels.len();
    let slots = chart.groups.len() * bars + chart.groups.len().saturating_sub(1);
    let slot = (area.right - area.left) / slots.max(1) as f64;
    let x = Mapped {
        scale: Scale::Linear,
        lo: 0.0,
        hi: 1.0,
        ticks: vec![],
    };
    let mut s = frame(&chart.title, &chart.note, area);
    axes(&mut s, area, &x, &y, "", &chart.y_label);
    let py = |v: f64| area.bottom - y.share(v) * (area.bottom - area.top);
    let zero = py(0.0);
    // Labels wider than their bar's slot would run into their neighbours: every other one then
    // goes on a second line.
    let widest = chart
        .bar_labels
        .iter()
        .map(|l| text_width(l, FONT))
        .fold(0.0, f64::max);
    let stagger = widest > 0.95 * slot;
    for (g, (_, vals)) in chart.groups.iter().enumerate() {
        for (b, &v) in vals.iter().enumerate() {
            let left = area.left + (g * (bars + 1) + b) as f64 * slot + 0.15 * slot;
            let (top, h) = if v >= 0.0 {
                (py(v), zero - py(v))
            } else {
                (zero, py(v) - zero)
            };
            let _ = writeln!(
                s,
                "<rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
                0.7 * slot,
                color(g)
            );
            if let Some(label) = chart.bar_labels.get(b) {
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{FONT}\" text-anchor=\"middle\">{}</text>",
                    left + 0.35 * slot,
                    area.bottom + 18.0 + if stagger && b % 2 == 1 { FONT + 1.0 } else { 0.0 },
                    esc(label)
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "<line x1=\"{:.1}\" y1=\"{zero:.1}\" x2=\"{:.1}\" y2=\"{zero:.1}\" stroke=\"#333\"/>",
        area.left, area.right
    );
    let entries: Vec<(String, Swatch)> = chart
        .groups
        .iter()
        .enumerate()
        .map(|(g, (name, _))| (name.clone(), Swatch::Bar(color(g))))
        .collect();
    legend(&mut s, area.right + 16.0, area.top, &entries);
    s.push_str("</svg>\n");
    s
}

/// Writes `svg` to `path`.
pub fn write(path: &Path, svg: &str) -> Result<()> {
    std::fs::write(path, svg).map_err(|e| draw_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The y coordinate of each `<text>` whose content is one of `labels`, in order.
    fn label_ys(svg: &str, labels: &[&str]) -> Vec<f64> {
        svg.lines()
            .filter(|l| {
                l.starts_with("<text")
                    && labels.iter().any(|x| l.ends_with(&format!(">{x}</text>")))
            })
            .map(|l| {
                let y = l.split("y=\"").nth(1).unwrap();
                y[..y.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn bar_labels_go_on_two_lines_only_when_they_would_touch() {
        let chart = |groups: usize, label: &str| BarChart {
            title: "t".into(),
            note: String::new(),
            y_label: "y".into(),
            bar_labels: vec![format!("{label}a"), format!("{label}b")],
            groups: (0..groups)
                .map(|g| (format!("g{g}"), vec![1.0, 2.0]))
                .collect(),
            y_range: None,
        };
        // Two short labels on wide bars: one line.
        let ys = label_ys(&bar_chart_svg(&chart(1, "x")), &["xa", "xb"]);
        assert_eq!(ys.len(), 2);
        assert_eq!(ys[0], ys[1]);
        // Long labels on 40 narrow bars: every second one a line lower.
        let svg = bar_chart_svg(&chart(20, "longer-label"));
        let ys = label_ys(&svg, &["longer-labela", "longer-labelb"]);
        assert_eq!(ys.len(), 40);
        for pair in ys.chunks(2) {
            assert!(pair[1] > pair[0], "{pair:?}");
        }
    }
}
