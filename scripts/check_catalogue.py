"""Check the catalogue against a local corpora mirror (default ../shared/corpora).

Every catalogue entry must be in the mirror's MANIFEST.tsv with the same sha256, and every
mirror file must verify through ``textkl.corpora.fetch``. A development check, not a test:
the tests never need the corpora.

    python scripts/check_catalogue.py [--mirror DIR]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpora_dir  # noqa: E402

from textkl.corpora import catalogue, fetch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mirror", type=Path, default=None)
    mirror = ap.parse_args().mirror or corpora_dir()
    with (mirror / "MANIFEST.tsv").open(encoding="utf-8") as f:
        rows = {r["file"][:-4]: r for r in csv.DictReader(f, delimiter="\t",
                                                          quoting=csv.QUOTE_NONE)}
    bad = 0
    for b in catalogue():
        ok = b.name in rows and b.mirror_sha256 == rows[b.name]["sha256"]
        if ok:
            ok = fetch(b.name, mirror=mirror) == mirror / f"{b.name}.txt"
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} {b.name}")
    print(f"{len(catalogue()) - bad} of {len(catalogue())} entries verify against {mirror}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
