"""Writers for ``textkl score``: JSON (the contract), TSV and NPZ, streamed and atomic.

Scores arrive piece by piece from ``Pair.score_stream``; every writer appends to a
temporary file, so memory stays bounded and nothing is left half-written on failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .io import atomic_write, check_readable, iter_text
from .score import Scores

FIELDS = ("kl", "nll", "entropy")
_CHUNK = 1 << 24  # bytes per copy when assembling outputs (a multiple of 4)
# float32 KL values per percentile step: its float64 temporaries (a dozen values' worth
# each) stay near 25 MB; a 16 MB chunk of KL cost 150 MB at the peak
_PCT_VALUES = 1 << 18
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _json_numbers(a: np.ndarray) -> str:
    return ",".join("null" if v != v else f"{v:.6g}" for v in a.tolist())


class _Summary:
    """Running statistics for the stderr summary."""

    def __init__(self, threshold: float | None) -> None:
        self.threshold = threshold
        self.n = self.scored = self.above = 0
        self.sum_kl = self.sum_nll = 0.0

    def add(self, s: Scores) -> None:
        ok = ~np.isnan(s.kl)
        self.n += len(s.kl)
        self.scored += int(ok.sum())
        self.sum_kl += float(s.kl[ok].sum(dtype=np.float64))
        self.sum_nll += float(s.nll[ok].sum(dtype=np.float64))
        if self.threshold is not None:
            self.above += int((s.kl[ok] > self.threshold).sum())

    def line(self) -> str:
        if self.scored == 0:
            return f"{self.n} characters: nothing to score (a text needs at least 2 characters)"
        kl = self.sum_kl / self.scored
        out = (f"{self.n:,} characters: mean KL {kl:.4f} nats ({kl / np.log(2):.4f} bits), "
               f"mean surprisal {self.sum_nll / self.scored:.3f} nats/char")
        if self.threshold is not None:
            out += (f"; {100 * self.above / self.scored:.2f}% of characters above the book's "
                    f"99th percentile ({self.threshold:.4f} nats; 1% on the book itself)")
        return out


def score_file(pair, path: str | Path, *, json_out=None, tsv_out=None, npz_out=None,
               batch_size: int | None = None, dtype=None, progress: bool = False,
               chunk_chars: int = 1 << 20) -> str:
    """Score a file (or ``-``) in bounded memory, write the requested outputs, return a summary.

    ``dtype``: autocast dtype of the models (None: float32). Nothing is written on failure.
    """
    from tqdm.auto import tqdm

    cal = pair.calibration
    summary = _Summary(cal.threshold(0.99) if cal else None)
    check_readable(path)
    total = None if str(path) == "-" else os.path.getsize(path)
    tmpdir = Path(tempfile.mkdtemp(prefix="textkl-score-"))
    try:
        files = {f: open(tmpdir / f"{f}.json", "w") for f in FIELDS} if json_out else {}  # noqa: SIM115
        tsv = open(tmpdir / "scores.tsv", "w", encoding="utf-8") if tsv_out else None  # noqa: SIM115
        if tsv:
            tsv.write("offset\tchar\tkl\tnll\tentropy\n")
        npz = {f: open(tmpdir / f"{f}.f32", "wb") for f in FIELDS} if npz_out else {}  # noqa: SIM115
        pieces: dict[int, str] = {}

        def remember(it):
            for piece in it:
                if tsv:
                    pieces[len(pieces)] = piece
                yield piece

        stream = pair.score_stream(remember(iter_text(path, chunk_chars)),
                                   batch_size=batch_size, dtype=dtype)
        text_buf = ""
        bar = tqdm(total=total, unit="char", unit_scale=True, desc="score", disable=not progress)
        with bar:
            first = True
            for offset, s in stream:
                summary.add(s)
                if len(s):
                    for f, fh in files.items():
                        fh.write(("" if first else ",") + _json_numbers(getattr(s, f)))
                    first = False
                for f, fh in npz.items():
                    fh.write(getattr(s, f).astype(np.float32).tobytes())
                if tsv:
                    while len(text_buf) < len(s) and pieces:
                        text_buf += pieces.pop(min(pieces))
                    _write_tsv(tsv, offset, text_buf[: len(s)], s)
                    text_buf = text_buf[len(s):]
                bar.update(len(s))
        for fh in (*files.values(), *npz.values(), *([tsv] if tsv else [])):
            fh.close()
        if json_out:
            with atomic_write(json_out) as out:
                out.write(f'{{"text_length": {summary.n}')
                for f in FIELDS:
                    out.write(f', "{f}": [')
                    with open(tmpdir / f"{f}.json") as src:
                        shutil.copyfileobj(src, out)
                    out.write("]")
                out.write("}\n")
        if tsv_out:
            with atomic_write(tsv_out) as out, open(tmpdir / "scores.tsv", encoding="utf-8") as src:
                shutil.copyfileobj(src, out)
        if npz_out:
            _write_npz(pair, npz_out, tmpdir, summary.n)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return summary.line()


def _write_tsv(fh, offset: int, text: str, s: Scores) -> None:
    rows = zip(range(offset, offset + len(s)), text, s.kl.tolist(), s.nll.tolist(),
               s.entropy.tolist(), strict=True)
    fh.write("".join(f"{i}\t{c.translate(_TSV_ESCAPES)}\t{k:.6g}\t{n:.6g}\t{e:.6g}\n"
                     .replace("nan", "") for i, c, k, n, e in rows))


def _write_npz(pair, npz_out, tmpdir: Path, n: int) -> None:
    """Assemble the .npz from the raw float32 files in chunks: bounded memory at any size."""
    import zipfile

    from numpy.lib import format as npf

    names = list(FIELDS)
    if pair.calibration is not None:
        with open(tmpdir / "kl.f32", "rb") as src, open(tmpdir / "percentile.f32", "wb") as dst:
            while chunk := src.read(4 * _PCT_VALUES):
                pct = pair.percentile(np.frombuffer(chunk, dtype=np.float32))
                dst.write(pct.astype(np.float32).tobytes())
        names.append("percentile")
    with atomic_write(npz_out, "wb") as out, zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for name in names:
            with zf.open(f"{name}.npy", "w", force_zip64=True) as entry, \
                    open(tmpdir / f"{name}.f32", "rb") as src:
                header = {"descr": "<f4", "fortran_order": False, "shape": (n,)}
                npf.write_array_header_1_0(entry, header)
                shutil.copyfileobj(src, entry, _CHUNK)


def segment_document(text_length: int, segments: list, terms: list) -> dict:
    """The JSON document of ``textkl segment``: the contract's ``text_length`` and
    ``segments``, and ``regions``, one entry per region label with its share of the text,
    its mean KL and its most distinctive words and character trigrams (``terms``:
    ``textkl.regions.region_terms`` or, for a file read in chunks, ``chunked.file_terms``).
    """
    def num(x: float) -> float | None:
        return None if x != x else x

    regions = []
    for t in terms:
        mine = [s for s in segments if s.label == t.label]
        n = sum(s.end - s.start for s in mine)
        scored = [(s.mean_kl, s.end - s.start) for s in mine if s.mean_kl == s.mean_kl]
        mean = (sum(m * w for m, w in scored) / sum(w for _, w in scored)) if scored else None
        regions.append({"label": t.label, "chars": n, "share": round(n / text_length, 6),
                        "segments": len(mine), "mean_kl": mean,
                        "words": list(t.words), "ngrams": list(t.ngrams)})
    return {"text_length": text_length,
            "segments": [{"start": s.start, "end": s.end, "label": s.label,
                          "in_distribution": s.in_distribution, "mean_kl": num(s.mean_kl)}
                         for s in segments],
            "regions": regions}
