#!/usr/bin/env bash
# candlelight and llama.cpp on the two shipped GGUFs, quiet and with one busy
# process competing for the cores; adds the table to BENCHMARKS.md.
#
# usage: scripts/bench-busy-core.sh [ROUNDS]        (default 3)
#
# Builds both programs as scripts/bench-vs-llamacpp.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
LLAMA_BENCH=.tools/llama.cpp-build/bin/llama-bench
scripts/llamacpp-build.sh llama-bench
scripts/fetch-models.sh smollm2 >&2
scripts/fetch-models.sh qwen >&2
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=native" \
    cargo build --release -p server --bin candlelight >&2

python3 scripts/bench_busy_core.py --rounds "$ROUNDS" --llama-bench "$LLAMA_BENCH" \
    --candlelight target/release/candlelight \
    models/SmolLM2-135M-Instruct.Q4_1.gguf models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
