//! # vanishing
//!
//! A SIMD-optimised CPU benchmark suite around chapter 5 of Michael Nielsen's *Neural Networks
//! and Deep Learning* ("Why are deep neural networks hard to train?").
//!
//! Architecture (dependencies point one way: kernels <- gemm, activation <- nn <- experiments
//! <- report; `main.rs` is a thin CLI over all of it):
//! - [`error`]: the one error type.
//! - [`cpu`]: CPU name, cache sizes, logical CPU count, the measured FMA peak.
//! - [`isa`]: kernel-family selection, once per process, with the `VANISHING_ISA` override.
//! - [`kernels`]: the only code using `core::arch` or raw-pointer reads: one file per ISA
//!   (`scalar.rs` always built, `avx2.rs`, `avx512.rs`, `avx512_gemm.rs`), the portable packing
//!   routines and the activation constants.
//! - [`gemm`]: the blocked SGEMM driver (packing, loop nest, threading) and its safe API.
//! - [`activation`]: sigmoid/tanh/ReLU and derivatives, the fused bias + activation pass.
//! - [`data`]: MNIST loading and validation, the book's split and scaling.
//! - [`nn`]: the book's network2: model, init, costs, the batched trainer, the f64 oracle.
//! - [`experiments`]: chapter 5's measurements as deterministic work items, shards.
//! - [`report`]: aggregation, JSON, SVG plots and the Markdown report.
//! - [`perf`]: the CI performance gate (interleaved ratios, callgrind instruction counts).
//! - [`tune`]: `vanishing tune`, timing GEMM kernels and blockings into a saved profile
//!   (`gemm::profile`).
//! - [`meta`]: machine and build metadata recorded with every result.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod activation;
pub mod cpu;
pub mod data;
pub mod error;
pub mod experiments;
pub mod gemm;
pub mod isa;
pub mod kernels;
pub mod meta;
pub mod nn;
pub mod perf;
pub mod report;
pub mod tune;

pub use error::{Error, Result};
