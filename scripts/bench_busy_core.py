"""candlelight and llama.cpp with and without one busy process competing for
the cores (as a browser on the same laptop does), interleaved rounds; prints
a table and puts it in BENCHMARKS.md under "With a busy core".
Called by scripts/bench-busy-core.sh, which builds both programs."""

import statistics
import subprocess
from contextlib import contextmanager
from pathlib import Path

from bench_vs_llamacpp import GEN, PROMPT, THREADS, bench_args, candlelight, llama_cpp
from benchmarks_md import replace_section

SECTION = "## With a busy core"


@contextmanager
def busy(on):
    """One process spinning on a core while the block runs (when `on`)."""
    proc = subprocess.Popen(["sh", "-c", "while :; do :; done"]) if on else None
    try:
        yield
    finally:
        if proc:
            proc.kill()
            proc.wait()


def main():
    args = bench_args().parse_args()

    programs = {"candlelight": lambda m: candlelight(args.candlelight, m),
                "llama.cpp": lambda m: llama_cpp(args.llama_bench, m)}
    samples = {}
    for r in range(args.rounds):
        for m in args.models:
            for name, bench in programs.items():
                for loaded in (False, True):
                    with busy(loaded):
                        pp, tg, _ = bench(m)
                    samples.setdefault((m, name, loaded), []).append((pp, tg))
                    print(f"round {r + 1} {Path(m).name} {name} busy={loaded}: prompt {pp:.1f} decode {tg:.1f}",
                          flush=True)

    rows = ["| file | program | prompt tok/s: quiet | busy core | kept | decode tok/s: quiet | busy core | kept |",
            "|---|---|---|---|---|---|---|---|"]
    for m in args.models:
        for name in programs:
            cells = []
            for i in range(2):
                quiet = statistics.median(s[i] for s in samples[(m, name, False)])
                loaded = statistics.median(s[i] for s in samples[(m, name, True)])
                cells += [f"{quiet:.1f}", f"{loaded:.1f}", f"{loaded / quiet:.0%}"]
            rows.append(f"| {Path(m).name} | {name} | " + " | ".join(cells) + " |")
    section = f"""{SECTION}

The same measurements ({THREADS} threads, `-p {PROMPT} -n {GEN}`) while one other process spins on a core, as a
browser rendering the chat on the same 2-core laptop does; medians of {args.rounds} interleaved rounds.
`scripts/bench-busy-core.sh {args.rounds}`:

""" + "\n".join(rows) + "\n"
    replace_section(Path("BENCHMARKS.md"), SECTION, section)
    print(section)


if __name__ == "__main__":
    main()
