//! Computing and publishing joined: the one module that uses both `experiments` (which
//! computes results) and `report` (which writes them), so neither depends on the other.

use crate::error::{Error, Result};
use crate::experiments::run::Meta;
use crate::experiments::{self, Plan, WorkItem};
use crate::meta::Machine;
use crate::report::chapter5;
use serde_json::Value;
use std::path::Path;

fn io(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

/// Per-part item seconds (summed over items).
fn part_seconds(plan: &Plan, items: &[WorkItem], secs: &[f64]) -> Vec<(String, f64)> {
    plan.parts
        .iter()
        .map(|p| {
            (
                p.clone(),
                items
                    .iter()
                    .zip(secs)
                    .filter(|(i, _)| i.part == *p)
                    .map(|(_, s)| s)
                    .sum(),
            )
        })
        .collect()
}

/// A finished run, or shards merged: what [`publish`] writes.
pub struct Finished<'a> {
    pub plan: &'a Plan,
    /// The plan's items, in order.
    pub items: &'a [WorkItem],
    /// Each item's output and the seconds it took.
    pub results: &'a [(Value, f64)],
    pub machine: Machine,
    pub total_wall_seconds: f64,
    /// How many shards the results were merged from, if any.
    pub shards: Option<usize>,
}

/// Checks, before any work, that `publish` will be able to write into `out`: creates it and
/// makes and removes a staging directory with a file inside, as `publish` will. Nothing
/// already in `out` is touched.
pub fn check_out_dir(out: &Path) -> Result<()> {
    let cannot = |e: std::io::Error| Error::Io {
        context: format!("cannot write into {}", out.display()),
        source: e,
    };
    std::fs::create_dir_all(out).map_err(cannot)?;
    let probe = out.join(format!(".staging-probe-{}", std::process::id()));
    let made = std::fs::create_dir(&probe).and_then(|()| std::fs::write(probe.join("probe"), b""));
    let _ = std::fs::remove_dir_all(&probe);
    made.map_err(cannot)
}

/// Writes the report of `run` into `out`, atomically with respect to failure: everything is
/// written into a staging folder first, then moved over the previous `chapter5.md` and
/// `chapter5/`.
pub fn publish(out: &Path, run: &Finished) -> Result<()> {
    let Finished {
        plan,
        items,
        results,
        ..
    } = *run;
    let secs: Vec<f64> = results.iter().map(|r| r.1).collect();
    let meta = Meta {
        machine: run.machine.clone(),
        plan: plan.clone(),
        seeds: {
            let mut s: Vec<u64> = items.iter().map(item_seed).collect::<Result<_>>()?;
            s.sort();
            s.dedup();
            s
        },
        item_seconds_per_part: part_seconds(plan, items, &secs),
        total_wall_seconds: run.total_wall_seconds,
        shards: run.shards,
    };
    std::fs::create_dir_all(out).map_err(io(format!("creating {}", out.display())))?;
    let staging = out.join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io(format!("creating {}", staging.display())))?;
    if let Err(e) = chapter5::write_all(&staging, &|name| outputs_of(name, items, results), &meta) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    for name in ["chapter5", "chapter5.md"] {
        let target = out.join(name);
        let old = out.join(format!(".old-{}-{name}", std::process::id()));
        if target.exists() {
            std::fs::rename(&target, &old).map_err(io(format!(
                "moving the previous {} aside",
                target.display()
            )))?;
        }
        std::fs::rename(staging.join(name), &target)
            .map_err(io(format!("publishing {}", target.display())))?;
        if old.is_dir() {
            let _ = std::fs::remove_dir_all(&old);
        } else {
            let _ = std::fs::remove_file(&old);
        }
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}

fn item_seed(i: &WorkItem) -> Result<u64> {
    experiments::part(&i.part)?.item_seed(&i.item)
}

/// The outputs of part `name`'s items.
fn outputs_of<'a>(name: &str, items: &[WorkItem], results: &'a [(Value, f64)]) -> Vec<&'a Value> {
    items
        .iter()
        .zip(results)
        .filter(|(i, _)| i.part == name)
        .map(|(_, r)| &r.0)
        .collect()
}

/// One console line per headline figure of each part of the plan (what `reproduce` prints
/// at the end).
pub fn headlines(run: &Finished) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for name in &run.plan.parts {
        let part = experiments::part(name)?;
        let outputs = outputs_of(name, run.items, run.results);
        lines.extend(part.headlines_of(&outputs, &run.plan.settings)?);
    }
    Ok(lines)
}
