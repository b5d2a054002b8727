//! # vanishing
//!
//! A SIMD-optimised CPU benchmark suite around chapter 5 of Michael Nielsen's *Neural Networks
//! and Deep Learning* ("Why are deep neural networks hard to train?").
//!
//! Architecture (dependencies point one way: kernels <- gemm, activation <- nn <- experiments
//! <- report <- pipeline; `main.rs` is a thin CLI over all of it):
//! - [`error`]: the one error type. [`fsutil`]: atomic file writes. [`stats`]: quantiles.
//! - [`book`]: the chapter's settings and the book's numbers, read by code and prose alike.
//! - [`cpu`]: CPU name, cache sizes, logical CPU count, the measured FMA peak.
//! - [`isa`]: kernel-family selection, once per process, with the `VANISHING_ISA` override.
//! - [`kernels`]: the only code using `core::arch` or raw-pointer reads: one file per ISA
//!   (`scalar.rs` always built, `avx2.rs` + `avx2_gemm.rs`, `avx512.rs` + `avx512_gemm.rs`,
//!   `neon.rs` + `neon_gemm.rs`), the GEMM microkernel and the activation kernels written once
//!   (`microkernel.rs`, `elementwise.rs`), the portable packing routines and the activation
//!   constants.
//! - [`gemm`]: the blocked SGEMM driver (packing, loop nest, threading) and its safe API.
//! - [`activation`]: sigmoid/tanh/ReLU and derivatives, the fused bias + activation pass.
//! - [`data`]: a labelled dataset of byte features (all the trainer reads) and the MNIST-format
//!   IDX loader (MNIST, Fashion-MNIST), the book's split and scaling.
//! - [`nn`]: the book's network2: model, init, costs, the batched trainer, the f64 oracle.
//! - [`experiments`]: chapter 5's measurements, one module per part implementing
//!   [`experiments::Experiment`] (work items, computing one, the part's summary statistics),
//!   listed in [`experiments::PARTS`]; plans, shards and merging.
//! - [`report`]: each part's section (JSON, SVG figures, Markdown) implementing
//!   [`report::Section`], listed in [`report::SECTIONS`]; `report::svg` draws the figures.
//! - [`pipeline`]: publish a run (the one module that sees both sides).
//! - [`perf`]: the CI performance gate (paired A/B against a base revision, cache-simulated
//!   counts, the committed-baseline floor).
//! - [`tune`]: `vanishing tune`, timing GEMM kernels and blockings into a saved profile
//!   (`gemm::profile`).
//! - [`meta`]: machine and build metadata recorded with every result.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod activation;
pub mod bench;
pub mod book;
pub mod cpu;
pub mod data;
pub mod error;
pub mod experiments;
pub mod fsutil;
pub mod fuzzing;
pub mod gemm;
pub mod isa;
pub mod kernels;
pub mod meta;
pub mod nn;
pub mod perf;
pub mod pipeline;
pub mod records;
pub mod report;
pub mod stats;
pub mod tune;

pub use error::{Error, Result};
