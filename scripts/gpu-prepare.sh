#!/usr/bin/env bash
# Prepares what scripts/gpu-check.sh needs on a GPU machine that accepts at
# most 64 MiB per call and has no network: the CUDA binary (make cuda-build),
# SmolLM2 in two parts, Qwen's header (its weights are synthesized there) and
# this machine's CPU tokens for comparison. Writes .gpu/call1 and .gpu/call2.
set -euo pipefail
cd "$(dirname "$0")/.."

CUDA_BIN=target/cuda/release/candlelight
HOST_BIN=target/release/candlelight
SMOL=models/SmolLM2-135M-Instruct.Q4_1.gguf
QWEN=models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
LIMIT=$((62 * 1024 * 1024)) # of 64 MiB, leaving room for the repository itself

for f in "$CUDA_BIN" "$HOST_BIN" "$SMOL" "$QWEN"; do
    [ -f "$f" ] || { echo "gpu-prepare: $f is missing (make cuda-build; make build; scripts/fetch-models.sh all)" >&2; exit 1; }
done
rm -rf .gpu
mkdir -p .gpu/call1 .gpu/call2
strip -o .gpu/candlelight "$CUDA_BIN"
xz -T0 -6 -c .gpu/candlelight >.gpu/call1/candlelight.xz
rm .gpu/candlelight
first=$((LIMIT - $(stat -c %s .gpu/call1/candlelight.xz)))
head -c "$first" "$SMOL" >.gpu/call1/smollm2.part-aa
tail -c +"$((first + 1))" "$SMOL" >.gpu/call2/smollm2.part-ab
"$HOST_BIN" gguf-header --model "$QWEN" --out .gpu/call2/qwen-header.gguf
# llama.cpp for CUDA, when scripts/llamacpp-cuda-build.sh has built it.
for tool in llama-bench llama-batched-bench; do
    bin=.tools/llama.cpp-cuda/bin/$tool
    if [ -x "$bin" ]; then
        strip -o ".gpu/$tool" "$bin" && xz -T0 -6 -c ".gpu/$tool" >".gpu/call2/$tool.xz" && rm ".gpu/$tool"
    fi
done
for prompt in "What is the capital of France?" "Write a haiku about the sea."; do
    tag=$(echo "$prompt" | tr -cd 'a-z' | head -c 12)
    "$HOST_BIN" complete --model "$SMOL" --prompt "$prompt" --max-tokens 32 >".gpu/call2/expected-smol-$tag.json" 2>/dev/null
done
du -b .gpu/call1 .gpu/call2
for call in .gpu/call1 .gpu/call2; do
    if (( $(du -sb "$call" | cut -f1) > 64 * 1024 * 1024 )); then
        echo "gpu-prepare: $call is over the 64 MiB a call carries: leave llama.cpp's tools for a call of their own" >&2
        exit 1
    fi
done
