#!/usr/bin/env bash
# candlelight against llama.cpp on the same GGUF files, same thread count,
# interleaved rounds; prints a ratio table and rewrites BENCHMARKS.md.
#
# usage: scripts/bench-vs-llamacpp.sh [ROUNDS]        (default 3)
#
# llama.cpp comes from the PyPI sdist of llama-cpp-python (which vendors it;
# nothing is downloaded from anywhere else) and is built here with cmake from
# PyPI: Release, -DGGML_NATIVE=ON, and without AMX (-mno-amx-*): native
# builds on some of these machines die with SIGILL in the AMX path.
# The Q8_0 files are made with `candlelight quantize --to q8-0`.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
LLAMA_CPP_PYTHON=llama-cpp-python==0.3.36
TOOLS=.tools
VENV=$TOOLS/bench-venv
SRC=$TOOLS/llama.cpp-src
BUILD=$TOOLS/llama.cpp-build
LLAMA_BENCH=$BUILD/bin/llama-bench

scripts/fetch-models.sh smollm2 >&2
scripts/fetch-models.sh qwen >&2

if [[ ! -x $VENV/bin/cmake ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet cmake ninja
fi

if [[ ! -x $LLAMA_BENCH ]]; then
    rm -rf "$SRC" && mkdir -p "$SRC" "$TOOLS/sdist"
    # The sdist straight from PyPI's simple index (pip download would build
    # it first), checked against the sha256 the index lists.
    python3 scripts/fetch_sdist.py llama-cpp-python "${LLAMA_CPP_PYTHON#*==}" "$TOOLS/sdist/llama-cpp-python.tar.gz"
    tar -xzf "$TOOLS/sdist/llama-cpp-python.tar.gz" -C "$SRC" --strip-components=1
    NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    "$VENV/bin/cmake" -S "$SRC/vendor/llama.cpp" -B "$BUILD" -G Ninja -DCMAKE_MAKE_PROGRAM="$PWD/$VENV/bin/ninja" \
        -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON \
        -DCMAKE_C_FLAGS="$NO_AMX" -DCMAKE_CXX_FLAGS="$NO_AMX" >&2
    "$VENV/bin/cmake" --build "$BUILD" --target llama-bench -j "$(nproc)" >&2
fi

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
    models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf models/qwen2.5-coder-0.5b-instruct-q8_0.gguf
