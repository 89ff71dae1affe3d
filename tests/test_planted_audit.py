"""The self-fit benchmark's planting generator and host audit, on text written for the test."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import bench_self_fit as b  # noqa: E402

HOST = "\n\n".join(
    f"Le jardin numero {k} etait calme. Il disait _in vino veritas_ et riait encore. "
    f"Puis il partit vers la ville sans rien dire a personne." for k in range(60))
PIECES = (["The quiet garden lay under the rain and nobody walked along its narrow paths "
           "that evening, not even the old gardener who loved it so well."],
          ["She closed the door and sat down by the fire."])


def _planted() -> b.Planted:
    return b.plant(HOST, {"en": PIECES}, 0.05, random.Random(3), gap=200)


def test_the_host_is_the_document_without_its_inserts():
    doc = _planted()
    assert doc.spans, "something was planted"
    kept = doc.from_host(np.ones(len(HOST), dtype=bool))
    assert "".join(np.array(list(doc.text))[kept]) == HOST
    for s, e, lang in doc.spans:
        assert lang == "en" and not kept[s:e].any()


def test_audited_passages_follow_the_host_through_the_planting(monkeypatch):
    monkeypatch.setitem(b.HOST_AUDIT, "test_host", [("la", "in vino veritas"),
                                                     ("en", "Il disait")])
    doc = _planted()
    english, ignore = doc.audited("test_host", HOST)
    ignored = "".join(np.array(list(doc.text))[ignore])
    assert ignored == "in vino veritas" * 60
    assert (english & ~doc.mask()).sum() == len("Il disait") * 60
    assert not (ignore & doc.mask()).any()


def test_characters_not_scored_count_for_nothing():
    text = "aaaa bbbb cccc"
    pred = np.array([c != "c" for c in text])
    true = np.array([c == "a" for c in text])
    assert b.prf(pred, true, text)["precision"] == 0.5
    ignore = np.array([c == "b" for c in text])
    assert b.prf(pred, true, text, ignore) == {"f1": 1.0, "precision": 1.0, "recall": 1.0}
