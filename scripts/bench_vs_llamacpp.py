"""Runs candlelight's and llama.cpp's benchmarks interleaved on the same files
and writes the comparison table (and the prefix-cache table) to BENCHMARKS.md.
Called by scripts/bench-vs-llamacpp.sh, which builds both programs."""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
from pathlib import Path

from benchmarks_md import sections

PROMPT, GEN, THREADS = 512, 128, 2
SHORT = (16, 40, 64)


def run(cmd):
    """Runs cmd; returns (stdout, peak RSS of that process in MiB)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed (status {status})")
    return out, usage.ru_maxrss / 1024


def llama_cpp(binary, model):
    out, rss = run([binary, "-m", model, "-p", str(PROMPT), "-n", str(GEN), "-t", str(THREADS), "-r", "1", "-o", "json"])
    results = json.loads(out)
    pp = next(r["avg_ts"] for r in results if r["n_prompt"] == PROMPT and r["n_gen"] == 0)
    tg = next(r["avg_ts"] for r in results if r["n_gen"] == GEN and r["n_prompt"] == 0)
    return pp, tg, rss


def candlelight(binary, model):
    out, rss = run([binary, "bench", "--model", model, "--prompt-tokens", str(PROMPT), "--gen-tokens", str(GEN),
                    "--threads", str(THREADS), "--repeats", "1"])
    result = json.loads(out.strip().splitlines()[-1])
    return result["prompt_tokens_per_second"], result["decode_tokens_per_second"], rss


def cpu_name():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def bench_args():
    """The arguments every benchmark script here takes."""
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--llama-bench", required=True)
    p.add_argument("--candlelight", required=True)
    p.add_argument("models", nargs="+")
    return p


def main():
    p = bench_args()
    p.add_argument("--llama-version", default="")
    args = p.parse_args()

    samples = {m: {"ours": [], "llama": []} for m in args.models}
    for r in range(args.rounds):
        for m in args.models:
            samples[m]["llama"].append(llama_cpp(args.llama_bench, m))
            samples[m]["ours"].append(candlelight(args.candlelight, m))
            print(f"round {r + 1} {Path(m).name}: llama.cpp {samples[m]['llama'][-1]}, candlelight {samples[m]['ours'][-1]}",
                  flush=True)

    def med(m, who, i):
        return statistics.median(s[i] for s in samples[m][who])

    rows = ["| file | prompt tok/s: candlelight | llama.cpp | ratio | decode tok/s: candlelight | llama.cpp | ratio "
            "| peak RSS MiB: candlelight | llama.cpp | ratio |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for m in args.models:
        cells = []
        for i in range(3):
            ours, theirs = med(m, "ours", i), med(m, "llama", i)
            cells += [f"{ours:.1f}" if i < 2 else f"{ours:.0f}", f"{theirs:.1f}" if i < 2 else f"{theirs:.0f}",
                      f"{ours / theirs:.2f}x"]
        rows.append(f"| {Path(m).name} | " + " | ".join(cells) + " |")
    table = "\n".join(rows)

    # Short prompts: a chat turn's new tokens after the prefix cache.
    qwen = next((m for m in args.models if "q4_k_m" in m), None)
    short_rows = ["| prompt tokens | candlelight tok/s | llama.cpp tok/s | ratio |", "|---|---|---|---|"]
    if qwen:
        short = {n: {"ours": [], "llama": []} for n in SHORT}
        for _ in range(args.rounds):
            out, _ = run([args.llama_bench, "-m", qwen, "-p", ",".join(map(str, SHORT)), "-n", "0", "-t", str(THREADS),
                          "-r", "1", "-o", "json"])
            for r in json.loads(out):
                short[r["n_prompt"]]["llama"].append(r["avg_ts"])
            for n in SHORT:
                out, _ = run([args.candlelight, "bench", "--model", qwen, "--prompt-tokens", str(n), "--gen-tokens", "1",
                              "--threads", str(THREADS), "--repeats", "1"])
                short[n]["ours"].append(json.loads(out.strip().splitlines()[-1])["prompt_tokens_per_second"])
        for n in SHORT:
            ours, theirs = statistics.median(short[n]["ours"]), statistics.median(short[n]["llama"])
            short_rows.append(f"| {n} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f}x |")
    short_table = "\n".join(short_rows)

    prefix_rows = ["| file | turn 1: prompt tokens | turn 1 TTFT ms | turn 2: prompt tokens (reused) | turn 2 TTFT ms |",
                   "|---|---|---|---|---|"]
    for m in args.models:
        if "Q8_0" in m or "q8_0" in m:
            continue
        out, _ = run([args.candlelight, "bench-prefix", "--model", m, "--context-tokens", "1000"])
        r = json.loads(out.strip().splitlines()[-1])
        prefix_rows.append(f"| {Path(m).name} | {r['first']['prompt_tokens']} | {r['first']['ttft_ms']:.0f} | "
                           f"{r['second']['prompt_tokens']} ({r['second']['cached_tokens']}) | {r['second']['ttft_ms']:.0f} |")
    prefix_table = "\n".join(prefix_rows)

    today = datetime.date.today().isoformat()
    text = f"""# Benchmarks

Latest run: {today}, {cpu_name()}, {THREADS} threads, medians of {args.rounds} interleaved rounds
(llama.cpp, then candlelight, per file per round). Produced by:

```sh
scripts/bench-vs-llamacpp.sh {args.rounds}
```

llama.cpp is {args.llama_version}'s vendored copy, built with `-DGGML_NATIVE=ON` (no AMX), measured with
`llama-bench -p {PROMPT} -n {GEN} -t {THREADS} -r 1`; candlelight (built with `-C target-cpu=native`, as
`make run` builds it) with `candlelight bench --prompt-tokens {PROMPT} --gen-tokens {GEN} --threads {THREADS}`.
Both measure the prompt as one batch from an empty cache and decode as {GEN} single tokens from the start of
the context; peak RSS is each process's maximum resident set (`wait4`). Q8_0 files are made by
`candlelight quantize --to q8-0`.

{table}

## Short prompts

A chat turn's new tokens after the prefix cache are a short prompt: {Path(qwen).name if qwen else ""},
`llama-bench -p {",".join(map(str, SHORT))} -n 0` against `candlelight bench --prompt-tokens N`, medians of
{args.rounds}. With AVX-512 VNNI candlelight reads every prompt on its 8-bit prompt kernel (weight rows
unpacked once per chunk, 4 rows × 32 tokens per register tile); without it, prompts of 128 tokens or more
as f32 matrix products.

{short_table}

## Prefix cache

Time to first token of a chat's first and second turn with a ~1,000-token character context (chat mode):
the second turn reuses the cached keys and values of the prefix it shares with the first and computes only
its new tokens. `candlelight bench-prefix --model FILE --context-tokens 1000` (turn 1 on Qwen was 6,814 ms
before the 8-bit prompt kernel):

{prefix_table}
"""
    # Sections other scripts add (bench_busy_core.py's, bench_serve.py's) stay.
    path = Path("BENCHMARKS.md")
    old = path.read_text() if path.exists() else ""
    mine = ("", "## Short prompts", "## Prefix cache")
    kept = "".join(body for heading, body in sections(old) if heading not in mine)
    path.write_text(text + ("\n" + kept if kept else ""))
    print(text)


if __name__ == "__main__":
    main()
