//! Running a plan: all items or one shard, shard files, merging, and the run's metadata.
//! Publishing the report is `crate::pipeline`'s job (this module knows nothing of the report).

use super::plan::{Plan, WorkItem};
use crate::data::Splits;
use crate::error::{Error, Result};
use crate::meta::Machine;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Item outputs in plan order, each with the seconds it took.
pub type Timed = Vec<(Value, f64)>;

/// Run metadata for `meta.json`.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Meta {
    pub machine: Machine,
    pub plan: Plan,
    pub seeds: Vec<u64>,
    pub item_seconds_per_part: Vec<(String, f64)>,
    pub total_wall_seconds: f64,
    pub shards: Option<usize>,
}

/// One shard's output file.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct ShardFile {
    pub plan: Plan,
    pub index: usize,
    pub count: usize,
    /// (position in the plan's item list, item, result, seconds)
    pub results: Vec<(usize, WorkItem, Value, f64)>,
    pub machine: Machine,
}

/// Name of shard `index` of `count`'s file.
pub fn shard_file_name(index: usize, count: usize) -> String {
    format!("shard-{index}-of-{count}.json")
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

/// Writes one shard's results (atomically) into `out`.
pub fn write_shard(out: &Path, file: &ShardFile) -> Result<PathBuf> {
    std::fs::create_dir_all(out).map_err(io(format!("creating {}", out.display())))?;
    let path = out.join(shard_file_name(file.index, file.count));
    let text = serde_json::to_string(file).map_err(|e| Error::Io {
        context: "serialising the shard".into(),
        source: std::io::Error::other(e),
    })?;
    crate::fsutil::write_atomic(&path, text)?;
    Ok(path)
}

/// Parses and checks one shard file's text (`origin` names it in errors): valid JSON of the
/// right shape, a valid plan ([`Plan::validate`]) and a shard index below the shard count.
pub fn parse_shard_file(text: &str, origin: &Path) -> Result<ShardFile> {
    let bad = |problem: String| Error::Invalid {
        what: "shards",
        problem: format!("{} is not a usable shard file: {problem}", origin.display()),
    };
    let f: ShardFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    f.plan.validate().map_err(|e| bad(e.to_string()))?;
    if f.count == 0 || f.index >= f.count {
        return Err(bad(format!("shard {} of {}", f.index, f.count)));
    }
    Ok(f)
}

/// Reads every `shard-*-of-*.json` under `dirs`, checks they belong to one plan and cover every
/// item exactly once, and returns the plan, items and results in plan order.
pub fn merge(dirs: &[PathBuf]) -> Result<(Plan, Vec<WorkItem>, Timed, usize)> {
    let bad = |problem: String| Error::Invalid {
        what: "shards",
        problem,
    };
    let mut files = Vec::new();
    for d in dirs {
        let entries = std::fs::read_dir(d).map_err(io(format!("reading {}", d.display())))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("shard-") && name.ends_with(".json") {
                let text = std::fs::read_to_string(e.path())
                    .map_err(io(format!("reading {}", e.path().display())))?;
                files.push(parse_shard_file(&text, &e.path())?);
            }
        }
    }
    let first = files
        .first()
        .ok_or_else(|| bad(format!("no shard-*.json files in {dirs:?}")))?;
    let (plan, count) = (first.plan.clone(), first.count);
    let items = plan.items()?;
    let mut slots: Vec<Option<(Value, f64)>> = vec![None; items.len()];
    for f in &files {
        if f.plan != plan || f.count != count {
            return Err(bad(format!(
                "shard {} of {} was made with a different plan or shard count",
                f.index, f.count
            )));
        }
        for (pos, item, result, secs) in &f.results {
            if items.get(*pos) != Some(item) {
                return Err(bad(format!(
                    "shard {} holds an item the plan does not have at position {pos}",
                    f.index
                )));
            }
            if slots[*pos].replace((result.clone(), *secs)).is_some() {
                return Err(bad(format!("item {pos} appears in more than one shard")));
            }
        }
    }
    let missing: Vec<usize> = slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| i)
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "{} of {} items are missing (first: {}); run the missing shards",
            missing.len(),
            items.len(),
            missing[0]
        )));
    }
    Ok((
        plan,
        items,
        slots.into_iter().map(|s| s.expect("checked")).collect(),
        count,
    ))
}

/// Positions (in the plan's order, `total` items) of shard `index` of `count`.
pub fn shard_positions(total: usize, index: usize, count: usize) -> Vec<usize> {
    (0..total).filter(|i| i % count == index).collect()
}

/// Runs every item of `plan` (all, or shard `index` of `count`) on `data`.
pub fn run_items(
    plan: &Plan,
    data: &Splits,
    shard: Option<(usize, usize)>,
    done: &(dyn Fn(&WorkItem) + Sync),
) -> Result<(Vec<usize>, Vec<WorkItem>, Timed)> {
    let all = plan.items()?;
    let positions: Vec<usize> = match shard {
        Some((i, n)) => shard_positions(all.len(), i, n),
        None => (0..all.len()).collect(),
    };
    let items: Vec<WorkItem> = positions.iter().map(|&p| all[p].clone()).collect();
    let results = plan.run(&items, data, done)?;
    Ok((positions, items, results))
}
