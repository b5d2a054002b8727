//! `vanishing`: thin command-line front end over the library.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use vanishing::cpu::{self, CacheSizes};
use vanishing::gemm::Gemm;
use vanishing::isa::{self, Isa};

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
    /// Reproduce chapter 5's measurements into results/ (not built yet: see issue 5).
    Reproduce,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Info => {
            info();
            ExitCode::SUCCESS
        }
        Command::Reproduce => {
            eprintln!("vanishing reproduce: not built yet (issue 5); `vanishing info` and the benches work today");
            ExitCode::from(1)
        }
    }
}
