//! What C's row stride alone costs the GEMM microkernel (see `vanishing::kernels::tile_loop`):
//! one whole packed tile after another over 8 strips at kc = 256, C rows a few floats apart or
//! a power of two apart, every configuration once per round, best of 15 rounds, one thread.
//!
//! `taskset -c 0 cargo run --release --example c_stride`

use vanishing::kernels::tile_loop::{tile_loop, TileLoop};
use vanishing::kernels::GemmKernel;

fn main() {
    let kernel = GemmKernel::for_isa(vanishing::isa::Isa::best());
    let peak = vanishing::cpu::measure_fma_peak_gflops_for(kernel.isa);
    let nr = kernel.nr;
    let configs: Vec<(usize, bool)> = [nr, 1024, 2048, 4096, 4096 + nr]
        .into_iter()
        .flat_map(|s| [(s, true), (s, false)])
        .collect();
    let (kc, strips, calls) = (256, 8, 8000);
    let mut best = vec![f64::MAX; configs.len()];
    for _ in 0..15 {
        for (i, &(stride, load)) in configs.iter().enumerate() {
            let p = TileLoop {
                kc,
                strips,
                c_row_stride: stride,
                load,
                calls,
            };
            best[i] = best[i].min(tile_loop(&kernel, &p).seconds);
        }
    }
    let flop = 2.0 * (kernel.mr * kernel.nr * kc * calls) as f64;
    println!(
        "{}, kc {kc}, {strips} strips; measured FMA peak {}",
        kernel.name,
        peak.map_or("-".to_string(), |p| format!("{p:.1} GFLOP/s"))
    );
    println!("| C row stride (floats) | partial sums loaded | GFLOP/s | % of peak |");
    println!("|---|---|---|---|");
    for (&(stride, load), t) in configs.iter().zip(&best) {
        let g = flop / t / 1e9;
        let share = peak.map_or("-".to_string(), |p| format!("{:.0}", 100.0 * g / p));
        println!(
            "| {stride} | {} | {g:.1} | {share} |",
            if load { "yes" } else { "no" }
        );
    }
}
