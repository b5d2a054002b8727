//! `vanishing`: thin command-line front end over the library.

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vanishing::data::mnist;
use vanishing::isa::{self, Isa};
use vanishing::meta::Machine;
use vanishing::nn::batched::Engine;
use vanishing::nn::train::{self, EpochRecord, Momentum, MomentumSchedule, TrainConfig};
use vanishing::nn::{Activation, Cost, Init};

mod cli;

#[derive(Parser)]
#[command(
    name = "vanishing",
    version,
    about = "SIMD CPU benchmark suite around chapter 5 of Nielsen's 'Neural Networks and Deep Learning'"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CPU, detected ISA features, the kernels that will run, cache blocking, threads,
    /// and the measured single-core FMA peaks and memory bandwidth.
    Info(InfoArgs),
    /// Train an MLP on MNIST with the book's network2 semantics.
    Train(TrainArgs),
    /// Reproduce chapter 5's measurements (and the beyond-the-book sweep) into results/.
    Reproduce(ReproduceArgs),
    /// Build the report from shard files written by `reproduce --shard I/N`.
    Merge(MergeArgs),
    /// Time every GEMM kernel of the selected family under a few cache blockings (about 15 s) and
    /// save the fastest as this CPU's profile, which later runs use (`VANISHING_PROFILE=off`
    /// ignores it). Changes speed only, never results.
    Tune(TuneArgs),
    /// Check that two reproductions gave the same results: every JSON result and SVG figure,
    /// bit for bit, timings and machine metadata aside. Exits 1 if they differ.
    Compare(CompareArgs),
    /// Performance-regression gate: interleaved speed ratios and callgrind instruction counts
    /// against results/perf-baseline.json; exits 1 on a confirmed regression.
    PerfGate(cli::perf_gate::PerfGateArgs),
    /// The suite's headline figures in about a minute (`--quick`: about 15 s), pinned to one
    /// core, as a new result record in results/machines/<cpu>/.
    Bench(cli::bench::BenchArgs),
    /// Rebuild results/machines/README.md and its figure from the result records
    /// (`--check`: only verify; `--compare A B`: two machines side by side).
    Machines(cli::machines::MachinesArgs),
    /// Run one fixed workload (used by perf-gate under callgrind).
    #[command(hide = true)]
    PerfWorkload { name: String, iters: usize },
    /// Serve timed workloads on stdin/stdout for `perf-gate --base` (one side of the pair).
    #[command(hide = true)]
    PerfWorker,
}

#[derive(Args)]
struct ReproduceArgs {
    /// Fewer seeds, epochs and iterations, the same code paths (for CI; about 30 s).
    #[arg(long)]
    quick: bool,
    /// Seeds per network for accuracy versus depth (default 5, or 2 with --quick).
    #[arg(long)]
    seeds: Option<usize>,
    /// Seeds per depth for the initial speeds (default 50, or 10 with --quick).
    #[arg(long)]
    speed_seeds: Option<usize>,
    /// First seed; seeds are consecutive from here.
    #[arg(long, default_value_t = 1)]
    base_seed: u64,
    /// Only these parts, comma-separated: accuracy, initial-speeds, curves, arithmetic, better98, beyond.
    #[arg(long)]
    only: Option<String>,
    /// Output directory (chapter5.md and chapter5/ go here; shard files too).
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Worker threads (default: rayon's, i.e. RAYON_NUM_THREADS or all CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Run only slice I of N (0-based) of the work items and write a shard file, e.g. 0/4.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<Shard>,
    /// MNIST directory (default: VANISHING_MNIST_DIR, else data/mnist).
    #[arg(long)]
    data: Option<PathBuf>,
}

#[derive(Args)]
struct InfoArgs {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to DIR/<cpu-slug>/info.json (for example results/machines).
    #[arg(long, value_name = "DIR")]
    save: Option<PathBuf>,
}

#[derive(Args)]
struct TuneArgs {
    /// Measure and print, but do not save the profile.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Args)]
struct CompareArgs {
    /// Output directory of one run (holding chapter5/), e.g. results
    first: PathBuf,
    /// Output directory of the other run
    second: PathBuf,
}

#[derive(Args)]
struct MergeArgs {
    /// Directories holding shard-*-of-*.json files.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Output directory for chapter5.md and chapter5/.
    #[arg(long, default_value = "results")]
    out: PathBuf,
}

#[derive(Clone, Copy, Debug)]
struct Shard(usize, usize);

fn parse_shard(s: &str) -> Result<Shard, String> {
    let err = || format!("'{s}' is not a shard: expected I/N with 0 <= I < N, e.g. 0/4");
    let (i, n) = s.split_once('/').ok_or_else(err)?;
    let (i, n) = (
        i.trim().parse::<usize>().map_err(|_| err())?,
        n.trim().parse::<usize>().map_err(|_| err())?,
    );
    if n == 0 || i >= n {
        return Err(err());
    }
    Ok(Shard(i, n))
}

#[derive(Clone, Copy, ValueEnum)]
enum InitArg {
    Default,
    Large,
    Glorot,
    He,
    /// Glorot & Bengio's normalized (uniform) initialization.
    Normalized,
    /// Glorot & Bengio's "standard" initialization, U[-1/sqrt(fan_in), +1/sqrt(fan_in)].
    Standard,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScheduleArg {
    Constant,
    Sutskever,
}

#[derive(Clone, Copy, ValueEnum)]
enum CostArg {
    CrossEntropy,
    Quadratic,
}

#[derive(Clone, Copy, ValueEnum)]
enum ActArg {
    Sigmoid,
    Tanh,
    Relu,
    Softsign,
}

#[derive(Args)]
struct TrainArgs {
    /// Layer widths, comma-separated, input first (784) and output last (10).
    #[arg(long, default_value = "784,30,10", value_parser = parse_layers)]
    layers: Layers,
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    eta: f32,
    /// L2 regularisation (weights decay by 1 - eta*lambda/n, n = 50,000).
    #[arg(long, default_value_t = 5.0)]
    lambda: f32,
    #[arg(long, value_enum, default_value = "default")]
    init: InitArg,
    #[arg(long, value_enum, default_value = "cross-entropy")]
    cost: CostArg,
    /// Activation of the hidden layers (the output layer is always sigmoid).
    #[arg(long, value_enum, default_value = "sigmoid")]
    activation: ActArg,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Momentum coefficient, 0 to below 1 (0: plain SGD, the book's chapters 1-5); with
    /// `--momentum-schedule sutskever`, the ceiling of the rising schedule.
    #[arg(long, default_value_t = 0.0)]
    momentum: f32,
    /// How the momentum coefficient changes: constant, or Sutskever et al.'s (2013) rising
    /// schedule 1 - 1/(2(floor(t/250)+1)) held at --momentum.
    #[arg(long, value_enum, default_value = "constant")]
    momentum_schedule: ScheduleArg,
    /// Worker threads (default: rayon's, i.e. RAYON_NUM_THREADS or all CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Also evaluate on the test set after every epoch.
    #[arg(long)]
    monitor_test: bool,
    /// Also compute the regularised training cost after every epoch.
    #[arg(long)]
    monitor_cost: bool,
    /// Dataset directory: the four IDX files in MNIST's format and names, so MNIST or e.g.
    /// Fashion-MNIST (default: VANISHING_MNIST_DIR, else data/mnist).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Write a JSON run record here (written only when the run completes).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Layer widths from the command line (a newtype so clap takes one comma-separated value).
#[derive(Clone, Debug)]
struct Layers(Vec<usize>);

fn parse_layers(s: &str) -> Result<Layers, String> {
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{}' is not a layer width (expected comma-separated positive integers, e.g. 784,30,10)", p.trim()))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Layers)
}

fn info(args: InfoArgs) -> Result<(), (u8, String)> {
    let save = args
        .save
        .as_ref()
        .map(|dir| dir.join(vanishing::cpu::machine_slug()).join("info.json"));
    if let Some(path) = &save {
        check_output(path)?;
    }
    let m = vanishing::meta::MachineInfo::measure();
    let json = serde_json::to_string_pretty(&m).map_err(|e| (1, e.to_string()))?;
    if let Some(path) = &save {
        write_atomic(path, &format!("{json}\n"))?;
        eprintln!("wrote {}", path.display());
    }
    if args.json {
        println!("{json}");
        return Ok(());
    }
    let gf = |v: Option<f64>| v.map_or("-".to_string(), |g| format!("{g:.1} GFLOP/s"));
    println!("cpu:            {} (key {})", m.cpu, m.slug);
    println!("logical cpus:   {}", m.logical_cpus);
    println!("isa features:   {}", m.features.join(" "));
    println!(
        "kernel family:  {} (available: {}; override with {}=<name>)",
        m.kernel_family,
        m.available_families.join(", "),
        isa::ISA_ENV
    );
    println!(
        "gemm kernel:    {} (this CPU runs: {}; force with {}=<name>)",
        m.gemm_kernel,
        m.gemm_kernels.join(", "),
        vanishing::kernels::KERNEL_ENV
    );
    println!(
        "rank-k kernel:  {} (the small-batch weight update, depth <= {})",
        vanishing::gemm::Gemm::new().rank_k_name().unwrap_or("none"),
        vanishing::kernels::rank_k::MAX_RANK_K
    );
    println!(
        "sparse kernel:  {} (the small-batch first-layer forward over live pixels)",
        vanishing::gemm::Gemm::new().sparse_depth_name()
    );
    println!("sigmoid kernel: {}", m.sigmoid_kernel);
    println!(
        "caches:         L1d {} KiB, L2 {} KiB, L3 {} KiB ({})",
        m.caches.l1d / 1024,
        m.caches.l2 / 1024,
        m.caches.l3 / 1024,
        m.caches.source.describe()
    );
    println!(
        "gemm blocking:  mc = {}, kc = {}, nc = {} (register tile {} x {}; {})",
        m.blocking.mc,
        m.blocking.kc,
        m.blocking.nc,
        m.register_tile.0,
        m.register_tile.1,
        if m.blocking_forced {
            "forced by VANISHING_BLOCKING"
        } else {
            "from the caches; force with VANISHING_BLOCKING=mc,kc,nc"
        }
    );
    println!(
        "threads:        {} (rayon; set RAYON_NUM_THREADS to change)",
        m.threads
    );
    println!("gemm profile:   {}", m.gemm_profile);
    if m.peak_neon_gflops.is_some() {
        println!(
            "fma peak:       {} with 128-bit NEON vectors (one core, f32, measured); in use: {}",
            gf(m.peak_neon_gflops),
            gf(m.peak_in_use_gflops)
        );
    } else {
        println!(
            "fma peak:       {} with 256-bit vectors, {} with 512-bit vectors (one core, f32, \
             measured); in use: {}",
            gf(m.peak_avx2_gflops),
            gf(m.peak_avx512_gflops),
            gf(m.peak_in_use_gflops)
        );
    }
    println!(
        "memory:         {:.1} GB/s copy bandwidth (one core, read + write, measured)",
        m.memory_bandwidth_gbs
    );
    Ok(())
}

/// A run record for `train --json`.
#[derive(serde::Serialize)]
struct RunRecord<'a> {
    config: &'a TrainConfig,
    epochs: &'a [EpochRecord],
    final_validation_accuracy: f64,
    best_validation_accuracy: f64,
    best_epoch: usize,
    mean_train_seconds_per_epoch: f64,
    machine: Machine,
}

/// Writes `text` atomically (see `vanishing::fsutil::write_atomic`); its error already names
/// the path.
fn write_atomic(path: &Path, text: &str) -> Result<(), (u8, String)> {
    vanishing::fsutil::write_atomic(path, text).map_err(|e| (1, e.to_string()))
}

/// Refuses, before any work, an output that could not be written later (exit code 2: the
/// argument is unusable). See `vanishing::fsutil::check_writable`.
fn check_output(path: &Path) -> Result<(), (u8, String)> {
    vanishing::fsutil::check_writable(path).map_err(|e| (2, e.to_string()))
}

fn run_train(args: TrainArgs) -> Result<(), (u8, String)> {
    let cfg = TrainConfig {
        layers: args.layers.0.clone(),
        epochs: args.epochs,
        batch: args.batch,
        eta: args.eta,
        lambda: args.lambda,
        init: match args.init {
            InitArg::Default => Init::Default,
            InitArg::Large => Init::Large,
            InitArg::Glorot => Init::Glorot,
            InitArg::He => Init::He,
            InitArg::Normalized => Init::Normalized,
            InitArg::Standard => Init::Standard,
        },
        cost: match args.cost {
            CostArg::CrossEntropy => Cost::CrossEntropy,
            CostArg::Quadratic => Cost::Quadratic,
        },
        hidden: match args.activation {
            ActArg::Sigmoid => Activation::Sigmoid,
            ActArg::Tanh => Activation::Tanh,
            ActArg::Relu => Activation::Relu,
            ActArg::Softsign => Activation::Softsign,
        },
        seed: args.seed,
        monitor_test: args.monitor_test,
        monitor_cost: args.monitor_cost,
        momentum: Momentum {
            mu: args.momentum,
            schedule: match args.momentum_schedule {
                ScheduleArg::Constant => MomentumSchedule::Constant,
                ScheduleArg::Sutskever => MomentumSchedule::Sutskever,
            },
        },
    };
    cfg.validate().map_err(|e| (2, e.to_string()))?;
    if args.threads == Some(0) {
        return Err((2, "invalid threads: must be at least 1".into()));
    }
    if let Some(path) = &args.json {
        check_output(path)?;
    }
    let threads = args.threads.unwrap_or_else(rayon::current_num_threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| (1, e.to_string()))?;
    let dir = mnist::resolve_dir(args.data.as_deref());
    let data = mnist::load(&dir).map_err(|e| (1, e.to_string()))?;
    cfg.validate_for(&data).map_err(|e| (2, e.to_string()))?;
    let steps = data.train.len().div_ceil(cfg.batch) as u64;
    let bar = ProgressBar::new(steps * cfg.epochs as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} mini-batches, {elapsed} elapsed, eta {eta}",
        )
        .expect("valid template"),
    );
    println!(
        "training {:?}, {} epochs, batch {}, eta {}, lambda {}, init {}, cost {}, hidden {}, {}seed {}, {} thread(s)",
        cfg.layers,
        cfg.epochs,
        cfg.batch,
        cfg.eta,
        cfg.lambda,
        cfg.init.name(),
        cfg.cost.name(),
        cfg.hidden.name(),
        match cfg.momentum {
            m if m.is_off() => String::new(),
            Momentum {
                mu,
                schedule: MomentumSchedule::Constant,
            } => format!("momentum {mu}, "),
            Momentum {
                mu,
                schedule: MomentumSchedule::Sutskever,
            } => format!("momentum rising to {mu} (Sutskever et al.), "),
        },
        cfg.seed,
        threads
    );
    let result = pool.install(|| {
        let engine = Engine::new();
        train::train(
            &cfg,
            &data,
            &engine,
            || bar.inc(1),
            |r| {
                let mut line = format!(
                    "epoch {:3}: validation {:6.2} %",
                    r.epoch,
                    100.0 * r.validation_accuracy
                );
                if let Some(t) = r.test_accuracy {
                    line += &format!(", test {:6.2} %", 100.0 * t);
                }
                if let Some(c) = r.training_cost {
                    line += &format!(", cost {c:.4}");
                }
                line += &format!(", {:.3} s", r.train_seconds);
                if bar.is_hidden() {
                    println!("{line}");
                } else {
                    bar.println(line);
                }
            },
        )
    });
    bar.finish_and_clear();
    let (_, records) = result.map_err(|e| (1, e.to_string()))?;
    let last = records.last().map_or(0.0, |r| r.validation_accuracy);
    let (best_epoch, best) = records
        .iter()
        .map(|r| (r.epoch, r.validation_accuracy))
        .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
    let mean_secs = records.iter().map(|r| r.train_seconds).sum::<f64>() / records.len() as f64;
    println!(
        "final validation accuracy {:.2} %, best {:.2} % (epoch {best_epoch}); {:.3} s per epoch of training",
        100.0 * last,
        100.0 * best,
        mean_secs
    );
    if let Some(path) = args.json {
        let record = RunRecord {
            config: &cfg,
            epochs: &records,
            final_validation_accuracy: last,
            best_validation_accuracy: best,
            best_epoch,
            mean_train_seconds_per_epoch: mean_secs,
            machine: Machine::current(threads),
        };
        let text = serde_json::to_string_pretty(&record).map_err(|e| (1, e.to_string()))?;
        write_atomic(&path, &text)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn run_reproduce(args: ReproduceArgs) -> Result<(), (u8, String)> {
    use vanishing::experiments::run as xrun;
    use vanishing::experiments::{Plan, Settings, WorkItem};
    let start = std::time::Instant::now();
    let mut settings = if args.quick {
        Settings::quick(args.base_seed)
    } else {
        Settings::full(args.base_seed)
    };
    if let Some(n) = args.seeds {
        settings.accuracy_seeds = n;
    }
    if let Some(n) = args.speed_seeds {
        settings.speed_seeds = n;
    }
    if settings.accuracy_seeds == 0 || settings.speed_seeds == 0 {
        return Err((2, "invalid seeds: must be at least 1".into()));
    }
    settings.validate().map_err(|e| (2, e.to_string()))?;
    let parts = match &args.only {
        Some(s) => vanishing::experiments::parse_parts(s).map_err(|e| (2, e.to_string()))?,
        None => Plan::all(settings.clone()).parts,
    };
    if args.threads == Some(0) {
        return Err((2, "invalid threads: must be at least 1".into()));
    }
    let threads = args.threads.unwrap_or_else(rayon::current_num_threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| (1, e.to_string()))?;
    let plan = Plan { settings, parts };
    let shard = args.shard.map(|Shard(i, n)| (i, n));
    match shard {
        Some((i, n)) => check_output(&args.out.join(xrun::shard_file_name(i, n)))?,
        None => vanishing::pipeline::check_out_dir(&args.out).map_err(|e| (2, e.to_string()))?,
    }
    let data =
        mnist::load(&mnist::resolve_dir(args.data.as_deref())).map_err(|e| (1, e.to_string()))?;
    let all_items = plan.items().map_err(|e| (1, e.to_string()))?;
    let positions = match shard {
        Some((i, n)) => xrun::shard_positions(all_items.len(), i, n),
        None => (0..all_items.len()).collect(),
    };
    let multi = indicatif::MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>15} {bar:30} {pos}/{len} {elapsed}")
        .expect("valid template");
    let bars: Vec<(&str, ProgressBar)> = plan
        .parts
        .iter()
        .map(|p| {
            let n = positions
                .iter()
                .filter(|&&i| all_items[i].part == *p)
                .count() as u64;
            let b = multi.add(ProgressBar::new(n));
            b.set_style(style.clone());
            b.set_prefix(p.clone());
            (p.as_str(), b)
        })
        .collect();
    println!(
        "reproducing chapter 5: {} work items{} on {threads} thread(s){}",
        positions.len(),
        shard.map_or(String::new(), |(i, n)| format!(" (shard {i}/{n})")),
        if args.quick { ", quick settings" } else { "" }
    );
    let done = |item: &WorkItem| {
        if let Some((_, b)) = bars.iter().find(|(p, _)| *p == item.part) {
            b.inc(1);
        }
    };
    let (positions, items, results) = pool
        .install(|| xrun::run_items(&plan, &data, shard, &done))
        .map_err(|e| (1, e.to_string()))?;
    for (_, b) in &bars {
        b.finish();
    }
    let machine = Machine::current(threads);
    if let Some((i, n)) = shard {
        let file = xrun::ShardFile {
            plan: plan.clone(),
            index: i,
            count: n,
            results: positions
                .into_iter()
                .zip(items)
                .zip(results)
                .map(|((p, it), (r, s))| (p, it, r, s))
                .collect(),
            machine,
        };
        let path = xrun::write_shard(&args.out, &file).map_err(|e| (1, e.to_string()))?;
        println!(
            "wrote {} ({:.1} s); merge all shards with `vanishing merge DIR...`",
            path.display(),
            start.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let total = start.elapsed().as_secs_f64();
    let finished = vanishing::pipeline::Finished {
        plan: &plan,
        items: &items,
        results: &results,
        machine,
        total_wall_seconds: total,
        shards: None,
    };
    vanishing::pipeline::publish(&args.out, &finished).map_err(|e| (1, e.to_string()))?;
    print_summary(&args.out, &finished)
}

fn print_summary(out: &Path, run: &vanishing::pipeline::Finished) -> Result<(), (u8, String)> {
    let lines = vanishing::pipeline::headlines(run).map_err(|e| (1, e.to_string()))?;
    let total = run.total_wall_seconds;
    println!("done in {total:.1} s");
    for line in lines {
        println!("  {line}");
    }
    println!(
        "wrote {} and {}",
        out.join("chapter5.md").display(),
        out.join("chapter5/").display()
    );
    Ok(())
}

fn run_tune(args: TuneArgs) -> Result<(), (u8, String)> {
    use vanishing::tune;
    let isa = Isa::selected();
    if isa == Isa::Scalar {
        return Err((
            2,
            "tune: the scalar family has one kernel; nothing to choose".into(),
        ));
    }
    let path = vanishing::gemm::profile::profile_path(isa);
    if !args.dry_run {
        check_output(&path)?;
    }
    let start = std::time::Instant::now();
    eprintln!(
        "tuning {} GEMM kernels on {} (one thread; time relative to the defaults, geometric mean \
         and worst shape; a choice must be 3 % faster overall and slower on no shape)",
        isa.name(),
        tune::SHAPES.map(|s| s.0).join(", ")
    );
    let profile = tune::tune(isa, &|t| {
        eprintln!(
            "  {:<20} mc {:>4} kc {:>4} nc {:>5}: {:.3} (worst shape {:.3})",
            t.kernel,
            t.blocking.mc,
            t.blocking.kc,
            t.blocking.nc,
            t.relative_time,
            t.worst_shape_ratio
        )
    });
    println!(
        "chosen: {} with mc {}, kc {}, nc {} ({:.1} % of the defaults' time; {:.1} s)",
        profile.kernel,
        profile.blocking.mc,
        profile.blocking.kc,
        profile.blocking.nc,
        100.0 * profile.relative_time,
        start.elapsed().as_secs_f64()
    );
    if args.dry_run {
        return Ok(());
    }
    let json = serde_json::to_string_pretty(&profile).map_err(|e| (1, e.to_string()))?;
    write_atomic(&path, &format!("{json}\n"))?;
    println!("saved {}", path.display());
    Ok(())
}

fn run_compare(args: CompareArgs) -> Result<(), (u8, String)> {
    use vanishing::experiments::compare;
    let read = |dir: &Path| compare::comparable_results(dir).map_err(|e| (2, e.to_string()));
    let (a, b) = (read(&args.first)?, read(&args.second)?);
    let diffs = compare::differences(&a, &b);
    for d in &diffs {
        println!("DIFFERS  {}: {}", d.file, d.detail);
    }
    let same = a
        .keys()
        .filter(|k| !diffs.iter().any(|d| &&d.file == k))
        .count();
    println!(
        "{same} of {} result files identical ({} vs {}; timings and machine metadata not compared)",
        a.len().max(b.len()),
        args.first.display(),
        args.second.display()
    );
    if diffs.is_empty() {
        Ok(())
    } else {
        Err((1, format!("{} result files differ", diffs.len())))
    }
}

fn run_merge(args: MergeArgs) -> Result<(), (u8, String)> {
    use vanishing::experiments::run as xrun;
    let start = std::time::Instant::now();
    vanishing::pipeline::check_out_dir(&args.out).map_err(|e| (2, e.to_string()))?;
    let (plan, items, results, count) = xrun::merge(&args.dirs).map_err(|e| (1, e.to_string()))?;
    let total: f64 = results.iter().map(|r| r.1).sum();
    let finished = vanishing::pipeline::Finished {
        plan: &plan,
        items: &items,
        results: &results,
        machine: Machine::current(rayon::current_num_threads()),
        total_wall_seconds: total,
        shards: Some(count),
    };
    vanishing::pipeline::publish(&args.out, &finished).map_err(|e| (1, e.to_string()))?;
    println!(
        "merged {count} shards ({} items) in {:.1} s",
        items.len(),
        start.elapsed().as_secs_f64()
    );
    print_summary(&args.out, &finished)
}

/// Refuses malformed kernel overrides up front: a library call can only warn and ignore them,
/// but a run that silently ignored a typo would measure or test something else than asked.
fn check_overrides() -> Result<(), (u8, String)> {
    if let Ok(v) = std::env::var(isa::ISA_ENV) {
        if !v.trim().is_empty() {
            Isa::from_name(&v).map_err(|e| (2, format!("{}: {e}", isa::ISA_ENV)))?;
        }
    }
    vanishing::gemm::Blocking::forced().map_err(|e| (2, e.to_string()))?;
    vanishing::kernels::GemmKernel::forced().map_err(|e| (2, e.to_string()))?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = check_overrides().and_then(|()| match cli.command {
        Command::Info(args) => info(args),
        Command::Train(args) => run_train(args),
        Command::Reproduce(args) => run_reproduce(args),
        Command::Merge(args) => run_merge(args),
        Command::Compare(args) => run_compare(args),
        Command::Tune(args) => run_tune(args),
        Command::PerfGate(args) => cli::perf_gate::run(args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Machines(args) => cli::machines::run(args),
        Command::PerfWorker => {
            vanishing::perf::workloads::single_thread_pool();
            let stdin = std::io::stdin();
            vanishing::perf::ab::serve(stdin.lock(), std::io::stdout().lock())
                .map_err(|e| (2, e.to_string()))
        }
        Command::PerfWorkload { name, iters } => {
            vanishing::perf::workloads::single_thread_pool();
            vanishing::perf::instructions::run_workload(&name, iters)
                .map_err(|e| (2, e.to_string()))
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(code)
        }
    }
}
