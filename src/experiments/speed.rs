//! "Speed of learning": the norm of each hidden layer's averaged bias gradient.

use crate::nn::batched::{Engine, Workspace};
use crate::nn::{Cost, Network};

/// Euclidean norm of each hidden layer's bias gradient, averaged over the batch in `ws.x`
/// (`m` rows, labels `labels`), unregularised cross-entropy cost: the book's measure.
pub fn hidden_layer_speeds(
    engine: &Engine,
    net: &Network,
    ws: &mut Workspace,
    m: usize,
    labels: &[u8],
    grads: &mut [Vec<f32>],
) -> Vec<f64> {
    engine.mean_bias_gradients(net, ws, m, labels, Cost::CrossEntropy, grads);
    grads[..net.layers() - 1]
        .iter()
        .map(|g| {
            g.iter()
                .map(|&v| (v as f64) * (v as f64))
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// Buffers for the per-layer bias gradients of `net`.
pub fn gradient_buffers(net: &Network) -> Vec<Vec<f32>> {
    net.sizes[1..].iter().map(|&n| vec![0.0; n]).collect()
}
