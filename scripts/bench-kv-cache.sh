#!/usr/bin/env bash
# The KV cache types side by side (f16 and q8_0, `--cache-type`): decode
# speed after 0, 1024 and 4096 tokens of context, candlelight beside
# llama.cpp (llama-bench -d), and resident memory with 4 slots of 8k
# context each (candlelight filled, llama-server as it allocates); adds
# the table to BENCHMARKS.md.
#
# usage: scripts/bench-kv-cache.sh [ROUNDS] [MODEL]
#        (default: 3 rounds, the Qwen file)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
MODEL=${2:-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}

scripts/fetch-models.sh qwen >&2
scripts/llamacpp-build.sh llama-bench llama-server
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=native" \
    cargo build --release -p server --bin candlelight >&2

python3 scripts/bench_kv_cache.py --rounds "$ROUNDS" --model "$MODEL" \
    --llama-bench .tools/llama.cpp-build/bin/llama-bench \
    --llama-server .tools/llama.cpp-build/bin/llama-server \
    --candlelight target/release/candlelight
