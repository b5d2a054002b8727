//! The book's settings and numbers, in one place: the trainer's defaults, the experiments and
//! the report's prose all read them from here, so the prose cannot drift from the code.
//! Source: *Neural Networks and Deep Learning*, chapter 5 (and chapter 3 for the trainer and
//! "better than 98 %"); see `shared/reference/chapter5.md`.

/// Learning rate of every SGD run in the chapter.
pub const ETA: f32 = 0.1;
/// L2 regularisation parameter of every SGD run in the chapter.
pub const LAMBDA: f32 = 5.0;
/// Mini-batch size.
pub const MINI_BATCH: usize = 10;
/// Epochs of the accuracy-versus-depth runs.
pub const ACCURACY_EPOCHS: usize = 30;
/// Epochs of chapter 3's `[784,100,10]` run.
pub const BETTER_98_EPOCHS: usize = 60;
/// The fixed batch of the speed measurements: the first this many training images.
pub const BATCH_IMAGES: usize = 1000;
/// Full-batch iterations of the learning-speed curves.
pub const CURVE_ITERATIONS: usize = 500;
/// Width of every hidden layer in the chapter's networks.
pub const HIDDEN_WIDTH: usize = 30;

/// Measurement 1: validation accuracy (%) of `[784,30,10]` .. `[784,30,30,30,30,10]`.
pub const ACCURACY: [f64; 4] = [96.48, 96.90, 96.57, 96.53];
/// Measurement 2: initial speed of each hidden layer, for 2, 3 and 4 hidden layers.
pub const INITIAL_SPEEDS: [&[f64]; 3] = [
    &[0.0657, 0.3092],
    &[0.01184, 0.05997, 0.2831],
    &[0.002975, 0.01708, 0.06954, 0.2851],
];
/// Measurement 2: "each step towards the input divides the norm by roughly 4-6".
pub const STEP_DIVISOR: (f64, f64) = (4.0, 6.0);
/// Measurement 3: in the 4-hidden net the last hidden layer stays about 100x faster than the
/// first, the ratio running between about 50 and 140 over the 500 epochs.
pub const CURVE_RATIO_4: (f64, f64, f64) = (100.0, 50.0, 140.0);
/// Measurement 4: the exploding example's weight (every z = 0).
pub const EXPLODING_W: f64 = 100.0;
/// Chapter 3: `[784,100,10]`, large init, 60 epochs, eta 0.1: validation accuracy (%).
pub const BETTER_98: f64 = 98.04;
/// The exercise: the width is largest at |w| ~ 6.894, where it is ~ 0.4477.
pub const EXERCISE_W: f64 = 6.894;
pub const EXERCISE_WIDTH: f64 = 0.4477;

/// Our bar for "matches the book" on accuracy: a median within this many points.
pub const ACCURACY_MATCH_POINTS: f64 = 0.4;

/// Layer sizes [784, width x hidden, 10] of the chapter's MNIST networks.
pub fn mnist_layers(hidden: usize, width: usize) -> Vec<usize> {
    let mut v = vec![784];
    v.extend(std::iter::repeat_n(width, hidden));
    v.push(10);
    v
}

/// The book's spelling of a layer list: `[784,30,30,10]`.
pub fn layers_name(sizes: &[usize]) -> String {
    let v: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
    format!("[{}]", v.join(","))
}

/// Span (max - min) of the book's four accuracies, in points.
pub fn accuracy_span() -> f64 {
    let (lo, hi) = ACCURACY
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    hi - lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_numbers() {
        assert_eq!(mnist_layers(2, 30), vec![784, 30, 30, 10]);
        assert_eq!(layers_name(&mnist_layers(1, 30)), "[784,30,10]");
        assert!((accuracy_span() - 0.42).abs() < 1e-9);
        // The exploding example: 25 per factor, 25^3 over three factors.
        let factor = EXPLODING_W * 0.25;
        assert_eq!(factor, 25.0);
        assert_eq!(factor.powi(3), 15_625.0);
    }
}
