//! Data sets. Only MNIST for now.

pub mod mnist;
