#!/usr/bin/env python3
"""Writes the token ids llama.cpp's own tokenizer (llama-tokenize, built by
scripts/llamacpp-build.sh from the llama-cpp-python sdist) gives for a set of
texts, as the reference the tokenizer tests compare candlelight with.

usage: scripts/reference-tokens.py MODEL.gguf OUT.json
"""
import json
import subprocess
import sys

TEXTS = [
    "The capital of France is the city of",
    "Hello, world! It's 2026; numbers 12345 and 3.14159.",
    "你好，世界。今天天气很好，我们去公园散步吧！",
    "AI助理：我可以帮你写代码。",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "  leading spaces,\ttabs,\n\n\nand   runs   of   spaces  ",
    "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
    "emoji 🙂🚀 and accents: café, naïve, Ωμέγα, Привет",
    "<bos>text after a special token",
    "line one\r\nline two\u00a0non-breaking",
]


def main() -> None:
    model, out = sys.argv[1], sys.argv[2]
    tool = ".tools/llama.cpp-build/bin/llama-tokenize"
    cases = []
    for text in TEXTS:
        ids = subprocess.run(
            [tool, "-m", model, "--stdin", "--ids", "--no-bos", "--log-disable"],
            input=text.encode(),
            capture_output=True,
            check=True,
        ).stdout.decode()
        cases.append({"text": text, "ids": json.loads(ids.strip().splitlines()[-1])})
    with open(out, "w", encoding="utf-8") as f:
        f.write('{"tokenizer": "llama.cpp llama-tokenize (llama-cpp-python 0.3.36)",\n "cases": [\n')
        f.write(",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n ]\n}\n")


if __name__ == "__main__":
    main()
