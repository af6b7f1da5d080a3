#!/usr/bin/env python3
"""Writes llama.cpp's greedy continuation of a raw prompt (llama-server, built
by scripts/llamacpp-build.sh from the llama-cpp-python sdist) with each step's
top-2 probabilities, as the reference our kernels are compared with where
candle's module is not one (candle 0.11's gemma3 uses SiLU, not GELU).

usage: scripts/reference-greedy.py MODEL.gguf PROMPT STEPS OUT.json
PROMPT is text, or a JSON list of token ids ("[3, 40, 77]") for tiny models.
"""
import hashlib
import json
import subprocess
import sys
import time
import urllib.request

PORT = 8199


def main() -> None:
    model, prompt, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    server = subprocess.Popen(
        [".tools/llama.cpp-build/bin/llama-server", "-m", model, "--port", str(PORT), "-t", "2", "-c", "2048"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=1)
                break
            except Exception:
                time.sleep(0.5)
        body = {"prompt": json.loads(prompt) if prompt.startswith("[") else prompt, "n_predict": steps, "temperature": 0, "n_probs": 2,
                "post_sampling_probs": False, "cache_prompt": False, "return_tokens": True}
        req = urllib.request.Request(f"http://127.0.0.1:{PORT}/completion", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        reply = json.load(urllib.request.urlopen(req, timeout=300))
    finally:
        server.terminate()
    tokens = reply["tokens"]
    # llama-server reports probabilities for a token only where its text
    # is complete (not inside a character split over several tokens):
    # each report names the position of the token it is for.
    steps, at = [], 0
    for report in reply["completion_probabilities"]:
        while at < len(tokens) and tokens[at] != report["id"]:
            at += 1
        if at == len(tokens):
            sys.exit(f"unexpected llama-server reply: {report['id']} is not among {tokens}")
        steps.append({"position": at, "top2": [[p["id"], round(p["logprob"], 4)] for p in report["top_logprobs"]]})
        at += 1
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"reference": "llama.cpp llama-server (llama-cpp-python 0.3.36), temperature 0",
                   "prompt": json.loads(prompt) if prompt.startswith("[") else prompt, "text": reply["content"], "tokens": tokens,
                   "steps": steps,
                   "model_sha256": hashlib.sha256(open(model, "rb").read()).hexdigest()}, f, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
