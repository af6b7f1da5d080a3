#!/usr/bin/env bash
# Many streams at once: candlelight and llama-server on the same GGUF, same
# threads, the same load (`candlelight bench-serve`: N streaming
# /v1/completions started together, 128 new tokens each), side by side;
# adds the table to BENCHMARKS.md.
#
# usage: scripts/bench-serve.sh [MODEL] [STREAMS]
#        (default: the Qwen file, streams 1,2,4,8)
#
# llama-server comes from the same llama-cpp-python sdist as the other
# comparisons (scripts/llamacpp-build.sh), run with -np = the largest stream
# count and a context of 2,048 tokens per slot; candlelight with --parallel
# the same.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${1:-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}
STREAMS=${2:-1,2,4,8}
THREADS=2
SLOTS=$(tr ',' '\n' <<<"$STREAMS" | sort -n | tail -1)

scripts/fetch-models.sh qwen >&2
scripts/llamacpp-build.sh llama-server
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=native" \
    cargo build --release -p server --bin candlelight >&2

python3 scripts/bench_serve.py --model "$MODEL" --streams "$STREAMS" --slots "$SLOTS" --threads "$THREADS" \
    --llama-server .tools/llama.cpp-build/bin/llama-server --candlelight target/release/candlelight
