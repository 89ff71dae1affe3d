#!/usr/bin/env python
"""Learn how much each hashed n-gram bucket of the region profiles tells languages apart.

The region step compares whole pieces by the Hellinger distance between their character
unigram and bigram profiles (``textkl.regions.span_profiles``, 2,048 hashed buckets).
Unweighted, that distance separates genres of one language (a novel, a manual) about as
well as it separates languages. This script measures, for every bucket, the variance of its
value between languages and within a language (across the paragraphs of all of that
language's sources, so genre counts as within), and stores their ratio

    w = between / (within + median(within)),   rescaled so that sum(w * within) = sum(within)

(1 for the buckets that no paragraph filled, such as the letters of other scripts: no
evidence, so the plain distance) as ``textkl/data/ngram_weights.npy`` (float32, 2,048) with
a record of every source in ``ngram_weights.json``. ``RegionConfig.ngram_weighting`` (a)
blends it with the plain distance: bucket j counts ``(1 - a) + a * w[j]``; the rescaling
keeps the distance between pieces of one language on the scale of the unweighted one, so
the stop rule's settings keep their meaning.

The weights look at one bucket at a time. The same paragraphs also give a projection that
looks at them together: the 18 directions along which the 19 languages' mean profiles
differ most for the spread of paragraphs within a language (linear discriminant analysis,
the within-language covariance shrunk by 0.1 toward its mean variance), scaled so that two
paragraphs of one language lie as far apart along them, on average, as in the weighted
profiles. It is stored as ``textkl/data/ngram_projection.npz`` (float32): ``directions``
(2,048 x 18), ``means`` (each language's mean paragraph along them, 19 x 18) and ``spread``
(the mean squared distance of a paragraph from its language's mean, averaged over the
languages). ``RegionConfig.ngram_projection`` (b) appends a piece's coordinates along them
to its profile, the profile counting ``1 - b`` and the coordinates ``b`` of the squared
distance, where the text's pieces lie near the means of these languages (``known_distance``).

Sources: the development sources of ``scripts/bench_regions.py`` only (never its test
sources, nor anything kept for independent evaluation), and Debian's man pages in eleven
further Latin-script languages (``EXTRA``), so that the weights are not only the contrasts
between the benchmark's eight languages. A source's paragraphs (``PER_SOURCE``, 100-700
characters, drawn as bench_regions draws them) weigh equally within its language; languages
weigh equally. Deterministic (``--seed``); downloads are cached as bench_regions caches them.

    python scripts/learn_ngram_weights.py            # about 1 minute once the packages are cached
    python scripts/learn_ngram_weights.py --languages en,fr,de,es --out runs/w4/ngram_weights
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_regions as br  # noqa: E402

EXTRA = ("cs", "da", "fi", "hu", "id", "nb", "pl", "ro", "sv", "tr", "vi")
PER_SOURCE = 300
BUCKETS = 2048
OUT = ROOT / "textkl" / "data" / "ngram_weights"
DIMS = 18  # the projection's directions: all that 19 languages' means span
SHRINK = 0.1


def extra_source(lang: str, manifest: dict) -> tuple[br.Source, list[str | None]]:
    """Man pages in ``lang``: prose-like units with fewer than two English function words
    (translated man pages keep some paragraphs in English)."""
    src = br.Source(lang, f"manpages-{lang}", "dev", "technical", "roff", f"manpages-{lang}",
                    br.MAN)
    return src, br.source_units(src, manifest, foreign=_english)


def _english(unit: str, lang: str) -> bool:
    """At least two English function words (``bench_regions.STOPWORDS`` has none of the
    extra languages' own)."""
    return br.language_hits(unit, "en")[0] >= 2


def draw_extra(units: list[str | None], rng: random.Random, lo: int, hi: int) -> str:
    """Consecutive good units cut to ``lo..hi`` characters at a word end."""
    for _ in range(2000):
        i, target, got = rng.randrange(len(units)), rng.randint(lo, hi), ""
        while i < len(units) and units[i] is not None and len(got) < target:
            got = f"{got} {units[i]}" if got else units[i]
            i += 1
        if len(got) > hi:
            got = got[:max(got.rfind(" ", lo, hi + 1), 0)]
        if len(got) >= lo:
            return got
    raise SystemExit("too few paragraphs in an extra source")


def learn(pools: dict, per_source: int, seed: int
          ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Between-language and within-language variance of each bucket (float64 (BUCKETS,)),
    and every language's paragraph profiles (float64 (n, BUCKETS))."""
    from textkl.regions import char_profiles

    rng = random.Random(seed)
    means, within, profiles = [], [], {}
    for lang in sorted(pools):
        rows = []
        for src, units in pools[lang]:
            got = []
            for _ in range(per_source):
                lo, hi = rng.choice(list(br.LENGTHS.values()))
                text = (br.draw_paragraph(units, rng, lo, hi, src) if lang in br.LANGS
                        else draw_extra(units, rng, lo, hi))
                got.append(char_profiles(text, np.zeros(1, np.int64), BUCKETS)[0])
            rows.append(np.array(got))
        mean = np.mean([r.mean(0) for r in rows], 0)  # sources weigh equally
        means.append(mean)
        within.append(np.mean([((r - mean) ** 2).mean(0) for r in rows], 0))
        profiles[lang] = np.concatenate(rows)
    return np.array(means).var(0), np.array(within).mean(0), profiles


def learn_projection(profiles: dict[str, np.ndarray], scale: np.ndarray, dims: int,
                     shrink: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The directions that best tell the languages apart (linear discriminant analysis of
    the paragraph profiles: the top generalised eigenvectors of the between-language
    scatter against the within-language one, shrunk by ``shrink`` toward its mean
    variance), float64 (BUCKETS, dims), scaled so that the mean squared distance between two
    paragraphs of one language equals that of the profiles weighted by ``scale``; each
    language's mean along them (float64 (languages, dims), languages sorted); and the mean
    squared distance of a paragraph from its language's mean along them."""
    from scipy.linalg import eigh

    langs = sorted(profiles)
    means = np.array([profiles[lang].mean(0) for lang in langs])
    within = sum(np.cov(profiles[lang].T, bias=True) for lang in langs) / len(langs)
    within = (1 - shrink) * within + shrink * np.trace(within) / len(within) * np.eye(len(within))
    _, vectors = eigh(np.cov(means.T, bias=True), within)
    v = vectors[:, ::-1][:, :dims]

    def spread(f) -> float:  # mean squared distance between two paragraphs of one language
        return float(np.mean([2 * f(profiles[lang]).var(0).sum() for lang in langs]))

    v *= np.sqrt(spread(lambda x: x * scale) / spread(lambda x: x @ v))
    return v, means @ v, spread(lambda x: x @ v) / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-source", type=int, default=PER_SOURCE)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--no-extra", action="store_true", help="the benchmark's languages only")
    ap.add_argument("--languages", default=None, metavar="L1,L2",
                    help="learn from these languages only (to measure languages never seen)")
    ap.add_argument("--out", type=Path, default=OUT, help="path without suffix")
    ap.add_argument("--dims", type=int, default=DIMS, help="directions of the projection")
    ap.add_argument("--shrink", type=float, default=SHRINK,
                    help="shrinkage of the within-language covariance")
    args = ap.parse_args()
    manifest: dict = {}
    pools: dict = {}
    for src in br.SOURCES:
        if src.split == "dev":
            pools.setdefault(src.lang, []).append((src, br.source_units(src, manifest)))
    if not args.no_extra:
        for lang in EXTRA:
            pools[lang] = [extra_source(lang, manifest)]
    if args.languages:
        pools = {k: v for k, v in pools.items() if k in args.languages.split(",")}
    between, within, profiles = learn(pools, args.per_source, args.seed)
    w = between / (within + np.median(within[within > 0]))
    w *= within.sum() / (w * within).sum()
    w[within == 0] = 1.0  # a bucket no language filled (other scripts): the plain distance
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out.with_suffix(".npy"), w.astype(np.float32), allow_pickle=False)
    from textkl.regions import RegionConfig

    a = RegionConfig().ngram_weighting  # the projection keeps the default weighted scale
    directions, means, spread = learn_projection(profiles, np.sqrt((1 - a) + a * w),
                                                 args.dims, args.shrink)
    proj_path = args.out.with_name(args.out.name.replace("weights", "projection") + ".npz")
    with proj_path.open("wb") as f:  # no timestamps in the archive: same inputs, same bytes
        np.savez(f, directions=directions.astype(np.float32), means=means.astype(np.float32),
                 spread=np.float32(spread))
    sources = [{"language": lang, "source": src.name, "genre": src.genre,
                **({"file": f"{src.where}.txt", "sha256": br._sha256(
                    br.corpora_dir() / f"{src.where}.txt")} if src.kind == "corpus"
                   else {"package": src.where, **manifest.get(src.where, {})})}
               for lang in sorted(pools) for src, _ in pools[lang]]
    record = {"what": "per-bucket weights of the region profiles, and the projection onto the "
                      "directions that tell languages apart (scripts/learn_ngram_weights.py)",
              "buckets": BUCKETS, "per_source": args.per_source, "seed": args.seed,
              "projection": {"file": proj_path.name, "dims": args.dims, "shrink": args.shrink,
                             "languages": sorted(pools), "spread": round(spread, 6),
                             "sha256": hashlib.sha256(proj_path.read_bytes()).hexdigest()},
              "languages": sorted(pools), "sources": sources,
              "sha256": hashlib.sha256(args.out.with_suffix(".npy").read_bytes()).hexdigest()}
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    top = np.argsort(w)[::-1]
    print(f"{len(pools)} languages, {len(sources)} sources; weights: median "
          f"{np.median(w):.2f}, max {w.max():.1f}, buckets above 1: {(w > 1).sum()}; "
          f"top unigram buckets {[int(j) for j in top if j < BUCKETS // 2][:8]}")
    print(f"wrote {args.out.with_suffix('.npy')}, {proj_path} and .json")


if __name__ == "__main__":
    main()
