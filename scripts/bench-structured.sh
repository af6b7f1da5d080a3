#!/usr/bin/env bash
# The cost of structured output: decode speed of the same chat request with
# and without a JSON schema (enforced token by token), on candlelight and on
# llama-server, one stream each, side by side; adds the table to
# BENCHMARKS.md.
#
# usage: scripts/bench-structured.sh [MODEL]   (default: the Qwen file)
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${1:-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}

scripts/fetch-models.sh qwen >&2
scripts/llamacpp-build.sh llama-server
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=native" \
    cargo build --release -p server --bin candlelight >&2

python3 scripts/bench_structured.py --model "$MODEL" --threads 2 \
    --llama-server .tools/llama.cpp-build/bin/llama-server --candlelight target/release/candlelight
