#!/usr/bin/env bash
# The GPU check, run ON the GPU machine from the repository root, with the
# CUDA build and the test files prepared by scripts/gpu-prepare.sh:
#   .gpu/call1/{candlelight.xz, smollm2.part-aa}   (first call: copied to /tmp/cl)
#   .gpu/call2/{smollm2.part-ab, qwen-header.gguf, expected-*.json}
# It checks that the CUDA build loads SmolLM2 (real weights) and a
# random-weight model of Qwen2.5-0.5B's exact shape on the GPU, that greedy
# tokens match the CPU's, on a tiny model of every architecture too; measures prompt (pp512) and decode (tg128 at 0
# and 4k tokens of context) speed and peak GPU memory of the 0.5B, 7B and
# 32B Qwen2.5 shapes (Q4_K_M mix, random weights made here by synth-gguf),
# 1/4/8 sequences on the 7B, the 32B in --gpu-memory 24 with an 8k prompt,
# and llama.cpp's llama-bench on the same files when the call carries it;
# streams a reply over HTTP from the server on the GPU; and checks that a
# model which does not fit gives a clear error. Results go to $OUT (or
# /tmp/gpu-out).
set -uo pipefail

OUT=${OUT:-/tmp/gpu-out}
W=/tmp/cl
mkdir -p "$OUT" "$W"
exec > >(tee "$OUT/gpu-check.log") 2>&1

section() { printf '\n=== %s ===\n' "$*"; }

section "machine"
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv
nproc

section "files"
for d in .gpu/call1 .gpu/call2; do [ -d "$d" ] && cp -n "$d"/* "$W"/ 2>/dev/null; done
ls -la "$W"
if [ ! -x "$W/candlelight" ]; then
    { xz -dc "$W/candlelight.xz" 2>/dev/null ||
        python3 -c 'import lzma,sys;sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())' "$W/candlelight.xz"; } >"$W/candlelight" &&
        chmod +x "$W/candlelight" || { echo "no binary"; exit 1; }
fi
if [ ! -f "$W/smollm2.gguf" ]; then
    if compgen -G "$W/smollm2.part-a?" >/dev/null && [ "$(ls "$W"/smollm2.part-a? | wc -l)" = 2 ]; then
        cat "$W"/smollm2.part-a? >"$W/smollm2.gguf"
    fi
fi
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
HAVE_SMOL=0
if [ -f "$W/smollm2.gguf" ] && [ "$(sha256sum "$W/smollm2.gguf" | cut -d' ' -f1)" = "$SMOL_SHA" ]; then
    HAVE_SMOL=1
    echo "smollm2: sha256 ok"
else
    echo "smollm2: missing or damaged (the machine was not the same for both calls?)"
fi

for tool in llama-bench llama-batched-bench; do
    if [ -f "$W/$tool.xz" ] && [ ! -x "$W/$tool" ]; then
        xz -dc "$W/$tool.xz" >"$W/$tool" && chmod +x "$W/$tool"
    fi
done

# CUDA user-space libraries come from PyTorch's wheels; the driver gives libcuda.
LIBS=$(python3 -c 'import glob,site,os;print(":".join(d for sp in site.getsitepackages() for d in glob.glob(os.path.join(sp,"nvidia","cu13","lib"))))')
export LD_LIBRARY_PATH="$LIBS:/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
B="$W/candlelight"
ldd "$B" | grep -E "not found|libcu|nvrtc" || true

compare() { # compare A.json B.json label
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
label = sys.argv[3]
ta, tb = a["tokens"], b["tokens"]
la, lb = dict(a["first_top_logits"]), dict(b["first_top_logits"])
shared = sorted(set(la) & set(lb), key=lambda t: -la[t])
diffs = [abs(la[t] - lb[t]) for t in shared]
print(f"{label}: first-step logits: {len(shared)} of the top 10 shared, max |diff| {max(diffs):.4f}, "
      f"mean {sum(diffs)/len(diffs):.4f} (logit range {min(la.values()):.2f}..{max(la.values()):.2f})")
n = next((i for i, (x, y) in enumerate(zip(ta, tb)) if x != y), None)
if n is None and len(ta) == len(tb):
    print(f"{label}: IDENTICAL {len(ta)} tokens: {a['text']!r}")
else:
    n = n if n is not None else min(len(ta), len(tb))
    ma = a["margins"][n] if n < len(a["margins"]) else None
    mb = b["margins"][n] if n < len(b["margins"]) else None
    print(f"{label}: first {n} of {len(ta)}/{len(tb)} tokens equal; at token {n} the top-2 logit margin was {ma} ({a['device']}) / {mb} ({b['device']})")
    print(f"   {a['device']}: {a['text']!r}\n   {b['device']}: {b['text']!r}")
EOF
}

if [ "$HAVE_SMOL" = 1 ]; then
    section "SmolLM2: greedy tokens, cuda vs cpu"
    for prompt in "What is the capital of France?" "Write a haiku about the sea."; do
        tag=$(echo "$prompt" | tr -cd 'a-z' | head -c 12)
        "$B" complete --model "$W/smollm2.gguf" --prompt "$prompt" --max-tokens 32 --device cuda >"$OUT/smol-$tag-cuda.json"
        "$B" complete --model "$W/smollm2.gguf" --prompt "$prompt" --max-tokens 32 --device cpu >"$OUT/smol-$tag-cpu.json"
        compare "$OUT/smol-$tag-cuda.json" "$OUT/smol-$tag-cpu.json" "smollm2 '$prompt' (gpu machine's cpu)"
        [ -f "$W/expected-smol-$tag.json" ] && compare "$OUT/smol-$tag-cuda.json" "$W/expected-smol-$tag.json" "smollm2 '$prompt' (build machine's cpu)"
    done
    section "SmolLM2 drafting for itself on cuda (a draft model's mechanics: same text, drafts kept)"
    timeout 180 "$B" bench-speculative --device cuda --model "$W/smollm2.gguf" --draft "$W/smollm2.gguf" \
        --gen-tokens 96 --rounds 1 2>/dev/null | tee "$OUT/draft-smol-cuda.txt"
    section "SmolLM2: bench on cuda"
    "$B" bench --model "$W/smollm2.gguf" --prompt-tokens 512 --gen-tokens 128 --device cuda | tee "$OUT/bench-smol-cuda.txt"
fi

section "Qwen2.5-0.5B shape (random weights from the real header): cuda vs cpu"
"$B" synth-gguf --from "$W/qwen-header.gguf" --out "$W/qwen-0.5b.gguf" && ls -la "$W/qwen-0.5b.gguf"
"$B" complete --model "$W/qwen-0.5b.gguf" --prompt "Hello" --max-tokens 16 --device cuda >"$OUT/qwen-cuda.json"
"$B" complete --model "$W/qwen-0.5b.gguf" --prompt "Hello" --max-tokens 16 --device cpu >"$OUT/qwen-cpu.json"
compare "$OUT/qwen-cuda.json" "$OUT/qwen-cpu.json" "qwen-shape random weights"

section "every architecture on the GPU path (tiny random-weight models): cuda vs cpu"
for arch in llama qwen3 qwen3moe gemma3 phi3; do
    "$B" synth-gguf --arch "$arch" --out "$W/tiny-$arch.gguf" >/dev/null &&
        "$B" complete --model "$W/tiny-$arch.gguf" --prompt "Hello there" --max-tokens 24 --device cuda >"$OUT/tiny-$arch-cuda.json" &&
        "$B" complete --model "$W/tiny-$arch.gguf" --prompt "Hello there" --max-tokens 24 --device cpu >"$OUT/tiny-$arch-cpu.json" &&
        compare "$OUT/tiny-$arch-cuda.json" "$OUT/tiny-$arch-cpu.json" "tiny $arch"
done

section "the real shapes: Qwen2.5-7B and 32B, Q4_K_M mix, random weights"
for size in 7b 32b; do
    "$B" synth-gguf --from "$W/qwen-header.gguf" --shape "qwen2.5-$size" --out "$W/qwen-$size.gguf" && ls -la "$W/qwen-$size.gguf"
done

# peak MODEL LABEL ARGS...: one bench run with GPU memory sampled every
# 100 ms; prints the bench's lines and the peak, and keeps its JSON line.
peak() {
    local label=$1; shift
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$OUT/mem-$label.txt" &
    local sampler=$!
    timeout 240 "$B" bench --device cuda --repeats 2 "$@" >"$OUT/bench-$label.txt" 2>&1
    echo "exit $?" >>"$OUT/bench-$label.txt"
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
    grep -E "prompt:|decode:|exit|error|Error" "$OUT/bench-$label.txt"
    echo "$label: peak GPU memory $(sort -n "$OUT/mem-$label.txt" | tail -1) MiB"
}
for size in 0.5b 7b 32b; do
    section "ours: qwen-$size"
    peak "$size-d0" --model "$W/qwen-$size.gguf" --prompt-tokens 512 --gen-tokens 128 --ctx-size 1024
    peak "$size-d4k" --model "$W/qwen-$size.gguf" --prompt-tokens 512 --gen-tokens 128 --depth 4096 --ctx-size 4608
done
section "ours: qwen-7b, 1, 4 and 8 sequences decoding together"
for n in 1 4 8; do
    peak "7b-batch$n" --model "$W/qwen-7b.gguf" --prompt-tokens 64 --gen-tokens 128 --batch "$n" --ctx-size 1024
done
section "ours: qwen-32b in 24 GiB holds an 8k prompt and answers"
peak "32b-8k" --model "$W/qwen-32b.gguf" --prompt-tokens 8192 --gen-tokens 16 --ctx-size 8704 --gpu-memory 24

if [ -x "$W/llama-bench" ]; then
    for size in 0.5b 7b 32b; do
        section "llama.cpp: qwen-$size (llama-bench, CUDA, all layers on the GPU)"
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$OUT/mem-llama-$size.txt" &
        sampler=$!
        timeout 240 "$W/llama-bench" -m "$W/qwen-$size.gguf" -ngl 99 -p 512 -n 128 -d 0,4096 -r 2 | tee "$OUT/llama-$size.txt"
        kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
        echo "llama.cpp $size: peak GPU memory $(sort -n "$OUT/mem-llama-$size.txt" | tail -1) MiB"
    done
    section "llama.cpp: qwen-7b, 8 sequences (llama-batched-bench)"
    [ -x "$W/llama-batched-bench" ] && timeout 240 "$W/llama-batched-bench" -m "$W/qwen-7b.gguf" -ngl 99 -c 4096 -npp 64 -ntg 128 -npl 1,4,8 | tee "$OUT/llama-7b-batched.txt"
else
    echo "no llama-bench for CUDA in this call: ours only"
fi
rm -f "$W"/qwen-7b.gguf "$W"/qwen-32b.gguf

if [ "$HAVE_SMOL" = 1 ]; then
    section "server on cuda: one streamed reply over HTTP"
    "$B" --model "$W/smollm2.gguf" --device cuda --listen-port 7999 --user-data-dir "$W/ud" >"$OUT/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 60); do curl -sf localhost:7999/v1/models >/dev/null && break; sleep 0.5; done
    nvidia-smi --query-gpu=memory.used --format=csv
    curl -sN localhost:7999/v1/chat/completions -H 'Content-Type: application/json' \
        -d '{"messages":[{"role":"user","content":"Tell me about the Moon."}],"max_tokens":40,"stream":true,"stream_options":{"include_usage":true}}' \
        >"$OUT/stream.txt"
    echo "content chunks: $(grep -c '"content":"[^"]' "$OUT/stream.txt"), done: $(grep -c '\[DONE\]' "$OUT/stream.txt")"
    tail -n 3 "$OUT/stream.txt"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null
    grep -E "model loaded|reply finished" "$OUT/server.log"
fi

section "a model that does not fit: clear error, no crash"
python3 - <<'EOF' &
import time, torch
free, total = torch.cuda.mem_get_info()
hog = torch.empty(free - (200 << 20), dtype=torch.uint8, device="cuda")
print(f"holding {hog.numel() >> 20} MiB of {total >> 20} MiB", flush=True)
time.sleep(40)
EOF
HOG=$!
sleep 12
"$B" complete --model "$W/qwen-0.5b.gguf" --prompt "Hello" --max-tokens 4 --device cuda
echo "exit code: $? (expected non-zero, with a message naming GPU memory)"
kill "$HOG" 2>/dev/null
echo "gpu-check done"
