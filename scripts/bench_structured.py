"""Decode speed with and without a JSON schema, candlelight beside
llama-server, measured by the same client (`candlelight bench-serve --chat
[--schema]`). The schema is a list of at least GEN integers, so the reply
cannot end early and every token is masked by the grammar. Called by
scripts/bench-structured.sh, which builds both."""

import argparse
import subprocess
from pathlib import Path

from bench_serve import bench, free_port, wait_healthy
from benchmarks_md import replace_section

SECTION = "## Structured output: the grammar's cost"
GEN = 96
ROUNDS = 3


def run(candlelight, target, schema, label):
    extra = target + ["--chat", "--rounds", str(ROUNDS)]
    if schema:
        extra.append("--schema")
    result = bench(candlelight, "1", extra, label, gen=GEN)
    return result["results"][0]["decode_tokens_per_second"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--llama-server", required=True)
    p.add_argument("--candlelight", required=True)
    args = p.parse_args()

    port = free_port()
    proc = subprocess.Popen([args.llama_server, "-m", args.model, "-np", "1", "-c", "4096", "-t", str(args.threads),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        url = ["--url", f"http://127.0.0.1:{port}"]
        theirs = (run(args.candlelight, url, False, "llama-server"), run(args.candlelight, url, True, "llama-server"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    local = ["--model", args.model, "--parallel", "1"]
    ours = (run(args.candlelight, local, False, "candlelight"), run(args.candlelight, local, True, "candlelight"))

    rows = ["| server | decode tok/s, free text | decode tok/s, JSON schema | schema / free |", "|---|---|---|---|"]
    for name, (free, schema) in (("candlelight (llguidance)", ours), ("llama-server (GBNF)", theirs)):
        rows.append(f"| {name} | {free:.1f} | {schema:.1f} | {schema / free:.2f}x |")
    text = f"""{SECTION}

One streaming `/v1/chat/completions` at a time, {GEN} new tokens, greedy, {args.threads} threads,
`{Path(args.model).name}`; with the schema, `response_format` asks for a JSON list of at least {GEN}
integers, so every one of the {GEN} tokens is sampled under the grammar's mask. Decode tok/s is the
tokens after the first over the time after it (median of {ROUNDS} rounds), measured by the same client,
`candlelight bench-serve --chat [--schema]`, for both servers. Produced by `scripts/bench-structured.sh`:

{chr(10).join(rows)}
"""
    replace_section(Path("BENCHMARKS.md"), SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
