#!/usr/bin/env bash
# Builds llama.cpp's llama-bench and llama-batched-bench for CUDA (sm_90:
# H100/H200 only, to keep the build and the binaries small) from the same
# llama-cpp-python sdist as the CPU tools (scripts/llamacpp-build.sh), with
# the CUDA toolkit from PyPI (scripts/cuda-toolkit.sh). Static ggml, so each
# binary travels alone; at run time it needs the driver and the cuBLAS /
# cudart libraries the GPU machine's PyTorch wheels carry.
#
# usage: scripts/llamacpp-cuda-build.sh   (binaries in .tools/llama.cpp-cuda/bin)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/llamacpp-build.sh # unpacks the sdist and the cmake/ninja venv; builds nothing new
CUDA=$(scripts/cuda-toolkit.sh)
CUDA=$(cd "$CUDA" && pwd)
VENV=.tools/bench-venv
SRC=.tools/llama.cpp-src
BUILD=.tools/llama.cpp-cuda
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

PATH="$CUDA/bin:$PATH" CUDACXX="$CUDA/bin/nvcc" LIBRARY_PATH="$CUDA/lib" \
    "$VENV/bin/cmake" -S "$SRC/vendor/llama.cpp" -B "$BUILD" -G Ninja -DCMAKE_MAKE_PROGRAM="$PWD/$VENV/bin/ninja" \
    -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCUDAToolkit_ROOT="$CUDA" -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON \
    -DCMAKE_C_FLAGS="$NO_AMX" -DCMAKE_CXX_FLAGS="$NO_AMX" >&2
PATH="$CUDA/bin:$PATH" LIBRARY_PATH="$CUDA/lib" \
    "$VENV/bin/cmake" --build "$BUILD" --target llama-bench llama-batched-bench -j "$(nproc)" >&2
ls -la "$BUILD/bin/llama-bench" "$BUILD/bin/llama-batched-bench" >&2
