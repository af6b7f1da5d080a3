#!/usr/bin/env bash
# Speculative decoding side by side: greedy decode of a reply that copies
# its prompt's code with one change, and of a free-form story, with
# speculation off and on — candlelight (`--speculative off|ngram`) beside
# llama-server (`--spec-type none|ngram-simple`), the same JSON through the
# same client; adds the table to BENCHMARKS.md. With DRAFT, a draft model
# drafts instead (`--speculative DRAFT`, llama-server's `--spec-type
# draft-simple -md DRAFT`).
#
# usage: scripts/bench-speculative.sh [ROUNDS] [MODEL] [DRAFT]
#        (default: 3 rounds, the Qwen file, n-gram drafts)
#   draft model, as BENCHMARKS.md has it:
#        scripts/bench-speculative.sh 3 models/qwen2.5-coder-0.5b-instruct-q8_0.gguf \
#            models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
MODEL=${2:-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}
DRAFT=${3:-}

scripts/fetch-models.sh qwen >&2
scripts/llamacpp-build.sh llama-server
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=native" \
    cargo build --release -p server --bin candlelight >&2

# The Q8_0 file is made from the Q4_K_M one, as scripts/bench-vs-llamacpp.sh does.
Q8=models/qwen2.5-coder-0.5b-instruct-q8_0.gguf
if [[ $MODEL == "$Q8" && ! -f $Q8 ]]; then
    target/release/candlelight quantize --model models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf --out "$Q8" --to q8-0 >&2
fi

python3 scripts/bench_speculative.py --rounds "$ROUNDS" --model "$MODEL" --threads 2 \
    --llama-server .tools/llama.cpp-build/bin/llama-server --candlelight target/release/candlelight \
    ${DRAFT:+--draft "$DRAFT"}
