"""datatrove and Ray Data paths give the same scores as the API."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from textkl.errors import SettingError
from textkl.filter import Rules, score_documents

# Prose written for these tests (not from any book).
BOOK = [
    "The miller opened the sluice at noon and the wheel began to turn with a slow groan.",
    "Flour dust hung in the light that came through the cracks of the wooden walls.",
    "His daughter carried the sacks to the cart and counted them twice before leaving.",
    "On market days the road to the town was crowded with carts, dogs and small boys.",
    "The river was low that summer, and the old men said the mill would soon stand still.",
]
OTHER = [
    "Kolme kissaa istui ikkunalaudalla ja katseli sadetta koko pitkän iltapäivän ajan.",
    "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id DESC;",
    "Ο ήλιος έδυε πίσω από τα βουνά και η θάλασσα έγινε σκοτεινή.",
]


def _book(n: int = 200, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(BOOK[i] for i in rng.integers(0, len(BOOK), n))


@pytest.fixture(scope="module")
def pair(tiny_pair):
    return tiny_pair


@pytest.fixture(scope="module")
def model_file(tiny_pair_path):
    return str(tiny_pair_path)


def _docs() -> list[str]:
    rng = np.random.default_rng(5)
    docs = [" ".join(BOOK[j] for j in rng.integers(0, len(BOOK), int(k))) for k in (1, 3, 20)]
    docs += OTHER + [BOOK[0] + " " + OTHER[0], _book(40, seed=9) + " " + OTHER[2] * 4, "ab"]
    return docs


def _expected(pair, docs, rules):
    return {i: (s, r) for i, (s, r, _) in enumerate(score_documents(pair, docs, rules))}


def _assert_same(meta: dict, score, reason, prefix="textkl_") -> None:
    assert meta[prefix + "reason"] == reason
    for k in ("mean_kl", "ood_share", "percentile"):
        want = getattr(score, k)
        got = meta[prefix + k]
        if np.isnan(want):
            assert got is None or np.isnan(got)
        else:
            assert got == pytest.approx(want, rel=1e-4, abs=1e-5)


def _read_gz_jsonl(folder) -> list[dict]:
    out = []
    for p in sorted(folder.glob("*.jsonl.gz")):
        out += [json.loads(x) for x in gzip.decompress(p.read_bytes()).splitlines()]
    return out


@pytest.mark.parametrize("workers", [pytest.param(1, id="in-process"),
                                     pytest.param(2, id="2-workers", marks=pytest.mark.slow)])
def test_datatrove_pipeline_matches_api(pair, model_file, tmp_path, workers):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from textkl.integrations.datatrove import TextklFilter

    docs = _docs()
    src = tmp_path / "in"
    src.mkdir()
    for shard in range(2):  # one file per task
        lines = [json.dumps({"id": str(i), "text": t})
                 for i, t in enumerate(docs) if i % 2 == shard]
        (src / f"part{shard}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rules = Rules(max_ood_share=0.3)
    LocalPipelineExecutor(
        [JsonlReader(str(src)),
         TextklFilter(model=model_file, max_ood_share=0.3, batch_size=3, threads=1,
                      precision="fp32",  # as _expected, on every CPU
                      exclusion_writer=JsonlWriter(str(tmp_path / "rejected"))),
         JsonlWriter(str(tmp_path / "kept"))],
        tasks=2, workers=workers, logging_dir=str(tmp_path / "logs"),
    ).run()
    kept, rejected = _read_gz_jsonl(tmp_path / "kept"), _read_gz_jsonl(tmp_path / "rejected")
    ids = sorted(int(r["id"]) for r in kept + rejected)
    assert ids == list(range(len(docs)))
    want = _expected(pair, docs, rules)
    assert {int(r["id"]) for r in kept} == {i for i, (_, r) in want.items() if r is None}
    for r in kept + rejected:
        score, reason = want[int(r["id"])]
        _assert_same(r["metadata"], score, reason)


def test_datatrove_filter_direct(pair, model_file):
    from datatrove.data import Document

    from textkl.integrations.datatrove import TextklFilter

    docs = _docs()
    f = TextklFilter(model=model_file, max_mean_kl=0.0, max_ood_share=None, batch_size=4)
    batch = [Document(text=t, id=str(i)) for i, t in enumerate(docs)]
    res = f.filter_batch(batch)
    assert all(r == (False, "mean_kl") for r in res)  # every scored text has KL > 0
    assert all(d.metadata["textkl_mean_kl"] > 0 for d in batch)


def test_datatrove_filter_precision(model_file):
    import torch

    from textkl.errors import SettingError
    from textkl.integrations.datatrove import TextklFilter
    from textkl.score import precision_dtype

    with pytest.raises(SettingError, match="precision"):
        TextklFilter(model=model_file, precision="fp64")
    auto = TextklFilter(model=model_file)  # as ``textkl filter``: the CPU decides
    assert auto.pair is not None and auto._dtype == precision_dtype("auto", auto.pair.device)
    bf16 = TextklFilter(model=model_file, precision="bf16")
    assert bf16.pair is not None and bf16._dtype == torch.bfloat16


def test_ray_map_batches_matches_api(pair, model_file):
    import ray
    import ray.data  # noqa: F401  (the extra must be installed: CI installs it)

    from textkl.integrations.ray import score_dataset

    docs = _docs() + [None]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False, ignore_reinit_error=True)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(docs)])
        rows = score_dataset(ds, model_file, batch_size=4, concurrency=1, num_cpus=0.5,
                             max_ood_share=0.3, precision="fp32").take_all()
    finally:
        ray.shutdown()
    assert sorted(r["id"] for r in rows) == list(range(len(docs)))
    want = _expected(pair, docs, Rules(max_ood_share=0.3))
    for r in rows:
        score, reason = want[r["id"]]
        if score is None:
            assert r["textkl_reason"] == reason and not r["textkl_keep"]
            continue
        meta = {**r, "textkl_reason": r["textkl_reason"] or None}
        _assert_same(meta, score, reason)
        assert r["textkl_keep"] == (reason is None)


def test_datatrove_filter_with_screen(pair, model_file):
    from datatrove.data import Document

    from tests.test_filter import _screen_docs
    from textkl.integrations.datatrove import TextklFilter

    docs = list(_screen_docs(pair).values())
    f = TextklFilter(model=model_file, screen=True, batch_size=4)
    batch = [Document(text=t, id=str(i)) for i, t in enumerate(docs)]
    res = f.filter_batch(batch)
    assert res[0] is True and res[1] == (False, "known_words")
    assert batch[0].metadata["textkl_known_words"] == 1.0
    assert batch[0].metadata["textkl_mean_kl"] is None  # decided by words, not scored
    assert batch[2].metadata["textkl_mean_kl"] > 0  # scored
    assert batch[4].metadata["textkl_mean_kl"] > 0  # 12 known words: too few to keep by words
    with pytest.raises(SettingError, match="screen must be"):
        TextklFilter(model=model_file, screen="sometimes")


def test_datatrove_filter_screens_by_default_as_the_cli():
    from datatrove.data import Document

    import textkl
    from textkl.filter import score_documents
    from textkl.integrations.datatrove import TextklFilter

    texts = ["The old house stood at the end of the lane, and every evening the children ran "
             "down to the gate to watch the carts come back from the fields before dark.",
             "Die alten Häuser standen am Ende der Straße, und jeden Abend liefen die Kinder "
             "zum Tor hinunter, um die Wagen von den Feldern zurückkommen zu sehen.",
             "He said nothing at all."]
    batch = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    res = TextklFilter(precision="fp32").filter_batch(batch)  # the embedded default pair
    api = score_documents(textkl.load(), texts, dtype=None)  # Rules(): screen "auto"
    assert [r is True for r in res] == [reason is None for _, reason, _ in api]
    assert res[0] is True and res[1] == (False, "known_words")
    assert batch[0].metadata["textkl_known_words"] > 0.9
    assert batch[0].metadata["textkl_mean_kl"] is None  # decided by words
    assert batch[2].metadata["textkl_mean_kl"] == pytest.approx(api[2][0].mean_kl, abs=1e-6)
