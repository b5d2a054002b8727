#!/usr/bin/env bash
# Regenerates every file under results/ on this machine (about 10 minutes on 2 cores); the
# benchmark summaries go to results/machines/<cpu>/.
# Each file also names the machine it ran on. Run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
target/release/vanishing info --save results/machines
if ldconfig -p 2>/dev/null | grep 'libopenblas\.so' >/dev/null; then
  cargo bench --features openblas --bench gemm
else
  cargo bench --bench gemm
fi
cargo bench --bench sigmoid
cargo bench --bench train
cargo bench --bench depth
target/release/vanishing train --layers 784,30,10 --epochs 30 --threads 1 --json results/train-784-30-10.json
target/release/vanishing train --layers 784,100,10 --init large --epochs 60 --threads 1 --json results/train-784-100-10-large.json
target/release/vanishing reproduce --out results
target/release/vanishing perf-gate --update
