//! Computing and publishing joined: the one module that uses both `experiments` (which
//! computes results) and `report` (which writes them), so neither depends on the other.

use crate::error::{Error, Result};
use crate::experiments::items::{Item, ItemResult, Plan};
use crate::experiments::summary::{summarise, Meta};
use crate::meta::Machine;
use crate::report::chapter5;
use std::path::Path;

fn io(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

/// Per-part item seconds (summed over items).
fn part_seconds(plan: &Plan, items: &[Item], secs: &[f64]) -> Vec<(String, f64)> {
    plan.parts
        .iter()
        .map(|p| {
            (
                p.name().to_string(),
                items
                    .iter()
                    .zip(secs)
                    .filter(|(i, _)| i.part() == *p)
                    .map(|(_, s)| s)
                    .sum(),
            )
        })
        .collect()
}

/// Writes the report for `results` into `out`, atomically with respect to failure: everything
/// is written into a staging folder first, then moved over the previous `chapter5.md` and
/// `chapter5/`.
pub fn publish(
    out: &Path,
    plan: &Plan,
    items: &[Item],
    results: &[(ItemResult, f64)],
    machine: Machine,
    total_wall: f64,
    shards: Option<usize>,
) -> Result<()> {
    let only: Vec<ItemResult> = results.iter().map(|r| r.0.clone()).collect();
    let secs: Vec<f64> = results.iter().map(|r| r.1).collect();
    let summary = summarise(&only);
    let meta = Meta {
        machine,
        plan: plan.clone(),
        seeds: {
            let mut s: Vec<u64> = items.iter().map(item_seed).collect();
            s.sort();
            s.dedup();
            s
        },
        item_seconds_per_part: part_seconds(plan, items, &secs),
        total_wall_seconds: total_wall,
        shards,
    };
    std::fs::create_dir_all(out).map_err(io(format!("creating {}", out.display())))?;
    let staging = out.join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io(format!("creating {}", staging.display())))?;
    if let Err(e) = chapter5::write_all(&staging, &summary, &meta) {
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

fn item_seed(i: &Item) -> u64 {
    match *i {
        Item::Accuracy { seed, .. }
        | Item::InitialSpeed { seed, .. }
        | Item::Bars { seed }
        | Item::Curve { seed, .. }
        | Item::Arithmetic { seed }
        | Item::Better98 { seed }
        | Item::Sweep { seed, .. } => seed,
    }
}
