"""Runs `candlelight bench-serve` against llama-server and against candlelight
(in-process, the same model) and writes the side-by-side table to
BENCHMARKS.md. Called by scripts/bench-serve.sh, which builds both."""

import argparse
import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from benchmarks_md import replace_section

SECTION = "## Many streams at once"
GEN = 128


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench(candlelight, streams, extra, label, gen=GEN):
    cmd = [candlelight, "bench-serve", "--streams", streams, "--gen-tokens", str(gen), "--label", label] + extra
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "RAYON_NUM_THREADS": os.environ.get("RAYON_NUM_THREADS", "2")}).stdout
    print(out, flush=True)
    return json.loads(out.strip().splitlines()[-1])


def wait_healthy(url, proc, seconds=120):
    """Waits until `url`/health answers 200; fails if `proc` exits first or time runs out."""
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit(f"{url} did not start")
        time.sleep(0.5)


def stream_chunks(url, body):
    """POSTs a streamed chat request to `url`/v1/chat/completions; yields each event's JSON."""
    req = urllib.request.Request(f"{url}/v1/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        for line in r:
            line = line.decode().strip()
            if line.startswith("data: ") and line != "data: [DONE]":
                yield json.loads(line[6:])


def side_by_side_args(extra=None):
    """What a candlelight-beside-llama-server benchmark takes: the model, rounds, threads, both binaries
    (and what `extra(parser)` adds)."""
    p = argparse.ArgumentParser()
    if extra:
        extra(p)
    p.add_argument("--model", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--llama-server", required=True)
    p.add_argument("--candlelight", required=True)
    return p.parse_args()


@contextlib.contextmanager
def running_llama_server(binary, model, slots, threads):
    """llama-server on a free loopback port, `-np slots` with 2,048 tokens each; yields its URL."""
    port = free_port()
    proc = subprocess.Popen([binary, "-m", model, "-np", str(slots), "-c", str(2048 * slots),
                             "-t", str(threads), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def llama_server(args):
    with running_llama_server(args.llama_server, args.model, args.slots, args.threads) as url:
        return bench(args.candlelight, args.streams, ["--url", url], "llama-server")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--streams", default="1,2,4,8")
    p.add_argument("--slots", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--llama-server", required=True)
    p.add_argument("--candlelight", required=True)
    args = p.parse_args()

    theirs = llama_server(args)
    ours = bench(args.candlelight, args.streams,
                 ["--model", args.model, "--parallel", str(args.slots)], "candlelight")

    rows = ["| streams | candlelight tok/s | ratio to 1 | llama-server tok/s | ratio to 1 | candlelight / llama-server "
            "| time to first token, s: candlelight | llama-server |",
            "|---|---|---|---|---|---|---|---|"]
    for o, t in zip(ours["results"], theirs["results"]):
        rows.append(f"| {o['streams']} | {o['aggregate_tokens_per_second']:.1f} | {o['ratio_to_one']:.2f}x "
                    f"| {t['aggregate_tokens_per_second']:.1f} | {t['ratio_to_one']:.2f}x "
                    f"| {o['aggregate_tokens_per_second'] / t['aggregate_tokens_per_second']:.2f}x "
                    f"| {', '.join(f'{x:.2f}' for x in o['ttft_seconds'])} "
                    f"| {', '.join(f'{x:.2f}' for x in t['ttft_seconds'])} |")
    table = "\n".join(rows)
    text = f"""{SECTION}

N streaming `/v1/completions` started together, each a different ~60-token prompt and exactly {GEN} new
tokens (end-of-sequence ignored), {args.threads} threads, `{Path(args.model).name}`. Aggregate tok/s is every
stream's tokens over the wall time from the first request to the last token, time to first token is each
stream's own. llama-server (the same llama-cpp-python sdist as above) runs with `-np {args.slots} -c
{2048 * args.slots}`, candlelight with `--parallel {args.slots}`; both are measured by the same client,
`candlelight bench-serve`. Produced by `scripts/bench-serve.sh`:

{table}
"""
    replace_section(Path("BENCHMARKS.md"), SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
