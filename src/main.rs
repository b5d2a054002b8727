//! `vanishing`: thin command-line front end over the library.

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vanishing::cpu::{self, CacheSizes};
use vanishing::data::mnist;
use vanishing::gemm::Gemm;
use vanishing::isa::{self, Isa};
use vanishing::meta::Machine;
use vanishing::nn::batched::Engine;
use vanishing::nn::train::{self, EpochRecord, TrainConfig};
use vanishing::nn::{Activation, Cost, Init};

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
    /// Print the CPU, detected ISA features, the kernels that will run, cache blocking and threads.
    Info,
    /// Train an MLP on MNIST with the book's network2 semantics.
    Train(TrainArgs),
    /// Reproduce chapter 5's measurements into results/ (not built yet: see issue 5).
    Reproduce,
}

#[derive(Clone, Copy, ValueEnum)]
enum InitArg {
    Default,
    Large,
    Glorot,
    He,
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
    /// Worker threads (default: rayon's, i.e. RAYON_NUM_THREADS or all CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Also evaluate on the test set after every epoch.
    #[arg(long)]
    monitor_test: bool,
    /// Also compute the regularised training cost after every epoch.
    #[arg(long)]
    monitor_cost: bool,
    /// MNIST directory (default: VANISHING_MNIST_DIR, else data/mnist).
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

fn info() {
    let caches = CacheSizes::get();
    let gemm = Gemm::new();
    let blk = gemm.block_sizes();
    println!("cpu:            {}", cpu::cpu_name());
    println!("logical cpus:   {}", cpu::logical_cpus());
    println!("isa features:   {}", isa::detected_features().join(" "));
    println!(
        "kernel family:  {} (available: {}; override with {}=<name>)",
        Isa::selected().name(),
        Isa::available()
            .iter()
            .map(|i| i.name())
            .collect::<Vec<_>>()
            .join(", "),
        isa::ISA_ENV
    );
    println!("gemm kernel:    {}", gemm.kernel_name());
    println!(
        "sigmoid kernel: {}",
        vanishing::activation::ActivationKernels::new().sigmoid_name()
    );
    println!(
        "caches:         L1d {} KiB, L2 {} KiB, L3 {} KiB ({})",
        caches.l1d / 1024,
        caches.l2 / 1024,
        caches.l3 / 1024,
        if caches.detected {
            "detected"
        } else {
            "defaults: detection failed"
        }
    );
    println!(
        "gemm blocking:  mc = {}, kc = {}, nc = {} (MR x NR = 6 x 16)",
        blk.mc, blk.kc, blk.nc
    );
    println!(
        "threads:        {} (rayon; set RAYON_NUM_THREADS to change)",
        rayon::current_num_threads()
    );
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

/// Writes `text` to `path` through a temporary file and a rename, so a failure never leaves a
/// half-written file or destroys the previous one.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
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
        },
        cost: match args.cost {
            CostArg::CrossEntropy => Cost::CrossEntropy,
            CostArg::Quadratic => Cost::Quadratic,
        },
        hidden: match args.activation {
            ActArg::Sigmoid => Activation::Sigmoid,
            ActArg::Tanh => Activation::Tanh,
            ActArg::Relu => Activation::Relu,
        },
        seed: args.seed,
        monitor_test: args.monitor_test,
        monitor_cost: args.monitor_cost,
    };
    cfg.validate().map_err(|e| (2, e.to_string()))?;
    if args.threads == Some(0) {
        return Err((2, "invalid threads: must be at least 1".into()));
    }
    let threads = args.threads.unwrap_or_else(rayon::current_num_threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| (1, e.to_string()))?;
    let dir = mnist::resolve_dir(args.data.as_deref());
    let data = mnist::load(&dir).map_err(|e| (1, e.to_string()))?;
    let steps = data.train.len().div_ceil(cfg.batch) as u64;
    let bar = ProgressBar::new(steps * cfg.epochs as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} mini-batches, {elapsed} elapsed, eta {eta}",
        )
        .expect("valid template"),
    );
    println!(
        "training {:?}, {} epochs, batch {}, eta {}, lambda {}, init {}, cost {}, hidden {}, seed {}, {} thread(s)",
        cfg.layers,
        cfg.epochs,
        cfg.batch,
        cfg.eta,
        cfg.lambda,
        cfg.init.name(),
        cfg.cost.name(),
        cfg.hidden.name(),
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
        write_atomic(&path, &text).map_err(|e| (1, format!("writing {}: {e}", path.display())))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Info => {
            info();
            Ok(())
        }
        Command::Train(args) => run_train(args),
        Command::Reproduce => Err((1, "reproduce is not built yet (issue 5); `vanishing train` and `vanishing info` work today".into())),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(code)
        }
    }
}
