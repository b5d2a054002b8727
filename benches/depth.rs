//! How the cost of chapter 5's speed measurement and of a full-batch training step grows with
//! depth (1 to 10 hidden layers of 30, batch 1,000). Criterion measures time only, so the run
//! also writes the gradient-norm decay for the same depths, computed by the library's experiment
//! code, beside the timings in `results/machines/<cpu>/bench-depth.md`.

mod support;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use vanishing::data::mnist;
use vanishing::experiments::beyond::{shrink_per_layer, Beyond, Config};
use vanishing::experiments::speed::gradient_buffers;
use vanishing::experiments::{Context, Experiment, Settings};
use vanishing::nn::batched::{Engine, SgdParams, Workspace};
use vanishing::nn::{Activation, Cost, Init, Network};

const DEPTHS: std::ops::RangeInclusive<usize> = 1..=10;
const BATCH: usize = 1000;
const DECAY_SEEDS: u64 = 10;

fn sizes(depth: usize) -> Vec<usize> {
    vanishing::book::mnist_layers(depth, vanishing::book::HIDDEN_WIDTH)
}

fn bench_depth(c: &mut Criterion) {
    let data = mnist::load(&mnist::resolve_dir(None)).expect("MNIST loads");
    let batch = data.train.head(BATCH);
    let e = Engine::new();
    let mut group = c.benchmark_group("depth");
    group
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(800))
        .sample_size(10);
    group.throughput(Throughput::Elements(BATCH as u64));
    for depth in DEPTHS {
        let mut net = Network::new(&sizes(depth), Activation::Sigmoid, Init::Default, 1).unwrap();
        let mut ws = Workspace::new(&net, BATCH);
        batch.images_into(0..batch.len(), &mut ws.x);
        let mut g = gradient_buffers(&net);
        group.bench_function(BenchmarkId::new("speed-measurement", depth), |b| {
            b.iter(|| {
                e.mean_bias_gradients(
                    &net,
                    &mut ws,
                    BATCH,
                    &batch.labels,
                    Cost::CrossEntropy,
                    &mut g,
                )
            })
        });
        group.bench_function(BenchmarkId::new("fullbatch-step", depth), |b| {
            b.iter(|| {
                e.sgd_step(
                    &mut net,
                    &mut ws,
                    BATCH,
                    &batch.labels,
                    &SgdParams {
                        cost: Cost::CrossEntropy,
                        eta: 0.1,
                        lambda: 5.0,
                        train_size: BATCH,
                    },
                )
            })
        });
    }
    group.finish();
}

fn summary() {
    if !support::full_run() {
        return;
    }
    let data = mnist::load(&mnist::resolve_dir(None)).expect("MNIST loads");
    let settings = Settings::full(1);
    let mut md = format!(
        "# Cost and gradient decay versus depth\n\nWritten by `cargo bench --bench depth`: Criterion medians for batch {BATCH} on {} thread(s), and the initial speed of each hidden layer (median over {DECAY_SEEDS} seeds, sigmoid, default init, first {BATCH} training images) from the library's experiment code.\n\nMachine: {}\n\n| hidden layers | speed measurement (ms) | full-batch step (ms) | first-layer speed | last-layer speed | last/first | shrink per layer |\n|---|---|---|---|---|---|---|\n",
        rayon::current_num_threads(),
        support::machine()
    );
    let mut figures = Vec::new();
    for depth in DEPTHS {
        let ms = |id: &str| {
            support::median_seconds(&format!("depth/{id}/{depth}"))
                .map_or("-".into(), |s| format!("{:.3}", s * 1e3))
        };
        let ctx = Context {
            settings: &settings,
            data: &data,
        };
        let runs: Vec<Vec<f64>> = (0..DECAY_SEEDS)
            .map(|i| {
                let config = Config {
                    act: Activation::Sigmoid,
                    init: Init::Default,
                    depth,
                    seed: 1 + i,
                };
                match Beyond.run(&config, &ctx) {
                    Ok(out) => out.speeds,
                    Err(e) => panic!("sweep item failed: {e}"),
                }
            })
            .collect();
        let medians: Vec<f64> = (0..depth)
            .map(|l| {
                vanishing::stats::quantile(&runs.iter().map(|v| v[l]).collect::<Vec<_>>(), 0.5)
            })
            .collect();
        let (first, last) = (medians[0], medians[depth - 1]);
        let shrink = if depth > 1 {
            format!("{:.2}", shrink_per_layer(&medians))
        } else {
            "-".into()
        };
        figures.extend(support::time_figure(
            &format!("full-batch-step-depth-{depth}"),
            &format!("depth/fullbatch-step/{depth}"),
            1e3,
            "ms",
            |_| None,
        ));
        md += &format!(
            "| {depth} | {} | {} | {first:.3e} | {last:.3e} | {:.1}x | {shrink} |\n",
            ms("speed-measurement"),
            ms("fullbatch-step"),
            last / first
        );
    }
    support::write_result("bench-depth.md", &md);
    support::write_record(
        "cargo bench --bench depth",
        figures,
        &format!(
            "chapter 5's full-batch step ({BATCH} images, sigmoid, default init) for 1 to 10 hidden layers of 30, {} thread(s)",
            rayon::current_num_threads()
        ),
    );
}

criterion_group!(benches, bench_depth);

fn main() {
    support::check_result("bench-depth.md");
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    summary();
}
