"""BENCHMARKS.md is written by several scripts, each owning its `## ` sections."""

from pathlib import Path


def sections(text):
    """(heading, body) pairs; the part before the first `## ` has heading ''."""
    parts, heading, body = [], "", []
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            parts.append((heading, "".join(body)))
            heading, body = line.rstrip("\n"), [line]
        else:
            body.append(line)
    parts.append((heading, "".join(body)))
    return parts


def replace_section(path: Path, heading: str, new_text: str):
    """Puts `new_text` (which starts with `heading`) in place of that section, or at the end."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    parts = sections(old)
    new_text = new_text.rstrip("\n") + "\n\n"
    if any(h == heading for h, _ in parts):
        parts = [(h, new_text if h == heading else b) for h, b in parts]
    else:
        last_h, last_b = parts[-1]
        parts[-1] = (last_h, last_b.rstrip("\n") + "\n\n")
        parts.append((heading, new_text))
    path.write_text("".join(b for _, b in parts).rstrip("\n") + "\n")
