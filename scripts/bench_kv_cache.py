"""f16 and q8_0 KV caches side by side: decode tok/s after a depth of
context (candlelight bench --depth, llama-bench -d), and resident memory
with 4 slots × 8k context. Writes the "KV cache types" section of
BENCHMARKS.md. Called by scripts/bench-kv-cache.sh."""

import argparse
import json
import socket
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

from bench_vs_llamacpp import run, cpu_name
from benchmarks_md import replace_section

SECTION = "## KV cache types"
TYPES = ("f16", "q8_0")
DEPTHS = (0, 1024, 4096)
GEN, THREADS = 64, 2
SLOTS, CTX = 4, 8192


def llama_decode(binary, model, cache_type, depth):
    out, _ = run([binary, "-m", model, "-p", "0", "-n", str(GEN), "-d", str(depth), "-ctk", cache_type,
                  "-ctv", cache_type, "-fa", "on", "-t", str(THREADS), "-r", "1", "-o", "json"])
    return json.loads(out)[0]["avg_ts"]


def our_bench(binary, model, cache_type, *extra):
    out, rss = run([binary, "bench", "--model", model, "--cache-type", cache_type, "--threads", str(THREADS),
                    "--repeats", "1", *extra])
    return json.loads(out.strip().splitlines()[-1]), rss


def our_decode(binary, model, cache_type, depth):
    r, _ = our_bench(binary, model, cache_type, "--prompt-tokens", "16", "--gen-tokens", str(GEN),
                     "--depth", str(depth))
    return r["decode_tokens_per_second"]


def our_full_slots(binary, model, cache_type):
    """Peak RSS and cache MiB with every slot filled to (almost) the context."""
    r, rss = our_bench(binary, model, cache_type, "--prompt-tokens", "16", "--gen-tokens", "8",
                       "--batch", str(SLOTS), "--ctx-size", str(CTX), "--depth", str(CTX - 16))
    return rss, r["kv_cache_mib"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def llama_server_rss(binary, model, cache_type):
    """llama-server's resident memory once loaded with the slots (it
    allocates and clears the whole cache at start)."""
    port = free_port()
    proc = subprocess.Popen([binary, "-m", model, "--port", str(port), "-np", str(SLOTS), "-c", str(SLOTS * CTX),
                             "-ctk", cache_type, "-ctv", cache_type, "-fa", "on", "-t", str(THREADS)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit("llama-server did not become healthy")
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise SystemExit("no VmRSS for llama-server")
    finally:
        proc.terminate()
        proc.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--model", required=True)
    p.add_argument("--llama-bench", required=True)
    p.add_argument("--llama-server", required=True)
    p.add_argument("--candlelight", required=True)
    args = p.parse_args()

    decode = {(who, t, d): [] for who in ("ours", "llama") for t in TYPES for d in DEPTHS}
    for r in range(args.rounds):
        for t in TYPES:
            for d in DEPTHS:
                decode[("llama", t, d)].append(llama_decode(args.llama_bench, args.model, t, d))
                decode[("ours", t, d)].append(our_decode(args.candlelight, args.model, t, d))
                print(f"round {r + 1} {t} depth {d}: llama.cpp {decode[('llama', t, d)][-1]:.1f}, "
                      f"candlelight {decode[('ours', t, d)][-1]:.1f}", flush=True)
    med = {k: statistics.median(v) for k, v in decode.items()}
    rows = ["| cache | depth | candlelight decode tok/s | llama.cpp decode tok/s | ratio |", "|---|---|---|---|---|"]
    for t in TYPES:
        for d in DEPTHS:
            ours, theirs = med[("ours", t, d)], med[("llama", t, d)]
            rows.append(f"| {t} | {d} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f}x |")

    mem_rows = ["| cache | candlelight peak RSS MiB | of which KV cache MiB | llama-server RSS MiB |", "|---|---|---|---|"]
    for t in TYPES:
        rss, kv = our_full_slots(args.candlelight, args.model, t)
        theirs = llama_server_rss(args.llama_server, args.model, t)
        print(f"{t}: candlelight {rss:.0f} MiB ({kv:.0f} MiB cache), llama-server {theirs:.0f} MiB", flush=True)
        mem_rows.append(f"| {t} | {rss:.0f} | {kv:.0f} | {theirs:.0f} |")

    name = Path(args.model).name
    text = f"""{SECTION}

`--cache-type f16` (the default) against `--cache-type q8_0` (bytes with an f16 scale per 32 values, read
directly by the attention kernels) on {name}, {cpu_name()}, {THREADS} threads, medians of {args.rounds}
interleaved rounds. Produced by `scripts/bench-kv-cache.sh {args.rounds}`.

Decode of {GEN} tokens after a depth of context: `candlelight bench --cache-type T --depth D --gen-tokens {GEN}`
against `llama-bench -p 0 -n {GEN} -d D -ctk T -ctv T -fa on` (llama.cpp needs flash attention for a q8_0
value cache; both rows of llama.cpp use it).

{chr(10).join(rows)}

Memory with {SLOTS} slots of {CTX} tokens: candlelight with every slot filled to {CTX - 16} tokens
(`candlelight bench --batch {SLOTS} --ctx-size {CTX} --depth {CTX - 16}`; its cache grows as it is used),
llama-server started with `-np {SLOTS} -c {SLOTS * CTX}` (it allocates and clears the whole cache at start).

{chr(10).join(mem_rows)}
"""
    replace_section(Path("BENCHMARKS.md"), SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
