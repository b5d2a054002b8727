//! SVG line charts (plotters, SVG backend, no system fonts needed).

use crate::error::{Error, Result};
use plotters::prelude::*;
use std::path::Path;

/// One named line.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Axis options.
pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub log_y: bool,
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        context: format!("drawing {}", path.display()),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Draws `series` as lines with markers into an 800x500 SVG at `path`.
pub fn line_chart(path: &Path, chart: &Chart, series: &[Series]) -> Result<()> {
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite() && (!chart.log_y || p.1 > 0.0));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.1, 1.0);
    }
    if x0 == x1 {
        x1 = x0 + 1.0;
    }
    let (y0, y1) = if chart.log_y {
        (y0 / 1.5, y1 * 1.5)
    } else {
        let pad = (y1 - y0).max(1e-9) * 0.08;
        (y0 - pad, y1 + pad)
    };
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(chart.title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(75);
    let colors = [
        BLUE,
        RED,
        GREEN,
        MAGENTA,
        CYAN,
        BLACK,
        RGBColor(255, 140, 0),
        RGBColor(128, 0, 128),
        RGBColor(0, 128, 128),
        RGBColor(128, 128, 0),
        RGBColor(139, 69, 19),
        RGBColor(128, 128, 128),
    ];
    macro_rules! draw {
        ($ctx:expr) => {{
            let mut ctx = $ctx;
            ctx.configure_mesh()
                .x_desc(chart.x_label)
                .y_desc(chart.y_label)
                .draw()
                .map_err(|e| plot_err(path, e))?;
            for (i, s) in series.iter().enumerate() {
                let c = colors[i % colors.len()];
                let data: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .copied()
                    .filter(|p| p.0.is_finite() && p.1.is_finite() && (!chart.log_y || p.1 > 0.0))
                    .collect();
                let markers = data.len() <= 60;
                ctx.draw_series(LineSeries::new(data.clone(), c.stroke_width(2)))
                    .map_err(|e| plot_err(path, e))?
                    .label(s.name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                    });
                if markers {
                    ctx.draw_series(data.iter().map(|&p| Circle::new(p, 3, c.filled())))
                        .map_err(|e| plot_err(path, e))?;
                }
            }
            ctx.configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| plot_err(path, e))?;
        }};
    }
    if chart.log_y {
        draw!(builder
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(|e| plot_err(path, e))?);
    } else {
        draw!(builder
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| plot_err(path, e))?);
    }
    root.present().map_err(|e| plot_err(path, e))?;
    Ok(())
}
