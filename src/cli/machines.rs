//! `vanishing machines`: the per-machine README and figure, rebuilt from the records.

use clap::Args;
use std::path::PathBuf;
use vanishing::records::{self, machines};

#[derive(Args)]
pub struct MachinesArgs {
    /// The machines folder (records in DIR/<cpu-slug>/record-*.json).
    #[arg(long, default_value = "results/machines", value_name = "DIR")]
    dir: PathBuf,
    /// Write nothing; exit 1 when the README or the figure differ from what the records give.
    #[arg(long)]
    check: bool,
    /// Print two machines side by side (CPU slugs, or record files) with B's ratio to A.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    compare: Option<Vec<String>>,
}

pub fn run(args: MachinesArgs) -> Result<(), (u8, String)> {
    let all = records::load_all(&args.dir).map_err(|e| (1, e.to_string()))?;
    if let Some(pair) = &args.compare {
        let reps = machines::representatives(&all);
        let find = |key: &str| {
            all.iter()
                .find(|(p, _)| p.ends_with(key) || p == &PathBuf::from(key))
                .or_else(|| reps.iter().copied().find(|(_, r)| r.machine.slug == key))
                .map(|(_, r)| r)
                .ok_or((
                    2,
                    format!(
                        "--compare: no machine or record '{key}' in {}",
                        args.dir.display()
                    ),
                ))
        };
        let (a, b) = (find(&pair[0])?, find(&pair[1])?);
        print!("{}", machines::compare(a, b));
        return Ok(());
    }
    let readme = machines::readme(&args.dir, &all);
    let svg = machines::share_of_peak_svg(&all);
    let targets = [
        (args.dir.join(machines::README), readme),
        (args.dir.join(machines::FIGURE), svg),
    ];
    if args.check {
        let stale: Vec<String> = targets
            .iter()
            .filter(|(p, text)| std::fs::read_to_string(p).ok().as_deref() != Some(text.as_str()))
            .map(|(p, _)| p.display().to_string())
            .collect();
        if stale.is_empty() {
            println!(
                "{} records; {} and {} are up to date",
                all.len(),
                machines::README,
                machines::FIGURE
            );
            return Ok(());
        }
        return Err((
            1,
            format!(
                "{} differ from what the {} records give: run `vanishing machines`",
                stale.join(" and "),
                all.len()
            ),
        ));
    }
    for (path, text) in &targets {
        vanishing::fsutil::write_atomic(path, text).map_err(|e| (1, e.to_string()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
