//! Work items: what `reproduce` computes, one independent, deterministic unit at a time.

use super::arithmetic::{self, Arithmetic};
use super::speed::{gradient_buffers, hidden_layer_speeds};
use crate::activation::ActivationKernels;
use crate::data::mnist::Mnist;
use crate::error::{Error, Result};
use crate::gemm::Gemm;
use crate::nn::batched::{Engine, SgdParams, Workspace};
use crate::nn::train::{self, TrainConfig};
use crate::nn::{Activation, Cost, Init, Network};

/// The parts of the reproduction, selectable with `--only`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Part {
    /// 1. Accuracy versus depth.
    Accuracy,
    /// 2. Initial speed of learning per hidden layer (and the book's bar chart).
    InitialSpeeds,
    /// 3. Speed of learning during full-batch training.
    Curves,
    /// 4. The arithmetic of unstable gradients.
    Arithmetic,
    /// 5. Chapter 3's "better than 98 %".
    Better98,
    /// 6. Beyond the book: gradient norms versus depth for activations and initialisations.
    Beyond,
}

impl Part {
    pub const ALL: [Part; 6] = [
        Part::Accuracy,
        Part::InitialSpeeds,
        Part::Curves,
        Part::Arithmetic,
        Part::Better98,
        Part::Beyond,
    ];

    /// Name used by `--only` and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Part::Accuracy => "accuracy",
            Part::InitialSpeeds => "initial-speeds",
            Part::Curves => "curves",
            Part::Arithmetic => "arithmetic",
            Part::Better98 => "better98",
            Part::Beyond => "beyond",
        }
    }

    /// Parses a `--only` name.
    pub fn from_name(s: &str) -> Result<Part> {
        Part::ALL
            .into_iter()
            .find(|p| p.name() == s.trim())
            .ok_or_else(|| Error::Invalid {
                what: "part",
                problem: format!(
                    "'{s}' is not one of {}",
                    Part::ALL.map(|p| p.name()).join(", ")
                ),
            })
    }
}

/// How much work each part does.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub base_seed: u64,
    /// Seeds per network for accuracy versus depth.
    pub accuracy_seeds: usize,
    pub accuracy_epochs: usize,
    /// Seeds per depth for the initial speeds.
    pub speed_seeds: usize,
    /// Full-batch iterations of the learning-speed curves.
    pub curve_iterations: usize,
    pub better98_epochs: usize,
    /// Seeds per configuration of the beyond-the-book sweep, and its deepest net.
    pub sweep_seeds: usize,
    pub sweep_max_depth: usize,
    /// Images in the chapter's fixed batch.
    pub batch_images: usize,
}

impl Settings {
    /// The full reproduction.
    pub fn full(base_seed: u64) -> Settings {
        Settings {
            base_seed,
            accuracy_seeds: 10,
            accuracy_epochs: crate::book::ACCURACY_EPOCHS,
            speed_seeds: 50,
            curve_iterations: crate::book::CURVE_ITERATIONS,
            better98_epochs: crate::book::BETTER_98_EPOCHS,
            sweep_seeds: 10,
            sweep_max_depth: 10,
            batch_images: crate::book::BATCH_IMAGES,
        }
    }

    /// `--quick`: the same code paths on less work (for CI).
    pub fn quick(base_seed: u64) -> Settings {
        Settings {
            base_seed,
            accuracy_seeds: 2,
            accuracy_epochs: 2,
            speed_seeds: 10,
            curve_iterations: 40,
            better98_epochs: 2,
            sweep_seeds: 3,
            sweep_max_depth: 6,
            batch_images: crate::book::BATCH_IMAGES,
        }
    }
}

/// The activations and initialisations of the beyond-the-book sweep.
pub const SWEEP_ACTS: [Activation; 3] = [Activation::Sigmoid, Activation::Tanh, Activation::Relu];
pub const SWEEP_INITS: [Init; 4] = [Init::Large, Init::Default, Init::Glorot, Init::He];

/// One unit of work.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Item {
    Accuracy {
        hidden: usize,
        seed: u64,
    },
    InitialSpeed {
        hidden: usize,
        seed: u64,
    },
    Bars {
        seed: u64,
    },
    Curve {
        hidden: usize,
        seed: u64,
    },
    Arithmetic {
        seed: u64,
    },
    Better98 {
        seed: u64,
    },
    Sweep {
        act: Activation,
        init: Init,
        depth: usize,
        seed: u64,
    },
}

/// What an item produced.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ItemResult {
    Accuracy {
        hidden: usize,
        seed: u64,
        validation: Vec<f64>,
        train_seconds: f64,
    },
    InitialSpeed {
        hidden: usize,
        seed: u64,
        speeds: Vec<f64>,
    },
    Bars {
        seed: u64,
        layer1: Vec<f64>,
        layer2: Vec<f64>,
    },
    Curve {
        hidden: usize,
        seed: u64,
        speeds: Vec<Vec<f64>>,
    },
    Arithmetic(Arithmetic),
    Better98 {
        seed: u64,
        validation: Vec<f64>,
        train_seconds: f64,
    },
    Sweep {
        act: Activation,
        init: Init,
        depth: usize,
        seed: u64,
        speeds: Vec<f64>,
    },
}

impl Item {
    /// The part this item belongs to.
    pub fn part(&self) -> Part {
        match self {
            Item::Accuracy { .. } => Part::Accuracy,
            Item::InitialSpeed { .. } | Item::Bars { .. } => Part::InitialSpeeds,
            Item::Curve { .. } => Part::Curves,
            Item::Arithmetic { .. } => Part::Arithmetic,
            Item::Better98 { .. } => Part::Better98,
            Item::Sweep { .. } => Part::Beyond,
        }
    }

    /// A rough cost, to start the longest items first.
    fn cost(&self, s: &Settings) -> f64 {
        match self {
            Item::Accuracy { hidden, .. } => (s.accuracy_epochs * (10 + hidden)) as f64,
            Item::Better98 { .. } => (s.better98_epochs * 30) as f64,
            Item::Curve { .. } => s.curve_iterations as f64 * 0.3,
            _ => 0.1,
        }
    }
}

/// The work of one run: the selected parts' items in a fixed order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub settings: Settings,
    pub parts: Vec<Part>,
}

impl Plan {
    /// Every item, in a fixed order (shards slice this order).
    pub fn items(&self) -> Vec<Item> {
        let s = &self.settings;
        let seeds = |n: usize| (0..n as u64).map(move |i| s.base_seed + i);
        let mut v = Vec::new();
        for &part in &self.parts {
            match part {
                Part::Accuracy => {
                    for hidden in 1..=4 {
                        v.extend(
                            seeds(s.accuracy_seeds).map(|seed| Item::Accuracy { hidden, seed }),
                        );
                    }
                }
                Part::InitialSpeeds => {
                    for hidden in 2..=4 {
                        v.extend(
                            seeds(s.speed_seeds).map(|seed| Item::InitialSpeed { hidden, seed }),
                        );
                    }
                    v.push(Item::Bars { seed: s.base_seed });
                }
                Part::Curves => v.extend((2..=4).map(|hidden| Item::Curve {
                    hidden,
                    seed: s.base_seed,
                })),
                Part::Arithmetic => v.push(Item::Arithmetic { seed: s.base_seed }),
                Part::Better98 => v.push(Item::Better98 { seed: s.base_seed }),
                Part::Beyond => {
                    for act in SWEEP_ACTS {
                        for init in SWEEP_INITS {
                            for depth in 1..=s.sweep_max_depth {
                                v.extend(seeds(s.sweep_seeds).map(|seed| Item::Sweep {
                                    act,
                                    init,
                                    depth,
                                    seed,
                                }));
                            }
                        }
                    }
                }
            }
        }
        v
    }

    /// Runs items in parallel (each on one thread, so results do not depend on the thread
    /// count) and returns their results, with the seconds each took, in the items' order.
    /// `done` is called per finished item.
    pub fn run(
        &self,
        items: &[Item],
        data: &Mnist,
        done: &(dyn Fn(&Item) + Sync),
    ) -> Result<Vec<(ItemResult, f64)>> {
        use rayon::prelude::*;
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&a, &b| {
            items[b]
                .cost(&self.settings)
                .total_cmp(&items[a].cost(&self.settings))
        });
        let results: Vec<(usize, Result<ItemResult>, f64)> = order
            .par_iter()
            .with_max_len(1)
            .map(|&i| {
                let t = std::time::Instant::now();
                let r = run_item(&items[i], &self.settings, data);
                done(&items[i]);
                (i, r, t.elapsed().as_secs_f64())
            })
            .collect();
        let mut slots: Vec<Option<(ItemResult, f64)>> = vec![None; items.len()];
        for (i, r, secs) in results {
            slots[i] = Some((r?, secs));
        }
        Ok(slots
            .into_iter()
            .map(|r| r.expect("every item ran"))
            .collect())
    }
}

fn engine() -> Engine {
    Engine {
        gemm: Gemm::new().threads(1),
        act: ActivationKernels::new(),
    }
}

/// A fresh sigmoid-output network of `hidden` layers of 30 with the chapter's fixed batch (the
/// first `images` training images) loaded, and buffers for its bias gradients.
fn fresh(
    data: &Mnist,
    images: usize,
    hidden: usize,
    act: Activation,
    init: Init,
    seed: u64,
) -> Result<(Network, Workspace, Vec<Vec<f32>>)> {
    let net = Network::new(
        &crate::book::mnist_layers(hidden, crate::book::HIDDEN_WIDTH),
        act,
        init,
        seed,
    )?;
    let mut ws = Workspace::new(&net, images);
    data.train.images_into(0..images, &mut ws.x);
    let grads = gradient_buffers(&net);
    Ok((net, ws, grads))
}

/// Trains with `cfg` and returns the per-epoch validation accuracies and the training seconds.
fn train_run(cfg: &TrainConfig, data: &Mnist, e: &Engine) -> Result<(Vec<f64>, f64)> {
    let (_, records) = train::train(cfg, data, e, || {}, |_| {})?;
    Ok((
        records.iter().map(|r| r.validation_accuracy).collect(),
        records.iter().map(|r| r.train_seconds).sum(),
    ))
}

/// Computes one item.
pub fn run_item(item: &Item, s: &Settings, data: &Mnist) -> Result<ItemResult> {
    let e = engine();
    let m = s.batch_images;
    let labels = &data.train.labels[..m];
    Ok(match *item {
        Item::Accuracy { hidden, seed } => {
            let mut cfg = TrainConfig::book(&crate::book::mnist_layers(
                hidden,
                crate::book::HIDDEN_WIDTH,
            ));
            cfg.epochs = s.accuracy_epochs;
            cfg.seed = seed;
            let (validation, train_seconds) = train_run(&cfg, data, &e)?;
            ItemResult::Accuracy {
                hidden,
                seed,
                validation,
                train_seconds,
            }
        }
        Item::InitialSpeed { hidden, seed } => {
            let (net, mut ws, mut g) =
                fresh(data, m, hidden, Activation::Sigmoid, Init::Default, seed)?;
            let speeds = hidden_layer_speeds(&e, &net, &mut ws, m, labels, &mut g);
            ItemResult::InitialSpeed {
                hidden,
                seed,
                speeds,
            }
        }
        Item::Bars { seed } => {
            let (net, mut ws, mut g) = fresh(data, m, 2, Activation::Sigmoid, Init::Default, seed)?;
            e.mean_bias_gradients(&net, &mut ws, m, labels, Cost::CrossEntropy, &mut g);
            let first_six = |v: &[f32]| v[..6].iter().map(|&x| x as f64).collect();
            ItemResult::Bars {
                seed,
                layer1: first_six(&g[0]),
                layer2: first_six(&g[1]),
            }
        }
        Item::Curve { hidden, seed } => {
            let (mut net, mut ws, mut g) =
                fresh(data, m, hidden, Activation::Sigmoid, Init::Default, seed)?;
            let mut speeds = Vec::with_capacity(s.curve_iterations);
            for _ in 0..s.curve_iterations {
                speeds.push(hidden_layer_speeds(&e, &net, &mut ws, m, labels, &mut g));
                e.sgd_step(
                    &mut net,
                    &mut ws,
                    m,
                    labels,
                    &SgdParams {
                        cost: Cost::CrossEntropy,
                        eta: crate::book::ETA,
                        lambda: crate::book::LAMBDA,
                        train_size: m,
                    },
                );
            }
            ItemResult::Curve {
                hidden,
                seed,
                speeds,
            }
        }
        Item::Arithmetic { seed } => ItemResult::Arithmetic(arithmetic::compute(seed, 100_000)),
        Item::Better98 { seed } => {
            let mut cfg = TrainConfig::book(&[784, 100, 10]);
            cfg.init = Init::Large;
            cfg.epochs = s.better98_epochs;
            cfg.seed = seed;
            let (validation, train_seconds) = train_run(&cfg, data, &e)?;
            ItemResult::Better98 {
                seed,
                validation,
                train_seconds,
            }
        }
        Item::Sweep {
            act,
            init,
            depth,
            seed,
        } => {
            let (net, mut ws, mut g) = fresh(data, m, depth, act, init, seed)?;
            let speeds = hidden_layer_speeds(&e, &net, &mut ws, m, labels, &mut g);
            ItemResult::Sweep {
                act,
                init,
                depth,
                seed,
                speeds,
            }
        }
    })
}
