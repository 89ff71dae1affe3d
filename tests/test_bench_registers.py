"""The register benchmark's own logic, on generated text (no corpora, no downloads)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from tests import texts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import bench_registers as br  # noqa: E402


def test_grid_is_every_combination():
    got = br.grid_variants(["level=0.8,0.9", "lexicon_weight=0.35,0.5"])
    assert list(got) == ["level=0.8,lexicon_weight=0.35", "level=0.8,lexicon_weight=0.5",
                         "level=0.9,lexicon_weight=0.35", "level=0.9,lexicon_weight=0.5"]
    assert got["level=0.9,lexicon_weight=0.35"] == {"level": 0.9, "lexicon_weight": 0.35}
    assert br.grid_variants([]) == {}


def test_items_carry_their_own_language():
    assert br.own_language("Le chat est dans la maison et il dort.", "fr")
    assert not br.own_language("List of basic mail transport agent related packages "
                               "for the system and the users", "es")
    assert br.own_language("Zażółć gęślą jaźń", "pol")  # no word list: not checked


def test_draw_items_respects_lengths_and_never_crosses_a_gap():
    units = [p for p in texts.english(20_000, seed=5).split("\n\n") if p.strip()]
    units = [" ".join(u.split()) for u in units]
    gappy = [u if i % 3 else None for i, u in enumerate(units)]
    for length, (lo, hi) in br.LENGTHS.items():
        items = br.draw_items(gappy, length, 12, random.Random(1), False, "en")
        assert items and len(set(items)) == len(items)
        assert all(lo <= len(t) <= hi for t in items)
        dropped = [u for i, u in enumerate(units) if not i % 3 and len(u) > 120
                   and units.count(u) == 1]
        assert dropped
        for t in items:  # never holds a unit that failed the checks
            assert not any(u in t for u in dropped)


def test_mixed_documents_plant_the_english_where_they_say():
    fr = [s.strip() for s in texts.french(6000, seed=2).replace("\n", " ").split(".")
          if len(s.split()) > 5]
    en = [s.strip() for s in texts.english(6000, seed=2).replace("\n", " ").split(".")
          if len(s.split()) > 12]
    groups = {"fr": {"split": "dev", "lang": "fr", "register": "novel",
                     "items": {"sentence": [s + "." for s in fr]}},
              "en-a": {"split": "dev", "lang": "en", "register": "fiction",
                       "items": {"sentence": [s + "." for s in en]}},
              "en-b": {"split": "dev", "lang": "en", "register": "technical",
                       "items": {"sentence": [s + "." for s in en[::-1]]}}}
    for kind in ("sentence", "phrase"):
        docs = br.mixed_docs(groups, "dev", kind, 10, seed=0)
        assert len(docs) == 10 and {d[3] for d in docs} == {"fiction", "technical"}
        for doc, s, e, _ in docs:
            planted = doc[s:e]
            assert any(planted in x for x in groups["en-a"]["items"]["sentence"])
            assert 4 <= len(planted.split()) or kind == "sentence"


@pytest.fixture(scope="module")
def summary_results():
    """Decisions for two English registers and two languages, known by construction."""
    def group(split, lang, register, sentence):
        return {"split": split, "lang": lang, "register": register,
                "sentence": {"m": sentence}}
    return {"methods": ["m"], "splits": ["test"], "groups": {
        "a": group("test", "en", "fiction", [True, True, True, False]),
        "b": group("test", "en", "technical", [True, True]),
        "c": group("test", "fr", "novel", [False, False, True, False]),
        "d": group("test", "de", "faq", [False, False])}}


def test_summary_is_right_decisions_per_register_and_language(summary_results):
    row, = br.summary(summary_results, "test", ["m"])
    assert row["en_kept_min"] == 0.75 and row["en_worst"] == "fiction"
    assert row["en_kept_mean"] == pytest.approx((0.75 + 1.0) / 2)
    assert row["foreign_rej_min"] == 0.75 and row["foreign_worst"] == "fr"


def test_write_results_replaces_the_file_whole(tmp_path, monkeypatch):
    """A benchmark's results file is written in one step: a run that fails while building
    its JSON leaves the previous results as they were, and no partial file beside them."""
    import json

    import common

    monkeypatch.setattr(common, "ROOT", tmp_path)
    path = common.write_results("demo", {"f1": 0.5})
    assert json.loads(path.read_text()) == {"f1": 0.5}
    with pytest.raises(TypeError):
        common.write_results("demo", {"f1": 0.7, "bad": object()})
    assert json.loads(path.read_text()) == {"f1": 0.5}
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]
