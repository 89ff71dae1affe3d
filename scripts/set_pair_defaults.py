#!/usr/bin/env python
"""Store settings chosen for an embedded pair (a span finder's, or the filter's ``screen``)
in its file and its record.

``Pair.defaults(finder)`` reads them back; ``segment``, ``filter`` and the report use them
whenever the finder is named rather than built. The weights, vocabulary and calibration
are left as they are (the scores do not change).

    python scripts/set_pair_defaults.py english decode level=0.85 --why "bench_registers dev"
    python scripts/set_pair_defaults.py english decode --clear
    python scripts/set_pair_defaults.py english screen keep=0.8 reject=0.65 min_words=5

Writes ``textkl/data/pairs/<name>.pt`` and ``<name>.json`` in place.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_value(v: str):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(v.lower(), v)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pair", help="embedded pair name, e.g. english")
    ap.add_argument("finder", help="finder name, e.g. decode, or screen")
    ap.add_argument("settings", nargs="*", metavar="KEY=VALUE")
    ap.add_argument("--clear", action="store_true", help="remove the stored settings")
    ap.add_argument("--why", default="", help="where the settings were chosen (kept in the record)")
    args = ap.parse_args(argv)

    import textkl
    from textkl.filter import Screen
    from textkl.finders import make_finder

    folder = ROOT / "textkl" / "data" / "pairs"
    pt, rec_path = folder / f"{args.pair}.pt", folder / f"{args.pair}.json"
    settings = {k: parse_value(v) for k, v in (s.split("=", 1) for s in args.settings)}
    if args.finder == "screen":  # the filter's screen (textkl.filter.Screen)
        Screen(**settings)
    else:
        make_finder(args.finder, **settings)  # unknown names or bad values fail here
    pair = textkl.load(str(pt))
    chosen = dict(pair.meta.get("defaults", {}))
    if args.clear:
        chosen.pop(args.finder, None)
    else:
        chosen[args.finder] = settings
    pair.meta["defaults"] = chosen
    pair.save(pt)
    record = json.loads(rec_path.read_text(encoding="utf-8"))
    record["defaults"] = chosen
    if args.why:
        record.setdefault("defaults_chosen_on", {})[args.finder] = args.why
    rec_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"{args.pair}: {json.dumps(chosen)} -> {pt.relative_to(ROOT)}, "
          f"{rec_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
