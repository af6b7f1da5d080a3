"""Decode speed the way users sample, beside greedy, for candlelight and
llama-server on the same GGUF: `candlelight bench-serve --sampling S` for
greedy, temperature 0.8 with top_p 0.95, text-generation-webui's default
preset (min_p) and the Chat tab's default (Qwen's: top_k 20, top_p 0.8,
repetition penalty 1.05), and TGW's preset with DRY or XTC, at 1 and 4
streams. Both servers get the same
JSON (each reads its own names for the repetition penalty). Writes the
table to BENCHMARKS.md. Called by scripts/bench-sampled.sh."""

import argparse
from pathlib import Path

from bench_serve import bench, running_llama_server
from benchmarks_md import replace_section

SECTION = "## Sampled replies"
SAMPLINGS = [
    ("greedy", "greedy (temperature 0)"),
    ("top-p", "temperature 0.8, top_p 0.95"),
    ("min-p", "TGW's default preset (min_p 0.05, temperature 1)"),
    ("qwen", "Chat tab default (temperature 0.7, top_p 0.8, top_k 20, rep. penalty 1.05)"),
    ("min-p-dry", "TGW's default preset + DRY 0.8"),
    ("min-p-xtc", "TGW's default preset + XTC (threshold 0.1, probability 0.5)"),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--streams", default="1,4")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--llama-server", required=True)
    p.add_argument("--candlelight", required=True)
    args = p.parse_args()
    slots = max(int(n) for n in args.streams.split(","))
    rounds = ["--rounds", str(args.rounds)]

    ours, theirs = {}, {}
    for name, _ in SAMPLINGS:
        sampling = ["--sampling", name] + rounds
        with running_llama_server(args.llama_server, args.model, slots, args.threads) as url:
            theirs[name] = bench(args.candlelight, args.streams, ["--url", url] + sampling, "llama-server")
        ours[name] = bench(args.candlelight, args.streams,
                           ["--model", args.model, "--parallel", str(slots)] + sampling, "candlelight")

    def decode(result, i):
        return result["results"][i]["decode_tokens_per_second"]

    def aggregate(result, i):
        return result["results"][i]["aggregate_tokens_per_second"]

    rows = ["| sampling | streams | candlelight decode tok/s | of its greedy | aggregate tok/s "
            "| llama-server decode tok/s | of its greedy | aggregate tok/s | candlelight / llama-server (aggregate) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, label in SAMPLINGS:
        for i, streams in enumerate(args.streams.split(",")):
            o, t = ours[name], theirs[name]
            rows.append(f"| {label} | {streams} | {decode(o, i):.1f} | {decode(o, i) / decode(ours['greedy'], i):.0%} "
                        f"| {aggregate(o, i):.1f} | {decode(t, i):.1f} | {decode(t, i) / decode(theirs['greedy'], i):.0%} "
                        f"| {aggregate(t, i):.1f} | {aggregate(o, i) / aggregate(t, i):.2f}x |")
    table = "\n".join(rows)
    text = f"""{SECTION}

Streaming `/v1/completions`, each a different ~60-token prompt and exactly 128 new tokens (end-of-sequence
ignored), {args.threads} threads, `{Path(args.model).name}`, a fixed seed per stream; medians of {args.rounds}
rounds. Decode tok/s is the median stream's tokens after its first over the time after it; aggregate is
every stream's tokens over the wall time. Both servers are measured by the same client with the same JSON,
`candlelight bench-serve --sampling S`; llama-server (the llama-cpp-python sdist above) with `-np {slots}`,
candlelight with `--parallel {slots}`. Produced by `scripts/bench-sampled.sh`:

{table}
"""
    replace_section(Path("BENCHMARKS.md"), SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
