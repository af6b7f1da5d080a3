"""The prompt cache side by side: candlelight beside llama-server (its
slots plus its host-memory prompt cache, `--cache-ram`, on by default), the
same streamed chat requests through the same client, on a ~1,000-token
character card. Per round (a new card each, so nothing carries over):

1. a new chat with the card (cold);
2. a second chat with the same card, sent while the first is streaming;
3. chat-instruct: Send, Impersonate (its prompt shares only the first
   tokens of the instruction), then Send again;
4. Edit the last message and send it again;
5. `n=4` choices of a new prompt (candlelight only: llama-server answers
   one choice), with the prompt tokens read for all four (`/metrics`).

Time to first token (first text) and the cached prompt tokens each server
reports (candlelight `usage.prompt_tokens_details.cached_tokens`,
llama-server `timings.cache_n`). Writes the "Shared prompt cache" section
of BENCHMARKS.md. Called by scripts/bench-prompt-cache.sh."""

import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench_serve import free_port, side_by_side_args, stream_chunks
from bench_speculative import serving
from benchmarks_md import replace_section

SECTION = "## Shared prompt cache"

LORE = ("The city of Vell stands where three rivers meet. Its guilds keep the bridges, the archive keeps "
        "the maps, and the lamplighters keep the old songs. ")
REPLY_CMD = 'Continue the chat dialogue below. Write a single reply for the character "Archivist".'
IMPERSONATE_CMD = 'Continue the chat dialogue below. Write a single message for the user "You".'


def card(round_no):
    return (f"(Round {round_no}.) The Archivist of Vell answers questions about the city. "
            + LORE * 30)


def chat(url, messages, max_tokens, n=1, on_first=None):
    """One streamed greedy request: (ttft ms, text, cached prompt tokens or None)."""
    body = {"model": "m", "messages": messages, "temperature": 0, "max_tokens": max_tokens, "stream": True,
            "stream_options": {"include_usage": True}}
    if n > 1:
        body["n"] = n
    started = time.perf_counter()
    ttft, text, cached = None, [], None
    for chunk in stream_chunks(url, body):
        for choice in chunk.get("choices", []):
            piece = choice.get("delta", {}).get("content")
            if piece:
                if ttft is None:
                    ttft = (time.perf_counter() - started) * 1000
                    if on_first:
                        on_first()
                if choice.get("index", 0) == 0:
                    text.append(piece)
        usage = chunk.get("usage") or {}
        details = usage.get("prompt_tokens_details") or {}
        if "cached_tokens" in details:
            cached = details["cached_tokens"]
        if "timings" in chunk and "cache_n" in chunk["timings"]:
            cached = chunk["timings"]["cache_n"]
    return ttft or 0.0, "".join(text), cached


def instruct_prompt(command, card_text, turns):
    lines = "\n".join(f"{who}: {text}" for who, text in turns)
    return [{"role": "user", "content": f"{command}\n\n{card_text}\n\n{lines}"}]


def one_round(url, round_no):
    """{scenario: (ttft ms, cached)} for one new card."""
    text = card(round_no)
    out = {}
    # 1 and 2: a chat streams while a second chat with the same card starts.
    first_token = threading.Event()
    first = {}

    def first_chat():
        first["r"] = chat(url, [{"role": "system", "content": text},
                                {"role": "user", "content": "Tell me the whole history of the three rivers."}],
                          200, on_first=first_token.set)

    t = threading.Thread(target=first_chat)
    t.start()
    first_token.wait(timeout=600)
    second = chat(url, [{"role": "system", "content": text},
                        {"role": "user", "content": "Who keeps the old songs?"}], 8)
    t.join()
    out["new chat with the card (cold)"] = first["r"][0], first["r"][2]
    out["second chat, same card, while the first streams"] = second[0], second[2]
    # 3: chat-instruct Send, Impersonate, Send.
    turns = [("You", "Where do the three rivers meet?")]
    _, reply, _ = chat(url, instruct_prompt(REPLY_CMD, text, turns), 16)
    turns.append(("Archivist", reply.strip()))
    chat(url, instruct_prompt(IMPERSONATE_CMD, text, turns), 16)
    turns.append(("You", "And who lights the lamps?"))
    ttft, reply, cached = chat(url, instruct_prompt(REPLY_CMD, text, turns), 16)
    out["chat-instruct: Send after Impersonate"] = ttft, cached
    # 4: the last message edited and sent again.
    turns[-1] = ("You", "And who lights the lamps at dusk?")
    ttft, _, cached = chat(url, instruct_prompt(REPLY_CMD, text, turns), 16)
    out["Edit the last message, send again"] = ttft, cached
    return out


def n_choices(url, round_no):
    """Time to the first text of 4 choices, and the prompt tokens read for all 4 (candlelight's /metrics)."""
    def read():
        counters = {}
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                name, _, value = line.partition(" ")
                counters[name] = value
        return (float(counters["candlelight_prompt_tokens_total"])
                - float(counters["candlelight_prompt_tokens_cached_total"]))

    before = read()
    ttft, _, _ = chat(url, [{"role": "system", "content": card(round_no + 100)},
                            {"role": "user", "content": "Name a bridge."}], 8, n=4)
    return ttft, int(read() - before)


def measure(server, rounds, with_n):
    results, n_results = [], []
    with server as url:
        chat(url, [{"role": "user", "content": "Say hi."}], 4)  # warm-up
        for r in range(rounds):
            results.append(one_round(url, r))
            print(results[-1], flush=True)
            if with_n:
                n_results.append(n_choices(url, r))
    return results, n_results


def median_of(results, key):
    ttft = statistics.median(r[key][0] for r in results)
    cached = [r[key][1] for r in results]
    return ttft, (None if any(c is None for c in cached) else int(statistics.median(cached)))


def main():
    args = side_by_side_args()

    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        ours, ours_n = measure(serving([args.candlelight, "--model", args.model, "--parallel", "2",
                                        "--ctx-size", "4096", "--threads", str(args.threads),
                                        "--listen-port", str(port), "--user-data-dir", data], port),
                               args.rounds, True)
    port = free_port()
    theirs, _ = measure(serving([args.llama_server, "-m", args.model, "-np", "2", "-c", "8192",
                                 "-t", str(args.threads), "--host", "127.0.0.1", "--port", str(port)], port),
                        args.rounds, False)

    def cell(ttft, cached):
        return f"{ttft:.0f} ({'?' if cached is None else cached})"

    rows = ["| scenario | candlelight TTFT ms (cached tokens) | llama-server TTFT ms (cached tokens) "
            "| candlelight faster |", "|---|---|---|---|"]
    for key in ours[0]:
        o, t = median_of(ours, key), median_of(theirs, key)
        rows.append(f"| {key} | {cell(*o)} | {cell(*t)} | {t[0] / max(o[0], 1e-9):.2f}x |")
    n_ttft = statistics.median(t for t, _ in ours_n)
    n_read = int(statistics.median(c for _, c in ours_n))
    rows.append(f"| n=4 choices of a new prompt (first text; prompt tokens read for all 4) | "
                f"{n_ttft:.0f} ({n_read} read) | one choice only | |")
    for row in rows[2:]:
        print(row, flush=True)
    name = Path(args.model).name
    text = f"""{SECTION}

One cache for every chat: a request starts from the longest prefix of its prompt that any slot holds (a running
reply's included), copied into its own slot; earlier prompts stay in up to 8 more caches within the memory the
running slots leave (least recently used freed first). {name}, {args.threads} threads, candlelight `--parallel 2
--ctx-size 4096` beside llama-server `-np 2 -c 8192` (its slot matching and its host-memory prompt cache,
`--cache-ram` 8192 MiB, both on by default); the same streamed greedy chat requests through the same client on a
~1,000-token character card (a new card per round), time to the first text and the cached prompt tokens the server
reports; medians of {args.rounds} rounds. chat-instruct puts the instruction before the card, and Impersonate's
instruction differs from Send's after a few tokens. Produced by `scripts/bench-prompt-cache.sh {args.rounds}`.

{chr(10).join(rows)}
"""
    replace_section(Path("BENCHMARKS.md"), SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
