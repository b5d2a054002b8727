//! `vanishing bench`: the headline figures, a progress bar, a summary, one new record.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use vanishing::records;

/// Set in the pinned child so it does not pin itself again; its value is the parent's CPU count
/// (the child, pinned to one core, sees only that one).
const PINNED_ENV: &str = "VANISHING_BENCH_PINNED";

#[derive(Args)]
pub struct BenchArgs {
    /// The short version (about 15 s): fewer rounds, no 2048^3, one epoch per network.
    #[arg(long)]
    quick: bool,
    /// Where the record goes: DIR/<cpu-slug>/record-*.json (a new file; none is replaced).
    #[arg(long, default_value = "results/machines", value_name = "DIR")]
    out: PathBuf,
    /// Measure and print, but write no record.
    #[arg(long)]
    no_save: bool,
    /// Do not pin to one core (by default the bench reruns itself under `taskset -c 0`).
    #[arg(long)]
    no_pin: bool,
    /// MNIST directory (default: VANISHING_MNIST_DIR, else data/mnist).
    #[arg(long)]
    data: Option<PathBuf>,
}

fn taskset_available() -> bool {
    std::process::Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn run(args: BenchArgs) -> Result<(), (u8, String)> {
    let exe = std::env::current_exe().map_err(|e| (1, e.to_string()))?;
    let pinned_cpus: Option<usize> = std::env::var(PINNED_ENV).ok().and_then(|v| v.parse().ok());
    let pinned = pinned_cpus.is_some();
    if !args.no_pin && !pinned && cfg!(target_os = "linux") && taskset_available() {
        // Rerun pinned to core 0: the single-thread figures then never migrate.
        let status = std::process::Command::new("taskset")
            .args(["-c", "0"])
            .arg(&exe)
            .args(std::env::args_os().skip(1))
            .env(PINNED_ENV, vanishing::cpu::logical_cpus().to_string())
            .status()
            .map_err(|e| (1, format!("running taskset: {e}")))?;
        return match status.code() {
            Some(0) => Ok(()),
            Some(c) => Err((
                c.clamp(1, 255) as u8,
                "the pinned bench failed (above)".into(),
            )),
            None => Err((1, "the pinned bench was killed".into())),
        };
    }
    if !args.no_save {
        let probe = args
            .out
            .join(vanishing::cpu::machine_slug())
            .join("record-probe.json");
        vanishing::fsutil::check_writable(&probe).map_err(|e| (2, e.to_string()))?;
    }
    let cpus = pinned_cpus.unwrap_or_else(vanishing::cpu::logical_cpus);
    let opts = vanishing::bench::BenchOptions {
        quick: args.quick,
        mnist_dir: vanishing::data::mnist::resolve_dir(args.data.as_deref()),
        exe,
        pinned,
        reproduce_prefix: if pinned && cpus > 1 {
            vec!["taskset".into(), "-c".into(), format!("0-{}", cpus - 1)]
        } else {
            Vec::new()
        },
    };
    let start = std::time::Instant::now();
    let bar = ProgressBar::new(vanishing::bench::steps(args.quick) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}").expect("valid"),
    );
    let mut first = true;
    let record = vanishing::bench::run(&opts, &mut |step| {
        if !first {
            bar.inc(1);
        }
        first = false;
        bar.set_message(step.to_string());
        if bar.is_hidden() {
            eprintln!("  {step}");
        }
    })
    .map_err(|e| (1, e.to_string()))?;
    bar.finish_and_clear();
    print!("{}", vanishing::bench::summary(&record));
    println!("done in {:.1} s", start.elapsed().as_secs_f64());
    if !args.no_save {
        let path = records::write_new(&args.out, &record).map_err(|e| (1, e.to_string()))?;
        println!(
            "wrote {} (`vanishing machines` rebuilds {}/README.md)",
            path.display(),
            args.out.display()
        );
    }
    Ok(())
}
