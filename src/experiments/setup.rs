//! What several parts set up the same way: a one-thread engine, a fresh network with the
//! chapter's fixed batch loaded, and a training run reduced to its accuracies.

use super::speed::gradient_buffers;
use crate::activation::ActivationKernels;
use crate::data::Splits;
use crate::error::Result;
use crate::gemm::Gemm;
use crate::nn::batched::{Engine, Workspace};
use crate::nn::train::{self, TrainConfig};
use crate::nn::{Activation, Init, Network};

/// The engine an item runs on: one thread (items run in parallel with each other instead,
/// so results do not depend on the thread count).
pub fn engine() -> Engine {
    Engine {
        gemm: Gemm::new().threads(1),
        act: ActivationKernels::new(),
    }
}

/// A network as the chapter's measurements use it.
#[derive(Clone, Copy, Debug)]
pub struct FreshNet {
    /// Hidden layers of [`crate::book::HIDDEN_WIDTH`] neurons.
    pub hidden: usize,
    pub act: Activation,
    pub init: Init,
    pub seed: u64,
}

impl FreshNet {
    /// The book's sigmoid network with its default initialisation.
    pub fn book(hidden: usize, seed: u64) -> FreshNet {
        FreshNet {
            hidden,
            act: Activation::Sigmoid,
            init: Init::Default,
            seed,
        }
    }

    /// The network, a workspace with the first `images` training images loaded (the
    /// chapter's fixed batch), and buffers for its bias gradients.
    pub fn build(
        &self,
        data: &Splits,
        images: usize,
    ) -> Result<(Network, Workspace, Vec<Vec<f32>>)> {
        let net = Network::new(
            &crate::book::mnist_layers(self.hidden, crate::book::HIDDEN_WIDTH),
            self.act,
            self.init,
            self.seed,
        )?;
        let mut ws = Workspace::new(&net, images);
        data.train.images_into(0..images, &mut ws.x);
        let grads = gradient_buffers(&net);
        Ok((net, ws, grads))
    }
}

/// Trains with `cfg` and returns the per-epoch validation accuracies and the training seconds.
pub fn train_run(cfg: &TrainConfig, data: &Splits, e: &Engine) -> Result<(Vec<f64>, f64)> {
    let (_, records) = train::train(cfg, data, e, || {}, |_| {})?;
    Ok((
        records.iter().map(|r| r.validation_accuracy).collect(),
        records.iter().map(|r| r.train_seconds).sum(),
    ))
}
