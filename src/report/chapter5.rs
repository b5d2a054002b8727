//! The whole report: `chapter5.md` (a header, each part's section, the run's timings) and the
//! `chapter5/` folder of JSON data and SVG figures, assembled from the sections in
//! [`super::SECTIONS`] order.

use super::{Rendered, SECTIONS};
use crate::error::{Error, Result};
use crate::experiments::run::Meta;
use crate::fsutil::write_atomic;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// Renders every part of `meta.plan` from its outputs (`outputs(name)` lists one part's item
/// outputs) and writes `chapter5.md` and `chapter5/` into `out` (which must exist).
pub fn write_all<'a>(
    out: &Path,
    outputs: &dyn Fn(&str) -> Vec<&'a Value>,
    meta: &Meta,
) -> Result<()> {
    let data = out.join("chapter5");
    std::fs::create_dir_all(&data).map_err(|source| Error::Io {
        context: format!("creating {}", data.display()),
        source,
    })?;
    let (name, text) = super::json_file("meta.json", meta)?;
    write_atomic(&data.join(name), text)?;
    let mut sections = Vec::new();
    for section in SECTIONS {
        if meta.plan.parts.iter().any(|p| p == section.name()) {
            let Rendered { files, markdown } = section.render(&outputs(section.name()), meta)?;
            for (name, text) in files {
                write_atomic(&data.join(name), text)?;
            }
            sections.push(markdown);
        }
    }
    write_atomic(&out.join("chapter5.md"), markdown(&sections, meta))
}

/// The human-readable report: a header, the parts' sections, the run's timings.
fn markdown(sections: &[String], meta: &Meta) -> String {
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
    for s in sections {
        md.push_str(s);
    }
    section_run(&mut md, meta);
    md
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
