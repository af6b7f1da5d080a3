#!/usr/bin/env bash
# Builds llama.cpp's tools (llama-bench, llama-server) for the side-by-side
# benchmarks, from the PyPI sdist of llama-cpp-python (which vendors
# llama.cpp; nothing is downloaded from anywhere else), with cmake and ninja
# from PyPI: Release, -DGGML_NATIVE=ON, and without AMX (-mno-amx-*):
# native builds on some of these machines die with SIGILL in the AMX path.
#
# usage: scripts/llamacpp-build.sh TARGET...   (e.g. llama-bench llama-server)
# Prints nothing on stdout; the binaries land in .tools/llama.cpp-build/bin.
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_CPP_PYTHON=${LLAMA_CPP_PYTHON:-llama-cpp-python==0.3.36}
TOOLS=.tools
VENV=$TOOLS/bench-venv
SRC=$TOOLS/llama.cpp-src
BUILD=$TOOLS/llama.cpp-build

if [[ ! -x $VENV/bin/cmake ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet cmake ninja
fi

if [[ ! -f $SRC/vendor/llama.cpp/CMakeLists.txt ]]; then
    rm -rf "$SRC" && mkdir -p "$SRC" "$TOOLS/sdist"
    # The sdist straight from PyPI's simple index (pip download would build
    # it first), checked against the sha256 the index lists.
    python3 scripts/fetch_sdist.py llama-cpp-python "${LLAMA_CPP_PYTHON#*==}" "$TOOLS/sdist/llama-cpp-python.tar.gz"
    tar -xzf "$TOOLS/sdist/llama-cpp-python.tar.gz" -C "$SRC" --strip-components=1
fi

missing=()
for target in "$@"; do
    [[ -x $BUILD/bin/$target ]] || missing+=("$target")
done
if (( ${#missing[@]} )); then
    NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    "$VENV/bin/cmake" -S "$SRC/vendor/llama.cpp" -B "$BUILD" -G Ninja -DCMAKE_MAKE_PROGRAM="$PWD/$VENV/bin/ninja" \
        -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
        -DCMAKE_C_FLAGS="$NO_AMX" -DCMAKE_CXX_FLAGS="$NO_AMX" >&2
    "$VENV/bin/cmake" --build "$BUILD" --target "${missing[@]}" -j "$(nproc)" >&2
fi
