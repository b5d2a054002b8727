//! The trainer against the f64 per-example oracle, finite differences, determinism across
//! thread counts, and a real (small) MNIST run.

mod common;

use rand::RngExt;
use vanishing::activation::ActivationKernels;
use vanishing::gemm::Gemm;
use vanishing::isa::Isa;
use vanishing::nn::batched::{Engine, SgdParams, Workspace};
use vanishing::nn::reference::RefNet;
use vanishing::nn::{Activation, Cost, Init, Network};

const ACTS: [Activation; 4] = [
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
    Activation::Softsign,
];
const COSTS: [Cost; 2] = [Cost::CrossEntropy, Cost::Quadratic];

/// Random inputs in [0, 1) and labels below `classes`.
fn batch(seed: u64, m: usize, width: usize, classes: usize) -> (Vec<f32>, Vec<u8>) {
    let mut r = common::rng(seed);
    let x = (0..m * width)
        .map(|_| r.random_range(0.0f32..1.0))
        .collect();
    let y = (0..m).map(|_| r.random_range(0..classes) as u8).collect();
    (x, y)
}

fn rows_f64(x: &[f32], width: usize) -> Vec<Vec<f64>> {
    x.chunks(width)
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect()
}

#[test]
fn oracle_backprop_matches_finite_differences() {
    for act in ACTS {
        for cost in COSTS {
            let net = Network::new(&[7, 6, 5, 4], act, Init::Default, 3).unwrap();
            let mut oracle = RefNet::from_network(&net);
            let (x, y) = batch(4, 3, 7, 4);
            let xs = rows_f64(&x, 7);
            let g = oracle.mean_gradient(&xs, &y, cost);
            let mean_cost = |o: &RefNet| {
                xs.iter()
                    .zip(&y)
                    .map(|(x, &l)| o.cost(x, l, cost))
                    .sum::<f64>()
                    / xs.len() as f64
            };
            let h = 1e-6;
            for l in 0..oracle.w.len() {
                for o in 0..oracle.w[l].len() {
                    for i in 0..oracle.w[l][o].len() {
                        let orig = oracle.w[l][o][i];
                        oracle.w[l][o][i] = orig + h;
                        let up = mean_cost(&oracle);
                        oracle.w[l][o][i] = orig - h;
                        let down = mean_cost(&oracle);
                        oracle.w[l][o][i] = orig;
                        let fd = (up - down) / (2.0 * h);
                        assert!(
                            (fd - g.w[l][o][i]).abs() <= 1e-6 * (1.0 + fd.abs()),
                            "{act:?} {cost:?} dW[{l}][{o}][{i}]: backprop {} vs fd {fd}",
                            g.w[l][o][i]
                        );
                    }
                    let orig = oracle.b[l][o];
                    oracle.b[l][o] = orig + h;
                    let up = mean_cost(&oracle);
                    oracle.b[l][o] = orig - h;
                    let down = mean_cost(&oracle);
                    oracle.b[l][o] = orig;
                    let fd = (up - down) / (2.0 * h);
                    assert!(
                        (fd - g.b[l][o]).abs() <= 1e-6 * (1.0 + fd.abs()),
                        "{act:?} {cost:?} db[{l}][{o}]: backprop {} vs fd {fd}",
                        g.b[l][o]
                    );
                }
            }
        }
    }
}

fn engine(isa: Isa) -> Engine {
    Engine {
        gemm: Gemm::with_isa(isa),
        act: ActivationKernels::for_isa(isa),
    }
}

fn close(a: f32, b: f64, what: &str) {
    assert!(
        (a as f64 - b).abs() <= 2e-5 + 2e-4 * b.abs(),
        "{what}: f32 {a} vs f64 {b}"
    );
}

#[test]
fn batched_gradients_equal_the_per_example_oracle_every_isa() {
    for isa in common::families() {
        let e = engine(isa);
        for act in ACTS {
            for cost in COSTS {
                let sizes = [20, 17, 9, 5];
                let net = Network::new(&sizes, act, Init::Default, 11).unwrap();
                let m = 13;
                let (x, y) = batch(12, m, sizes[0], 5);
                let mut ws = Workspace::new(&net, m);
                ws.x.copy_from_slice(&x);
                e.forward(&net, &mut ws, m);
                e.backward(&net, &mut ws, m, &y, cost);
                let g = RefNet::from_network(&net).mean_gradient(&rows_f64(&x, sizes[0]), &y, cost);
                for l in 0..net.layers() {
                    let (n_in, n_out) = (sizes[l], sizes[l + 1]);
                    let mut db = vec![0.0; n_out];
                    e.bias_gradient(&net, &ws, m, l, 1.0 / m as f32, &mut db);
                    let mut dwt = vec![0.0; n_in * n_out];
                    e.weight_gradient(&net, &ws, m, l, 1.0 / m as f32, &mut dwt);
                    for o in 0..n_out {
                        close(
                            db[o],
                            g.b[l][o],
                            &format!("{isa:?} {act:?} {cost:?} db[{l}][{o}]"),
                        );
                        for i in 0..n_in {
                            close(
                                dwt[i * n_out + o],
                                g.w[l][o][i],
                                &format!("{isa:?} {act:?} {cost:?} dW[{l}][{o}][{i}]"),
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn fused_sgd_step_matches_the_oracle_step() {
    for isa in common::families() {
        let e = engine(isa);
        for cost in COSTS {
            let sizes = [30, 12, 10];
            let mut net = Network::new(&sizes, Activation::Sigmoid, Init::Large, 21).unwrap();
            let mut oracle = RefNet::from_network(&net);
            let m = 10;
            let mut ws = Workspace::new(&net, m);
            for step in 0..5 {
                let (x, y) = batch(100 + step, m, sizes[0], 10);
                ws.x.copy_from_slice(&x);
                e.sgd_step(
                    &mut net,
                    &mut ws,
                    m,
                    &y,
                    &SgdParams {
                        cost,
                        eta: 0.5,
                        lambda: 5.0,
                        train_size: 1000,
                    },
                );
                oracle.sgd_step(&rows_f64(&x, sizes[0]), &y, cost, 0.5, 5.0, 1000);
            }
            for l in 0..net.layers() {
                for o in 0..sizes[l + 1] {
                    close(
                        net.biases[l][o],
                        oracle.b[l][o],
                        &format!("{isa:?} {cost:?} b[{l}][{o}]"),
                    );
                    for i in 0..sizes[l] {
                        close(
                            net.weight(l, o, i),
                            oracle.w[l][o][i],
                            &format!("{isa:?} {cost:?} W[{l}][{o}][{i}]"),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn bit_identical_weights_for_one_two_three_threads() {
    // Batch 500 makes the layer-1 GEMMs (500x784x30) big enough to be split between threads.
    let sizes = [784, 30, 10];
    let (x, y) = batch(7, 2000, 784, 10);
    let run = |threads: usize| {
        common::with_threads(threads, || {
            let e = Engine::new();
            let mut net = Network::new(&sizes, Activation::Sigmoid, Init::Default, 5).unwrap();
            let mut ws = Workspace::new(&net, 500);
            for (xb, yb) in x.chunks(500 * 784).zip(y.chunks(500)) {
                ws.x.copy_from_slice(xb);
                e.sgd_step(
                    &mut net,
                    &mut ws,
                    500,
                    yb,
                    &SgdParams {
                        cost: Cost::CrossEntropy,
                        eta: 0.1,
                        lambda: 5.0,
                        train_size: 2000,
                    },
                );
            }
            net
        })
    };
    let one = run(1);
    for t in [2, 3] {
        let other = run(t);
        for l in 0..one.layers() {
            assert!(
                one.weights_t[l]
                    .iter()
                    .zip(&other.weights_t[l])
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "weights of layer {l} differ with {t} threads"
            );
            assert!(
                one.biases[l]
                    .iter()
                    .zip(&other.biases[l])
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "biases of layer {l} differ with {t} threads"
            );
        }
    }
}

#[test]
fn same_seed_same_network_different_seed_different_network() {
    let a = Network::new(&[784, 30, 10], Activation::Sigmoid, Init::Default, 9).unwrap();
    let b = Network::new(&[784, 30, 10], Activation::Sigmoid, Init::Default, 9).unwrap();
    let c = Network::new(&[784, 30, 10], Activation::Sigmoid, Init::Default, 10).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.weights_t, c.weights_t);
    // Default init: weights N(0, 1/784), biases N(0, 1); the sample moments say so.
    let w = &a.weights_t[0];
    let var = w.iter().map(|v| (v * v) as f64).sum::<f64>() / w.len() as f64;
    assert!(
        (var * 784.0 - 1.0).abs() < 0.05,
        "weight variance x fan_in = {}",
        var * 784.0
    );
}

#[test]
fn rejects_bad_architectures() {
    assert!(Network::new(&[784], Activation::Sigmoid, Init::Default, 1).is_err());
    assert!(Network::new(&[784, 0, 10], Activation::Sigmoid, Init::Default, 1).is_err());
}

#[test]
fn full_batch_bias_gradients_bit_identical_across_threads() {
    let sizes = [784, 30, 30, 30, 10];
    let (x, y) = batch(9, 1000, 784, 10);
    let run = |threads: usize| {
        common::with_threads(threads, || {
            let e = Engine::new();
            let net = Network::new(&sizes, Activation::Sigmoid, Init::Default, 2).unwrap();
            let mut ws = Workspace::new(&net, 1000);
            ws.x.copy_from_slice(&x);
            let mut g: Vec<Vec<f32>> = sizes[1..].iter().map(|&n| vec![0.0; n]).collect();
            e.mean_bias_gradients(&net, &mut ws, 1000, &y, Cost::CrossEntropy, &mut g);
            g
        })
    };
    let one = run(1);
    for t in [2, 3] {
        let other = run(t);
        assert!(
            one.iter()
                .flatten()
                .zip(other.iter().flatten())
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{t} threads differ"
        );
    }
}

/// A small non-MNIST dataset: `m` examples of `features` bytes, labels below `classes`.
fn byte_dataset(seed: u64, m: usize, features: usize, classes: usize) -> vanishing::data::Dataset {
    let mut r = common::rng(seed);
    let pixels: Vec<u8> = (0..m * features)
        .map(|_| r.random_range(0..=255u8))
        .collect();
    let labels = (0..m).map(|_| r.random_range(0..classes) as u8).collect();
    vanishing::data::Dataset::from_bytes(&pixels, labels, features, classes)
}

/// `total_cost` against the f64 oracle: mean per-example cost plus the L2 term, over a dataset
/// that spans several evaluation chunks (and ends in a partial one).
#[test]
fn total_cost_matches_the_oracle() {
    use vanishing::nn::train::total_cost;
    let data = byte_dataset(11, 23, 7, 4);
    for act in ACTS {
        for cost in COSTS {
            let net = Network::new(&[7, 6, 4], act, Init::Default, 5).unwrap();
            let oracle = RefNet::from_network(&net);
            let mut ws = Workspace::new(&net, 10);
            let (lambda, n) = (5.0f32, 1000usize);
            let got = total_cost(&engine(Isa::Scalar), &net, &mut ws, &data, cost, lambda, n);
            let mean: f64 = (0..data.len())
                .map(|i| {
                    let x: Vec<f64> = data.image(i).iter().map(|&v| v as f64).collect();
                    oracle.cost(&x, data.labels[i], cost)
                })
                .sum::<f64>()
                / data.len() as f64;
            let l2: f64 = net
                .weights_t
                .iter()
                .flatten()
                .map(|&w| (w as f64).powi(2))
                .sum();
            let want = mean + 0.5 * (lambda as f64 / n as f64) * l2;
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                "{act:?} {cost:?}: total_cost {got}, oracle {want}"
            );
            // The regulariser matters: without it the value is the mean alone.
            let unregularised =
                total_cost(&engine(Isa::Scalar), &net, &mut ws, &data, cost, 0.0, n);
            assert!((unregularised - mean).abs() <= 1e-5 * mean.abs().max(1.0));
            assert!(got > unregularised);
        }
    }
}

/// The trainer reads any dataset, not only MNIST: 7 features, 4 classes, learnable labels
/// (the class is which quarter of the byte range feature 0 falls in). A layer list that does
/// not fit the data is refused with a clear error.
#[test]
fn trainer_takes_any_dataset() {
    use vanishing::data::{Dataset, Splits};
    use vanishing::nn::train::{train, TrainConfig};
    let learnable = |seed: u64, m: usize| {
        let mut d = byte_dataset(seed, m, 7, 4);
        for i in 0..m {
            d.labels[i] = d.pixels[i * 7] / 64;
        }
        d
    };
    let data = Splits {
        train: learnable(1, 2000),
        validation: learnable(2, 500),
        test: learnable(3, 500),
    };
    let mut cfg = TrainConfig::book(&[7, 16, 4]);
    cfg.epochs = 10;
    cfg.lambda = 0.0;
    cfg.eta = 0.5;
    let (_, records) = train(&cfg, &data, &engine(Isa::Scalar), || {}, |_| {}).unwrap();
    let last = records.last().unwrap().validation_accuracy;
    assert!(
        last > 0.8,
        "validation accuracy {last} on a learnable 4-class task"
    );
    let bad = TrainConfig::book(&[784, 30, 10]);
    let e = train(&bad, &data, &engine(Isa::Scalar), || {}, |_| {}).unwrap_err();
    assert!(e.to_string().contains("first layer must be 7"), "{e}");
    let _: &Dataset = &data.train;
}

/// The small-batch step (padded, aligned layout; rank-k updates) gives the general step's
/// weights and biases bit for bit, step after step, on every family, for networks whose widths
/// sit around the padding unit (1, 15, 16, 17, 30, 33), every batch size it takes (including a
/// short last batch), both costs and every hidden activation, with later images prefetched
/// during each step as the trainer does. The general step is itself held
/// to the f64 oracle (`fused_sgd_step_matches_the_oracle_step`), so this holds the small-batch
/// step to it too.
#[test]
fn small_batch_step_equals_the_general_step_bit_for_bit() {
    use vanishing::nn::small_batch::SmallBatchStep;
    let nets: [&[usize]; 3] = [&[40, 30, 10], &[33, 17, 1, 15, 5], &[20, 16, 33, 16, 3]];
    let mut cases = 0;
    for isa in common::families() {
        let e = engine(isa);
        for (ni, sizes) in nets.iter().enumerate() {
            let classes = *sizes.last().unwrap();
            let data = byte_dataset(ni as u64, 64, sizes[0], classes);
            for (bi, &batch) in [1usize, 3, 10, 16].iter().enumerate() {
                let act = ACTS[(ni + bi) % ACTS.len()];
                let cost = COSTS[bi % 2];
                let mut general = Network::new(sizes, act, Init::Default, 3).unwrap();
                let mut small = SmallBatchStep::new(&general, &e, batch);
                let mut ws = Workspace::new(&general, batch);
                let p = SgdParams {
                    cost,
                    eta: 0.5,
                    lambda: 2.0,
                    train_size: 64,
                };
                // Six steps, the last one short where the batch allows it.
                for s in 0..6 {
                    let rows = if s == 5 { batch.div_ceil(2) } else { batch };
                    let idx: Vec<usize> = (0..rows).map(|i| (s * 11 + i * 7) % 64).collect();
                    let labels: Vec<u8> = idx.iter().map(|&i| data.labels[i]).collect();
                    let m = e.gather_pixels(&mut ws, &data.pixels, sizes[0], idx.iter().copied());
                    e.sgd_step(&mut general, &mut ws, m, &labels, &p);
                    let m2 = small.gather_pixels(&data.pixels, idx.iter().copied());
                    assert_eq!(m, m2);
                    // Lines of later rows (one past the end, skipped) ride on the update.
                    small.prefetch_during_next_step(&data.pixels, sizes[0], [s, 63, 64, 1 << 40]);
                    small.step(m2, &labels, &p);
                }
                let mut out = general.clone();
                for w in out.weights_t.iter_mut().chain(out.biases.iter_mut()) {
                    w.fill(f32::NAN);
                }
                small.store(&mut out);
                let same = |a: &[Vec<f32>], b: &[Vec<f32>]| {
                    a.iter()
                        .flatten()
                        .zip(b.iter().flatten())
                        .all(|(x, y)| x.to_bits() == y.to_bits())
                };
                assert!(
                    same(&out.weights_t, &general.weights_t) && same(&out.biases, &general.biases),
                    "{isa:?} {sizes:?} batch {batch} {act:?} {cost:?}: small-batch step differs"
                );
                let start = Network::new(sizes, act, Init::Default, 3).unwrap();
                assert!(
                    !same(&general.weights_t, &start.weights_t),
                    "the steps changed the weights"
                );
                cases += 1;
            }
        }
    }
    println!("{cases} small-batch step cases");
}

/// Glorot and Bengio's normalized initialization: uniform within +-sqrt(6/(fan_in + fan_out)),
/// so the variance is 2/(fan_in + fan_out); zero biases; the same bits for the same seed.
#[test]
fn normalized_init_is_uniform_within_its_limit() {
    uniform_init_within(Init::Normalized, &|fan_in, fan_out| {
        (6.0 / (fan_in + fan_out) as f64).sqrt()
    });
}

/// Their "standard" initialization: uniform within +-1/sqrt(fan_in), zero biases.
#[test]
fn standard_init_is_uniform_within_its_limit() {
    uniform_init_within(Init::Standard, &|fan_in, _| 1.0 / (fan_in as f64).sqrt());
}

/// A uniform initialisation within `limit(fan_in, fan_out)`: the bound, the variance and mean
/// of a uniform law, its shape (not a normal law), zero biases, and seeded bits.
fn uniform_init_within(init: Init, limit: &dyn Fn(usize, usize) -> f64) {
    let sizes = [784, 100, 30, 10];
    let net = Network::new(&sizes, Activation::Tanh, init, 4).unwrap();
    for (l, w) in sizes.windows(2).enumerate() {
        let limit = limit(w[0], w[1]);
        let ws = &net.weights_t[l];
        assert!(
            ws.iter().all(|&x| (x as f64).abs() <= limit),
            "layer {l} outside the limit"
        );
        let n = ws.len() as f64;
        let mean = ws.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = ws.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        let want = limit * limit / 3.0;
        // Standard error of the variance of a uniform sample: want * sqrt(0.8 / n).
        assert!(
            (var - want).abs() < 5.0 * want * (0.8 / n).sqrt(),
            "layer {l}: variance {var:e}, expected {want:e}"
        );
        assert!(
            mean.abs() < 5.0 * (want / n).sqrt(),
            "layer {l}: mean {mean:e}"
        );
        // A uniform law, not a normal one: half the weights beyond half the limit (a normal law
        // of the same variance puts 39 % there).
        let outer = ws
            .iter()
            .filter(|&&x| (x as f64).abs() > 0.5 * limit)
            .count() as f64
            / n;
        assert!(
            (outer - 0.5).abs() < 5.0 * (0.25 / n).sqrt(),
            "layer {l}: {outer} beyond half the limit"
        );
        assert!(net.biases[l].iter().all(|&b| b == 0.0));
    }
    let again = Network::new(&sizes, Activation::Tanh, init, 4).unwrap();
    assert_eq!(net.weights_t, again.weights_t);
    let other = Network::new(&sizes, Activation::Tanh, init, 5).unwrap();
    assert_ne!(net.weights_t, other.weights_t);
}

/// Momentum-based SGD (the book's chapter 3 form) follows the f64 oracle over several steps,
/// with a constant coefficient and with Sutskever et al.'s schedule's values.
#[test]
fn momentum_step_matches_the_oracle() {
    use vanishing::nn::batched::Velocity;
    for isa in common::families() {
        let e = engine(isa);
        for (act, cost) in [
            (Activation::Sigmoid, Cost::CrossEntropy),
            (Activation::Softsign, Cost::Quadratic),
        ] {
            let sizes = [30, 12, 10];
            let mut net = Network::new(&sizes, act, Init::Large, 21).unwrap();
            let mut oracle = RefNet::from_network(&net);
            let mut vel = Velocity::zeros(&net);
            let mut ref_vel = oracle.zero_velocity();
            let m = 10;
            let mut ws = Workspace::new(&net, m);
            let p = SgdParams {
                cost,
                eta: 0.2,
                lambda: 5.0,
                train_size: 1000,
            };
            for (step, mu) in [0.5f32, 0.75, 0.9, 0.9, 0.99].into_iter().enumerate() {
                let (x, y) = batch(200 + step as u64, m, sizes[0], 10);
                ws.x.copy_from_slice(&x);
                e.sgd_step_momentum(&mut net, &mut ws, &mut vel, m, &y, &p, mu);
                oracle.sgd_step_momentum(
                    &mut ref_vel,
                    &rows_f64(&x, sizes[0]),
                    &y,
                    cost,
                    0.2,
                    5.0,
                    1000,
                    mu as f64,
                );
            }
            for l in 0..net.layers() {
                for o in 0..sizes[l + 1] {
                    let what = format!("{isa:?} {act:?} {cost:?} layer {l} unit {o}");
                    close(net.biases[l][o], oracle.b[l][o], &format!("{what} b"));
                    close(vel.b[l][o], ref_vel.b[l][o], &format!("{what} v_b"));
                    for i in 0..sizes[l] {
                        close(
                            net.weight(l, o, i),
                            oracle.w[l][o][i],
                            &format!("{what} W[{i}]"),
                        );
                        let v = vel.w[l][i * sizes[l + 1] + o];
                        close(v, ref_vel.w[l][o][i], &format!("{what} V[{i}]"));
                    }
                }
            }
        }
    }
}

/// Every weight and bias of `n` as bits, in order.
fn param_bits(n: &Network) -> Vec<u32> {
    n.weights_t
        .iter()
        .chain(&n.biases)
        .flatten()
        .map(|v| v.to_bits())
        .collect()
}

/// The small-batch step with momentum gives the general momentum step's bits, and both differ
/// from plain SGD; the general step gives the same bits on 1, 2 and 3 threads.
#[test]
fn momentum_steps_agree_bit_for_bit() {
    use vanishing::nn::batched::Velocity;
    use vanishing::nn::small_batch::SmallBatchStep;
    for isa in common::families() {
        let e = engine(isa);
        for (ni, sizes) in [&[40usize, 30, 10][..], &[33, 17, 1, 15, 5]]
            .iter()
            .enumerate()
        {
            let classes = *sizes.last().unwrap();
            let data = byte_dataset(ni as u64, 64, sizes[0], classes);
            for batch in [3usize, 10, 16] {
                let start = Network::new(sizes, ACTS[ni + 1], Init::Default, 3).unwrap();
                let (mut general, mut plain) = (start.clone(), start.clone());
                let mut small = SmallBatchStep::new(&start, &e, batch);
                let mut ws = Workspace::new(&start, batch);
                let mut vel = Velocity::zeros(&start);
                let p = SgdParams {
                    cost: COSTS[ni],
                    eta: 0.5,
                    lambda: 2.0,
                    train_size: 64,
                };
                for s in 0..6 {
                    let idx: Vec<usize> = (0..batch).map(|i| (s * 11 + i * 7) % 64).collect();
                    let labels: Vec<u8> = idx.iter().map(|&i| data.labels[i]).collect();
                    let mu = [0.5, 0.75, 0.9][s % 3];
                    let m = e.gather_pixels(&mut ws, &data.pixels, sizes[0], idx.iter().copied());
                    e.sgd_step(&mut plain, &mut ws, m, &labels, &p);
                    e.sgd_step_momentum(&mut general, &mut ws, &mut vel, m, &labels, &p, mu);
                    small.gather_pixels(&data.pixels, idx.iter().copied());
                    small.step_momentum(m, &labels, &p, mu);
                }
                let mut out = start.clone();
                small.store(&mut out);
                let what = format!("{isa:?} {sizes:?} batch {batch}");
                assert_eq!(
                    param_bits(&out),
                    param_bits(&general),
                    "{what}: small-batch momentum differs"
                );
                assert_ne!(
                    param_bits(&general),
                    param_bits(&plain),
                    "{what}: momentum changed nothing"
                );
            }
        }
    }
    // Threads: batch 500 splits the layer-1 GEMMs between threads.
    let sizes = [784, 30, 10];
    let (x, y) = batch(9, 1500, 784, 10);
    let run = |threads: usize| {
        common::with_threads(threads, || {
            let e = Engine::new();
            let mut net = Network::new(&sizes, Activation::Sigmoid, Init::Default, 5).unwrap();
            let mut ws = Workspace::new(&net, 500);
            let mut vel = Velocity::zeros(&net);
            let p = SgdParams {
                cost: Cost::CrossEntropy,
                eta: 0.1,
                lambda: 5.0,
                train_size: 50_000,
            };
            for (xb, yb) in x.chunks(500 * 784).zip(y.chunks(500)) {
                ws.x.copy_from_slice(xb);
                e.sgd_step_momentum(&mut net, &mut ws, &mut vel, 500, yb, &p, 0.9);
            }
            param_bits(&net)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2), "2 threads differ from 1 with momentum");
    assert_eq!(one, run(3), "3 threads differ from 1 with momentum");
}

/// Sutskever et al.'s schedule: 0.5 for the first 250 updates, 0.75 for the next 250, then
/// 1 - 1/(2k), held at the ceiling; the constant schedule is its coefficient.
#[test]
fn momentum_schedules() {
    use vanishing::nn::train::{Momentum, MomentumSchedule};
    let s = Momentum {
        mu: 0.95,
        schedule: MomentumSchedule::Sutskever,
    };
    for (t, want) in [
        (0u64, 0.5f32),
        (249, 0.5),
        (250, 0.75),
        (499, 0.75),
        (500, (1.0 - 0.5 / 3.0f64) as f32),
        (1000, 0.9),
        (1249, 0.9),
        (2249, (1.0 - 0.5 / 9.0f64) as f32),
        (2250, 0.95),
        (1_000_000, 0.95),
    ] {
        assert_eq!(s.mu_at(t), want, "t = {t}");
    }
    let c = Momentum {
        mu: 0.9,
        schedule: MomentumSchedule::Constant,
    };
    assert_eq!(c.mu_at(0), 0.9);
    assert_eq!(c.mu_at(123_456), 0.9);
    assert!(Momentum::OFF.is_off() && !c.is_off());
}

/// Bytes like MNIST's: a border of positions zero in every image, and inside it most pixels
/// zero, so a batch leaves runs of positions zero in all its images (rows of the first layer's
/// update that the small-batch step skips).
fn sparse_byte_dataset(
    seed: u64,
    m: usize,
    side: usize,
    classes: usize,
) -> vanishing::data::Dataset {
    let mut r = common::rng(seed);
    let mut pixels = vec![0u8; m * side * side];
    for img in pixels.chunks_exact_mut(side * side) {
        for (p, v) in img.iter_mut().enumerate() {
            let (row, col) = (p / side, p % side);
            let inside = (3..side - 3).contains(&row) && (5..side - 5).contains(&col);
            if inside && r.random_bool(0.35) {
                *v = r.random_range(1..=255u8);
            }
        }
    }
    let labels = (0..m).map(|_| r.random_range(0..classes) as u8).collect();
    vanishing::data::Dataset::from_bytes(&pixels, labels, side * side, classes)
}

/// On sparse images (zero pixel positions across whole batches), the small-batch step, whose
/// first-layer update skips those positions' sums, gives the general step's bits, plain and
/// with momentum, on every family, and so does the same step with skipping turned off.
#[test]
fn small_batch_step_skipping_zero_pixels_equals_the_general_step() {
    use vanishing::nn::batched::Velocity;
    use vanishing::nn::small_batch::SmallBatchStep;
    let mut cases = 0;
    for isa in common::families() {
        let e = engine(isa);
        for (si, side) in [12usize, 28].into_iter().enumerate() {
            let sizes = [side * side, 30, 10];
            let data = sparse_byte_dataset(si as u64, 64, side, 10);
            for batch in [1usize, 10, 16] {
                for momentum in [false, true] {
                    let start = Network::new(&sizes, ACTS[si], Init::Default, 3).unwrap();
                    let mut general = start.clone();
                    let mut skipping = SmallBatchStep::new(&start, &e, batch);
                    let e_off = Engine {
                        gemm: e.gemm.skip_zero_rows(false),
                        act: e.act,
                    };
                    let mut dense = SmallBatchStep::new(&start, &e_off, batch);
                    let mut ws = Workspace::new(&start, batch);
                    let mut vel = Velocity::zeros(&start);
                    let p = SgdParams {
                        cost: COSTS[si],
                        eta: 0.5,
                        lambda: 2.0,
                        train_size: 64,
                    };
                    for s in 0..6 {
                        let rows = if s == 5 { batch.div_ceil(2) } else { batch };
                        let idx: Vec<usize> = (0..rows).map(|i| (s * 11 + i * 7) % 64).collect();
                        let labels: Vec<u8> = idx.iter().map(|&i| data.labels[i]).collect();
                        let m =
                            e.gather_pixels(&mut ws, &data.pixels, sizes[0], idx.iter().copied());
                        for step in [&mut skipping, &mut dense] {
                            assert_eq!(step.gather_pixels(&data.pixels, idx.iter().copied()), m);
                            if momentum {
                                step.step_momentum(m, &labels, &p, 0.9);
                            } else {
                                step.step(m, &labels, &p);
                            }
                        }
                        if momentum {
                            e.sgd_step_momentum(
                                &mut general,
                                &mut ws,
                                &mut vel,
                                m,
                                &labels,
                                &p,
                                0.9,
                            );
                        } else {
                            e.sgd_step(&mut general, &mut ws, m, &labels, &p);
                        }
                    }
                    let what = format!("{isa:?} {sizes:?} batch {batch} momentum {momentum}");
                    for (name, step) in [("skipping", &skipping), ("dense", &dense)] {
                        let mut out = start.clone();
                        step.store(&mut out);
                        assert_eq!(
                            param_bits(&out),
                            param_bits(&general),
                            "{what}: the {name} step differs"
                        );
                    }
                    assert_ne!(
                        param_bits(&general),
                        param_bits(&start),
                        "{what}: the steps changed nothing"
                    );
                    cases += 1;
                }
            }
        }
    }
    println!("{cases} sparse small-batch cases");
}
