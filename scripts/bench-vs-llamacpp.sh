#!/usr/bin/env bash
# candlelight against llama.cpp on the same GGUF files, same thread count,
# interleaved rounds; prints a ratio table and rewrites BENCHMARKS.md.
#
# usage: scripts/bench-vs-llamacpp.sh [ROUNDS]        (default 3)
#
# llama.cpp comes from the PyPI sdist of llama-cpp-python, built by
# scripts/llamacpp-build.sh. The Q8_0 files are made with `candlelight quantize --to q8-0`.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
LLAMA_CPP_PYTHON=llama-cpp-python==0.3.36
LLAMA_BENCH=.tools/llama.cpp-build/bin/llama-bench

scripts/fetch-models.sh smollm2 >&2
scripts/fetch-models.sh qwen >&2
scripts/fetch-models.sh gemma >&2
LLAMA_CPP_PYTHON=$LLAMA_CPP_PYTHON scripts/llamacpp-build.sh llama-bench

# candlelight built for this CPU, as `make run` builds it.
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=native" \
    cargo build --release -p server --bin candlelight >&2
CANDLELIGHT=target/release/candlelight

for pair in "SmolLM2-135M-Instruct.Q4_1.gguf SmolLM2-135M-Instruct.Q8_0.gguf" \
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf qwen2.5-coder-0.5b-instruct-q8_0.gguf"; do
    read -r src q8 <<<"$pair"
    [[ -f models/$q8 ]] || $CANDLELIGHT quantize --model "models/$src" --out "models/$q8" --to q8-0 >&2
done

python3 scripts/bench_vs_llamacpp.py --rounds "$ROUNDS" --llama-bench "$LLAMA_BENCH" --candlelight "$CANDLELIGHT" \
    --llama-version "$LLAMA_CPP_PYTHON" \
    models/SmolLM2-135M-Instruct.Q4_1.gguf models/SmolLM2-135M-Instruct.Q8_0.gguf \
    models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf models/qwen2.5-coder-0.5b-instruct-q8_0.gguf \
    models/gemma-3-270m-q4_k_m.gguf
