"""Self-contained HTML report: the text marked by region, a KL heatmap and a chart.

``render_report`` returns one HTML page that works offline (plotly.js is inlined): a header
naming the model, its book and calibration; a legend with each region's share of the text
and mean KL; a plotly chart of the smoothed self-KL along the text (downsampled to a bounded
number of points) with the segments as coloured bands, where a click scrolls the text to
that offset; and the text with one ``<mark>`` per segment. A toggle swaps the region colours
for a heatmap of the smoothed KL, drawn as runs of a few colour bins inside the marks.

Everything here is numpy, plotly (for its bundled JavaScript and JSON encoder) and ``html``:
no torch, and no I/O beyond plotly reading its own bundled plotly.min.js and this module
reading its page template and script (``textkl/data/report.html``, ``report.js``).
"""

from __future__ import annotations

import colorsys
import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SettingError
from .numerics import KL_FLOOR, centred_mean
from .regions import RegionTerms, region_terms

if TYPE_CHECKING:
    from .score import Scores

TEXT_COLOUR = "#1b1b1b"
BOOK_COLOUR = "#e6ebef"  # label 0: the book-like region stays quiet
UNLABELLED_COLOUR = "#d4d4d4"  # negative labels (noise / unassigned)
REGION_COLOURS = ("#ffc98b", "#a9c8ff", "#b8f0a8", "#ffb3b3", "#d2c4ff", "#fff09a",
                  "#9fe8ee", "#ffc4ee", "#d9d0b0", "#c9e6d0")
HEAT_COLOURS = ("#ffffff", "#fff1a8", "#ffd166", "#f6a05a", "#e8765a")  # bin 0 = no colour
HEAT_LEVELS = (0.75, 0.95, 0.995, 1.0)  # book quantiles that separate the heat bins
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class RegionSummary:
    """One row of the legend.

    Attributes:
        label: region label (0 = book-like).
        name: display name.
        colour: background colour, ``#rrggbb``.
        n_chars: characters of the text in the region.
        share: percent of the text, rounded to 0.1 so that the rows sum to exactly 100.
        n_segments: segments in the region.
        mean_kl: mean self-KL over the region's scored characters, nats (NaN if none).
    """

    label: int
    name: str
    colour: str
    n_chars: int
    share: float
    n_segments: int
    mean_kl: float

    @property
    def mean_kl_bits(self) -> float:
        return self.mean_kl / math.log(2)


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour, in [0, 1]."""
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        raise SettingError(f"colour must be #rrggbb, got {colour!r}")
    rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio (1..21) between two ``#rrggbb`` colours."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def region_colour(label: int) -> str:
    """Background colour of a region: label 0 is the book, 1..10 a palette, then light hues."""
    if label == 0:
        return BOOK_COLOUR
    if label < 0:
        return UNLABELLED_COLOUR
    if label <= len(REGION_COLOURS):
        return REGION_COLOURS[label - 1]
    hue = (label * 137.508) % 360 / 360  # golden angle: neighbours differ, light enough to read
    return "#" + "".join(f"{round(c * 255):02x}" for c in colorsys.hls_to_rgb(hue, 0.84, 0.75))


def region_name(label: int) -> str:
    return "book-like" if label == 0 else ("unassigned" if label < 0 else f"region {label}")


def _round_shares(counts: Sequence[int], total: int) -> list[float]:
    """Percentages at 0.1 resolution that sum to exactly 100 (largest remainder)."""
    tenths = [c * 1000 / total for c in counts]
    floors = [math.floor(t) for t in tenths]
    order = sorted(range(len(counts)), key=lambda i: floors[i] - tenths[i])
    for i in order[:1000 - sum(floors)]:
        floors[i] += 1
    return [f / 10 for f in floors]


def summarize_regions(kl: np.ndarray, segments: Sequence[Any]) -> list[RegionSummary]:
    """Legend rows, sorted by label, from per-character KL (N,) and tiling segments."""
    v = np.asarray(kl, dtype=np.float64)
    ok = ~np.isnan(v)
    csum = np.concatenate(([0.0], np.cumsum(np.where(ok, v, 0.0))))
    ccnt = np.concatenate(([0], np.cumsum(ok)))
    acc: dict[int, list[float]] = {}  # label -> [chars, segments, kl sum, kl count]
    for s in segments:
        a = acc.setdefault(int(s.label), [0, 0, 0.0, 0])
        a[0] += s.end - s.start
        a[1] += 1
        a[2] += csum[s.end] - csum[s.start]
        a[3] += ccnt[s.end] - ccnt[s.start]
    labels = sorted(acc)
    shares = _round_shares([int(acc[k][0]) for k in labels], max(len(v), 1))
    return [RegionSummary(k, region_name(k), region_colour(k), int(acc[k][0]), share,
                          int(acc[k][1]), acc[k][2] / acc[k][3] if acc[k][3] else math.nan)
            for k, share in zip(labels, shares, strict=True)]


def _check_inputs(text: str, kl: np.ndarray, segments: Sequence[Any]) -> None:
    if len(kl) != len(text):
        raise SettingError(f"scores cover {len(kl)} characters, the text has {len(text)}")
    pos = 0
    for s in segments:
        if s.start != pos or s.end <= s.start:
            raise SettingError(f"segments must tile the text: got [{s.start}, {s.end}) at {pos}")
        pos = s.end
    if pos != len(text):
        raise SettingError(f"segments end at {pos}, the text has {len(text)} characters")


def heat_edges(smoothed: np.ndarray, calibration: Any, window: int) -> np.ndarray:
    """Four increasing bin edges in nats: the book's quantiles when calibrated, else the text's."""
    if calibration is not None and window in getattr(calibration, "quantiles", {}):
        edges = np.array([calibration.threshold(q, window) for q in HEAT_LEVELS])
    else:
        finite = smoothed[np.isfinite(smoothed)]
        edges = np.quantile(finite, (0.5, 0.75, 0.9, 0.97)) if len(finite) else np.zeros(4)
    return np.maximum.accumulate(edges)


def heat_runs(bins: np.ndarray, min_run: int) -> tuple[np.ndarray, np.ndarray]:
    """Run-length encode heat bins (N,), absorbing runs shorter than ``min_run`` into the last.

    Returns:
        starts int64 (R,), values int64 (R,); adjacent runs differ in value.
    """
    if len(bins) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cuts = np.flatnonzero(bins[1:] != bins[:-1]) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(bins)]))
    out_s: list[int] = []
    out_v: list[int] = []
    for s, e, b in zip(starts.tolist(), ends.tolist(), bins[starts].tolist(), strict=True):
        if out_s and (e - s < min_run or b == out_v[-1]):
            continue
        out_s.append(s)
        out_v.append(b)
    return np.asarray(out_s, np.int64), np.asarray(out_v, np.int64)


def downsample(y: np.ndarray, max_points: int) -> tuple[np.ndarray, ...]:
    """Bucket a signal (N,) into at most ``max_points`` buckets.

    Returns:
        x (centre offsets), mean, min, max: float64 (P,) each, P <= max_points.
    """
    n = len(y)
    k = max(1, min(n, max_points))
    edges = np.linspace(0, n, k + 1).round().astype(np.int64)
    edges = np.unique(edges)
    ok = np.isfinite(y)
    filled = np.where(ok, y, 0.0)
    sums = np.add.reduceat(filled, edges[:-1])
    cnts = np.add.reduceat(ok.astype(np.int64), edges[:-1])
    lo = np.minimum.reduceat(np.where(ok, y, np.inf), edges[:-1])
    hi = np.maximum.reduceat(np.where(ok, y, -np.inf), edges[:-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnts > 0, sums / np.maximum(cnts, 1), np.nan)
    x = (edges[:-1] + edges[1:] - 1) / 2
    return x, mean, np.where(cnts > 0, lo, np.nan), np.where(cnts > 0, hi, np.nan)


def _escape(s: str) -> str:
    # CR and NUL would be rewritten by the HTML parser and shift every later offset
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("\r", "&#13;").replace("\0", "\ufffd")


def _text_html(text: str, segments: Sequence[Any], starts: np.ndarray, vals: np.ndarray) -> str:
    parts: list[str] = []
    j = 0
    for seg in segments:
        label = int(seg.label)
        status = "in distribution" if seg.in_distribution else "out of distribution"
        title = (f"{region_name(label)}, {status}: [{seg.start}, {seg.end}), "
                 f"mean KL {float(seg.mean_kl):.4f} nats")
        parts.append(f'<mark class="r{label}" data-s="{seg.start}" data-e="{seg.end}" '
                     f'title="{html.escape(title)}">')
        while j + 1 < len(starts) and starts[j + 1] <= seg.start:
            j += 1
        pos = seg.start
        while pos < seg.end:
            nxt = min(seg.end, int(starts[j + 1]) if j + 1 < len(starts) else seg.end)
            piece = _escape(text[pos:nxt])
            parts.append(f'<span class="h{vals[j]}">{piece}</span>' if vals[j] else piece)
            pos = nxt
            if pos < seg.end:
                j += 1
        parts.append("</mark>")
    return "".join(parts)


def _round_list(a: np.ndarray, digits: int = 5) -> list[float | None]:
    return [None if not math.isfinite(v) else round(v, digits) for v in a.tolist()]


def band_runs(segments: Sequence[Any], n: int, max_bands: int = 300,
               buckets: int = 1000) -> list[tuple[int, int, int]]:
    """Chart bands ``(start, end, label)``: the segments when few, else a bucketed summary.

    Few bands are drawn exactly, each at least ``n / buckets`` wide so that it stays visible.
    Past ``max_bands`` the text is cut into ``buckets`` equal buckets, each labelled by the
    largest non-book label where the non-book labels together cover 20% of it, else 0.
    """
    merged: list[list[int]] = []  # [start, end, label], adjacent equal labels joined
    for s in segments:
        if merged and merged[-1][2] == int(s.label):
            merged[-1][1] = s.end
        else:
            merged.append([s.start, s.end, int(s.label)])
    width = n / buckets
    if len(merged) <= max_bands:
        out = []
        for s, e, label in merged:
            mid = (s + e) / 2
            if e - s < width:
                s, e = round(max(0, mid - width / 2)), round(min(n, mid + width / 2))
            out.append((s, e, label))
        return out
    edges = np.linspace(0, n, buckets + 1)
    weight: dict[int, np.ndarray] = {}
    for s, e, label in merged:  # characters of each label per bucket, by overlap
        w = weight.setdefault(label, np.zeros(buckets))
        w += np.clip(np.minimum(edges[1:], e) - np.maximum(edges[:-1], s), 0, None)
    book = weight.pop(0, np.zeros(buckets))
    if weight:
        labels = np.asarray(sorted(weight))
        other = np.stack([weight[k] for k in labels])  # (L, buckets)
        best = np.where(4 * other.sum(0) > book, labels[other.argmax(0)], 0)
    else:
        best = np.zeros(buckets, np.int64)
    cuts = np.flatnonzero(best[1:] != best[:-1]) + 1
    starts, ends = np.concatenate(([0], cuts)), np.concatenate((cuts, [buckets]))
    return [(round(edges[a]), round(edges[b]), int(best[a])) for a, b in zip(starts, ends,
                                                                             strict=True)]


def _band_traces(segments: Sequence[Any], n: int, bottom: float, top: float) -> list[dict]:
    """One filled trace per region: a rectangle per band, None-separated."""
    bands: dict[int, tuple[list, list]] = {}
    for s, e, label in band_runs(segments, n):
        bx, by = bands.setdefault(label, ([], []))
        bx += [s, s, e, e, s, None]
        by += [bottom, top, top, bottom, bottom, None]
    return [{"type": "scatter", "x": bx, "y": by, "fill": "toself", "mode": "lines",
             "line": {"width": 0}, "fillcolor": region_colour(k), "opacity": 0.9,
             "name": region_name(k), "hoverinfo": "skip", "showlegend": False}
            for k, (bx, by) in sorted(bands.items())]  # the page's table is their legend


def _log_axis(lo: np.ndarray, hi: np.ndarray, ref: float | None) -> tuple[float, float, dict]:
    """Bottom and top of a log y axis around the data (and the reference line), with ticks."""
    vals = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)], [ref] if ref else []])
    if not len(vals):
        vals = np.array([KL_FLOOR, 1.0])
    bottom = max(KL_FLOOR, float(vals.min()) / 1.5)
    top = max(float(vals.max()) * 1.5, bottom * 10)
    decades = range(math.floor(math.log10(bottom)), math.ceil(math.log10(top)) + 1)
    steps = (1, 2, 5) if math.log10(top / bottom) < 2.5 else (1,)
    ticks = [m * 10.0 ** e for e in decades for m in steps if bottom <= m * 10.0 ** e <= top]
    axis = {"title": {"text": "self-KL (nats)"}, "type": "log", "fixedrange": True,
            "range": [math.log10(bottom), math.log10(top)], "tickvals": ticks,
            "ticktext": [f"{t:g}" for t in ticks]}
    return bottom, top, axis


def _figure(smoothed: np.ndarray, segments: Sequence[Any], calibration: Any, window: int,
            max_points: int) -> tuple[list[dict], dict]:
    n = len(smoothed)
    x, mean, lo, hi = downsample(np.maximum(smoothed, KL_FLOOR), max_points)
    calibrated = calibration is not None and window in getattr(calibration, "quantiles", {})
    q99 = calibration.threshold(0.99, window) if calibrated else None
    bottom, top, yaxis = _log_axis(lo, hi, q99)
    xs = x.round().astype(np.int64).tolist()
    traces = _band_traces(segments, n, bottom, top)
    if len(xs) < n:  # downsampled: show each point's range of the smoothed signal
        traces += [
            {"type": "scatter", "x": xs, "y": _round_list(lo), "mode": "lines",
             "line": {"width": 0, "color": "#8a8fa0"}, "hoverinfo": "skip", "showlegend": False},
            {"type": "scatter", "x": xs, "y": _round_list(hi), "mode": "lines", "fill": "tonexty",
             "fillcolor": "rgba(60,70,110,0.22)", "line": {"width": 0, "color": "#8a8fa0"},
             "name": "min-max per point", "hoverinfo": "skip"}]
    traces += [
        {"type": "scatter", "x": xs, "y": _round_list(mean), "mode": "lines",
         "line": {"width": 1.4, "color": "#1f2a5a"}, "name": f"KL, {window}-char mean",
         "hovertemplate": "offset %{x}<br>%{y:.4f} nats<extra></extra>"}]
    shapes, notes = [], []
    if q99 is not None:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": q99, "y1": q99,
                       "line": {"dash": "dash", "width": 1, "color": "#b03a2e"}})
        notes.append({"xref": "paper", "x": 1, "y": math.log10(q99), "xanchor": "right",
                      "yanchor": "bottom", "showarrow": False, "font": {"color": "#b03a2e"},
                      "bgcolor": "rgba(255,255,255,0.75)",
                      "text": f"book q99 of {window}-char means ({q99:.3g} nats)"})
    layout = {
        "height": 300, "margin": {"l": 60, "r": 10, "t": 10, "b": 40},
        "hovermode": "x", "plot_bgcolor": "#ffffff", "paper_bgcolor": "#ffffff",
        "xaxis": {"title": {"text": "character offset"}, "range": [0, max(n, 1)],
                  "showgrid": False},
        "yaxis": yaxis, "shapes": shapes,
        "legend": {"orientation": "h", "y": -0.25, "traceorder": "normal"},
        "annotations": notes,
    }
    return traces, layout


def _describe(pair: Any) -> tuple[str, str, str]:
    if pair is None:
        return "unknown model", "unknown", "none (thresholds from the text)"
    model = pair.describe() if hasattr(pair, "describe") else str(pair)
    books = (getattr(pair, "meta", None) or {}).get("books") or []
    if isinstance(books, str):
        books = [books]
    book = ", ".join(PurePath(str(b)).name for b in books) or "unknown"
    cal = getattr(pair, "calibration", None)
    return model, book, cal.summary() if cal is not None else "none (thresholds from the text)"


def render_report(text: str, scores: Scores | None, segments: Sequence[Any], pair: Any, *,
                  title: str = "textkl report", window: int = 30, max_points: int = 3000,
                  min_run: int = 8) -> str:
    """Render the report as one self-contained HTML page.

    Args:
        text: the scored text.
        scores: its ``Scores``; only ``scores.kl`` (float (N,), nats, NaN allowed) is read.
            None is accepted for an empty text.
        segments: objects with ``start, end, label, in_distribution, mean_kl`` that tile
            ``[0, len(text))`` in order (``textkl.spans.Segment``).
        pair: the ``Pair`` that scored the text (for ``describe()``, ``meta`` and
            ``calibration``), or None.
        title: page title.
        window: smoothing window of the chart and heatmap, in characters (a calibration window
            gives heat bins at the book's quantiles).
        max_points: bound on the chart's points, whatever the text length.
        min_run: heatmap runs shorter than this many characters join the run before them.

    Returns:
        The HTML page: 4.8 MB of plotly.js plus 1.5-2x the text's UTF-8 size (marks and
        heatmap runs); the chart's data is bounded by ``max_points``.

    Raises:
        ValueError: the scores or segments do not match the text, or a bad option.
    """
    import plotly.offline
    from plotly.utils import PlotlyJSONEncoder

    for name, value in (("window", window), ("max_points", max_points), ("min_run", min_run)):
        if value < 1:
            raise SettingError(f"{name} must be >= 1, got {value}")
    kl = np.zeros(0) if scores is None and not text else np.asarray(scores.kl, np.float64)
    _check_inputs(text, kl, segments)
    text = _SURROGATES.sub("\ufffd", text)  # unencodable; same length keeps every offset
    cal = getattr(pair, "calibration", None)
    smoothed = centred_mean(kl, window) if len(kl) else kl
    edges = heat_edges(smoothed, cal, window)
    bins = np.searchsorted(edges, np.nan_to_num(smoothed, nan=0.0), side="right")
    starts, vals = heat_runs(bins, min_run)
    regions = summarize_regions(kl, segments)
    traces, layout = _figure(smoothed, segments, cal, window, max_points) if len(kl) else ([], {})
    fig_json = json.dumps({"data": traces, "layout": layout}, cls=PlotlyJSONEncoder,
                          separators=(",", ":")).replace("</", "<\\/")
    model, book, calib = _describe(pair)
    return _asset("report.html").format(
        title=html.escape(title), model=html.escape(model), book=html.escape(book),
        calib=html.escape(calib), n=len(text), n_seg=len(segments), window=window,
        css=_css(regions), legend=_legend(regions, region_terms(text, list(segments))),
        heat_legend=_heat_legend(edges, cal, window),
        text=_text_html(text, segments, starts, vals), plotly=plotly.offline.get_plotlyjs(),
        fig=fig_json, js=_asset("report.js"))


def _css(regions: list[RegionSummary]) -> str:
    rules = [f"mark.r{r.label}{{background:{r.colour}}}" for r in regions]
    rules += [f"#text.heat .h{i}{{background:{c}}}" for i, c in enumerate(HEAT_COLOURS) if i]
    return "\n".join(rules)


def _legend(regions: list[RegionSummary], terms: list[RegionTerms]) -> str:
    """Legend rows; each region's distinctive words and trigrams describe it."""
    by_label = {t.label: t for t in terms}

    def described(label: int) -> str:
        t = by_label.get(label)
        if t is None:
            return ""
        return html.escape(", ".join(t.words) + ("; " if t.words and t.ngrams else "")
                           + ", ".join(t.ngrams))

    rows = [f'<tr><td><span class="sw" style="background:{r.colour}"></span>{r.name}</td>'
            f'<td class="share">{r.share:.1f}%</td><td>{r.n_chars}</td><td>{r.n_segments}</td>'
            f"<td>{r.mean_kl:.4f}</td><td>{r.mean_kl_bits:.4f}</td>"
            f'<td class="terms">{described(r.label)}</td></tr>' for r in regions]
    return "".join(rows)


def _heat_legend(edges: np.ndarray, cal: Any, window: int) -> str:
    src = "book" if cal is not None and window in getattr(cal, "quantiles", {}) else "text"
    levels = HEAT_LEVELS if src == "book" else (0.5, 0.75, 0.9, 0.97)
    qs = [f"{src} " + ("max" if q == 1.0 else f"q{q * 100:g}") for q in levels]
    names = [f"&lt; {qs[0]} ({edges[0]:.4f})"]
    names += [f"&ge; {q} ({e:.4f})" for q, e in zip(qs, edges, strict=True)]
    return "".join(f'<span class="sw" style="background:{c}"></span>{name} '
                   for c, name in zip(HEAT_COLOURS, names, strict=True))


def _asset(name: str) -> str:
    """A template shipped in ``textkl/data`` (the page is a ``str.format`` template)."""
    return resources.files("textkl").joinpath("data", name).read_text(encoding="utf-8")
