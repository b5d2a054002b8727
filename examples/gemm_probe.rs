//! Quick interleaved GFLOP/s probe: ours vs matrixmultiply, single thread, for tuning.
//! `cargo run --release --example gemm_probe -- [reps]`
use std::time::Instant;
use vanishing::gemm::Gemm;

fn main() {
    let shapes: Vec<(usize, usize, usize, bool)> = vec![
        (64, 64, 64, false),
        (128, 128, 128, false),
        (256, 256, 256, false),
        (512, 512, 512, false),
        (1024, 1024, 1024, false),
        (10, 784, 30, false),
        (10, 30, 10, false),
        (1000, 784, 30, false),
        (784, 1000, 30, true),
        (1000, 30, 30, false),
        (100, 784, 100, false),
    ];
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut g = Gemm::new().threads(threads);
    let mut blk = g.block_sizes();
    if let Ok(v) = std::env::var("MC") {
        blk.mc = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("KC") {
        blk.kc = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("NC") {
        blk.nc = v.parse().unwrap();
    }
    g = g.blocking(blk);
    eprintln!("{:?}", blk);
    for (m, k, n, at) in shapes {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let mut c = vec![0.0f32; m * n];
        let (rsa, csa) = if at { (1, m as isize) } else { (k as isize, 1) };
        let flops = 2.0 * (m * n * k) as f64;
        let iters = ((2e9 / flops) as usize).clamp(3, 200000);
        let mut best = [f64::MAX; 2];
        let mut med = [vec![], vec![]];
        for _ in 0..7 {
            for which in 0..2 {
                let t = Instant::now();
                for _ in 0..iters {
                    unsafe {
                        if which == 0 {
                            g.sgemm(
                                m,
                                k,
                                n,
                                1.0,
                                a.as_ptr(),
                                rsa,
                                csa,
                                b.as_ptr(),
                                n as isize,
                                1,
                                0.0,
                                c.as_mut_ptr(),
                                n as isize,
                                1,
                            );
                        } else {
                            matrixmultiply::sgemm(
                                m,
                                k,
                                n,
                                1.0,
                                a.as_ptr(),
                                rsa,
                                csa,
                                b.as_ptr(),
                                n as isize,
                                1,
                                0.0,
                                c.as_mut_ptr(),
                                n as isize,
                                1,
                            );
                        }
                    }
                }
                let s = t.elapsed().as_secs_f64() / iters as f64;
                best[which] = best[which].min(s);
                med[which].push(s);
            }
        }
        for v in med.iter_mut() {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        }
        let g0 = flops / med[0][3] / 1e9;
        let g1 = flops / med[1][3] / 1e9;
        println!(
            "{m:5}x{k:5}x{n:5}{}: ours {g0:6.1} GF/s  mm {g1:6.1}  ratio {:.2}  (best ours {:.1})",
            if at { "T" } else { " " },
            g0 / g1,
            flops / best[0] / 1e9
        );
    }
}
