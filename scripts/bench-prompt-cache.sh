#!/usr/bin/env bash
# The shared prompt cache side by side: time to first token of a second
# chat with the same ~1,000-token card while the first streams, of Send
# after an Impersonate in chat-instruct, of an edited message sent again,
# and n=4 choices — candlelight beside llama-server (its slots and
# --cache-ram prompt cache), the same JSON through the same client; adds
# the table to BENCHMARKS.md.
#
# usage: scripts/bench-prompt-cache.sh [ROUNDS] [MODEL]
#        (default: 3 rounds, the Qwen file)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
MODEL=${2:-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}

scripts/fetch-models.sh qwen >&2
scripts/llamacpp-build.sh llama-server
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=native" \
    cargo build --release -p server --bin candlelight >&2

python3 scripts/bench_prompt_cache.py --rounds "$ROUNDS" --model "$MODEL" --threads 2 \
    --llama-server .tools/llama.cpp-build/bin/llama-server --candlelight target/release/candlelight
