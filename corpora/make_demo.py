"""Build the demo text and its span table from the marked source.

``corpora/demo_source.txt`` is the demo text (written for the project) with its inserts
marked ``[[kind]]...[[/kind]]``. This script removes the markers and writes

- ``textkl/data/demo.txt``: the text as the demo reads it;
- ``textkl/data/demo_spans.tsv``: ``start end kind`` of each insert, half-open Python
  ``str`` offsets into demo.txt; the rest of the text is the French narrative.

Kinds: ``en`` English passage, ``de`` German lines, ``dict`` dictionary entry, ``code``
Python snippet.

Usage:
    python corpora/make_demo.py           # rewrite both files
    python corpora/make_demo.py --check   # exit 1 if they are out of date
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "corpora" / "demo_source.txt"
TEXT = ROOT / "textkl" / "data" / "demo.txt"
SPANS = ROOT / "textkl" / "data" / "demo_spans.tsv"
KINDS = ("en", "de", "dict", "code")
_MARK = re.compile(r"\[\[(/?)([a-z]+)\]\]")


def build(source: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Strip the markers from ``source``; return the text and its ``(start, end, kind)`` spans."""
    source = unicodedata.normalize("NFC", source)
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos, length, open_kind, open_at = 0, 0, None, 0
    for m in _MARK.finditer(source):
        out.append(source[pos:m.start()])
        length += m.start() - pos
        pos = m.end()
        closing, kind = m.group(1) == "/", m.group(2)
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} at source offset {m.start()}")
        if not closing and open_kind is None:
            open_kind, open_at = kind, length
        elif closing and kind == open_kind:
            spans.append((open_at, length, kind))
            open_kind = None
        else:
            raise ValueError(f"unbalanced marker {m.group(0)} at source offset {m.start()}")
    if open_kind is not None:
        raise ValueError(f"[[{open_kind}]] is never closed")
    out.append(source[pos:])
    return "".join(out), spans


def spans_tsv(spans: list[tuple[int, int, str]]) -> str:
    """The span table as written to demo_spans.tsv."""
    return "start\tend\tkind\n" + "".join(f"{s}\t{e}\t{k}\n" for s, e, k in spans)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the files are current")
    args = parser.parse_args()
    text, spans = build(SOURCE.read_text(encoding="utf-8"))
    table = spans_tsv(spans)
    if args.check:
        current = (TEXT.is_file() and TEXT.read_text(encoding="utf-8") == text
                   and SPANS.is_file() and SPANS.read_text(encoding="utf-8") == table)
        print("demo files are current" if current else "demo files are OUT OF DATE")
        return 0 if current else 1
    TEXT.write_text(text, encoding="utf-8")
    SPANS.write_text(table, encoding="utf-8")
    print(f"wrote {TEXT} ({len(text)} characters) and {SPANS} ({len(spans)} spans)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
