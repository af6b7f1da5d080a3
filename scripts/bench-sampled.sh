#!/usr/bin/env bash
# Decode with the samplers users run (temperature 0.8/top_p 0.95, TGW's
# default preset, the Chat tab's default) beside greedy, candlelight and
# llama-server on the same GGUF, at 1 and 4 streams; adds the table to
# BENCHMARKS.md.
#
# usage: scripts/bench-sampled.sh [MODEL] [STREAMS]
#        (default: the Qwen file, streams 1,4)
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${1:-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}
STREAMS=${2:-1,4}

scripts/fetch-models.sh qwen >&2
scripts/llamacpp-build.sh llama-server
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=native" \
    cargo build --release -p server --bin candlelight >&2

python3 scripts/bench_sampled.py --model "$MODEL" --streams "$STREAMS" --threads 2 \
    --llama-server .tools/llama.cpp-build/bin/llama-server --candlelight target/release/candlelight
