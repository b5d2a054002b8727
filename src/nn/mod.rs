//! The book's `network2` MLP: model, initialisation, costs, a batched f32 trainer on our kernels,
//! and a plain per-example f64 implementation kept as the test oracle.
//!
//! Layout: layer `l` (0-based, `l < layers()`) maps `sizes[l]` inputs to `sizes[l+1]` outputs. Its
//! weights are stored transposed, `Wt[l]` = W^T, row-major `sizes[l] x sizes[l+1]`, so that the
//! forward product `A (batch x in) * Wt (in x out)` reads B with unit column stride (no packing
//! at batch 10) and the weight update `Wt <- beta*Wt + alpha * A^T * Delta` is one GEMM.

pub mod batched;
pub mod init;
pub mod reference;
pub mod rng;
pub mod small_batch;
pub mod train;

use crate::error::{Error, Result};
pub use crate::kernels::math::Activation;
pub use init::{Init, WeightDist};

/// Cost function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Cost {
    /// `-sum(y ln a + (1-y) ln(1-a))`; output error `a - y` (no sigma' factor).
    CrossEntropy,
    /// `0.5 * ||a - y||^2`; output error `(a - y) * sigma'(z)`.
    Quadratic,
}

impl Cost {
    /// Lowercase name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Cost::CrossEntropy => "cross-entropy",
            Cost::Quadratic => "quadratic",
        }
    }
}

/// A fully connected network: sigmoid output layer, `hidden` activation elsewhere.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Network {
    /// Layer widths, input first.
    pub sizes: Vec<usize>,
    /// Activation of the hidden layers (the output layer is always sigmoid, as in the book).
    pub hidden: Activation,
    /// Per layer, W^T as row-major `sizes[l] x sizes[l+1]`.
    pub weights_t: Vec<Vec<f32>>,
    /// Per layer, `sizes[l+1]` biases.
    pub biases: Vec<Vec<f32>>,
}

impl Network {
    /// A freshly initialised network. The generator draws, layer by layer, the biases and then
    /// the weights in the book's `W[out][in]` order.
    pub fn new(sizes: &[usize], hidden: Activation, init: Init, seed: u64) -> Result<Network> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(Error::Invalid {
                what: "layers",
                problem: format!("need at least two layers, all non-empty; got {sizes:?}"),
            });
        }
        let mut rng = rng::Normal::new(seed);
        let mut weights_t = Vec::new();
        let mut biases = Vec::new();
        for w in sizes.windows(2) {
            let (fan_in, fan_out) = (w[0], w[1]);
            let (wdist, bstd) = init.dists(fan_in, fan_out);
            biases.push((0..fan_out).map(|_| bstd * rng.sample()).collect());
            let mut wt = vec![0.0f32; fan_in * fan_out];
            for o in 0..fan_out {
                for i in 0..fan_in {
                    wt[i * fan_out + o] = match wdist {
                        WeightDist::Normal { std } => std * rng.sample(),
                        WeightDist::Uniform { limit } => limit * rng.uniform_sym(),
                    };
                }
            }
            weights_t.push(wt);
        }
        Ok(Network {
            sizes: sizes.to_vec(),
            hidden,
            weights_t,
            biases,
        })
    }

    /// Number of weight layers.
    pub fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Activation of layer `l`.
    pub fn activation(&self, l: usize) -> Activation {
        if l + 1 == self.layers() {
            Activation::Sigmoid
        } else {
            self.hidden
        }
    }

    /// Weight from input `i` to output `o` of layer `l` (the book's `W[l][o][i]`).
    pub fn weight(&self, l: usize, o: usize, i: usize) -> f32 {
        self.weights_t[l][i * self.sizes[l + 1] + o]
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }

    /// Number of outputs (classes).
    pub fn outputs(&self) -> usize {
        *self.sizes.last().unwrap_or(&0)
    }
}
