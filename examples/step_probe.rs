use vanishing::nn::batched::{Engine, Workspace};
use vanishing::nn::*;
fn main() {
    let data = vanishing::data::mnist::load(&vanishing::data::mnist::resolve_dir(None)).unwrap();
    let mut net = Network::new(&[784, 30, 10], Activation::Sigmoid, Init::Default, 1).unwrap();
    let e = Engine::new().gemm.threads(1);
    let engine = Engine {
        gemm: e,
        act: vanishing::activation::ActivationKernels::new(),
    };
    let mut ws = Workspace::new(&net, 10);
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let t = std::time::Instant::now();
    for s in 0..steps {
        let i0 = (s * 10) % 50000;
        let m = engine.gather(&mut ws, &data.train.images, 784, i0..i0 + 10);
        engine.sgd_step(
            &mut net,
            &mut ws,
            m,
            &data.train.labels[i0..i0 + 10],
            Cost::CrossEntropy,
            0.1,
            5.0,
            50000,
        );
    }
    println!(
        "{:.2} us/step",
        t.elapsed().as_secs_f64() / steps as f64 * 1e6
    );
}
