"""The HTML report: marks tile the text, escaping, legend, colours, and a real headless Chromium."""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.browser import ActionChains, By, WebDriverWait, chromium, console_errors, file_url
from textkl.report import (
    BOOK_COLOUR,
    HEAT_COLOURS,
    REGION_COLOURS,
    TEXT_COLOUR,
    UNLABELLED_COLOUR,
    band_runs,
    contrast_ratio,
    downsample,
    heat_runs,
    region_colour,
    render_report,
    summarize_regions,
)

BOOK = ("The boat left the harbour before the light came up, and the men at the oars said "
        "nothing for a long while. ")
FOREIGN = "Le marin regardait la mer grise et pensait à la maison qu'il avait quittée. "
TRICKY = "Then <script>alert('x')</script> & <b>bold</b>\r\nline \U0001F40B whale. "


@dataclass(frozen=True)
class FakeSegment:
    start: int
    end: int
    label: int
    in_distribution: bool
    mean_kl: float


@dataclass(frozen=True)
class FakeScores:
    kl: np.ndarray


class FakeCalibration:
    quantiles = {30: list(np.linspace(0.001, 0.2, 1001))}

    def threshold(self, q: float, window: int = 1) -> float:
        return float(np.interp(q, np.linspace(0, 1, 1001), self.quantiles[window]))

    def summary(self) -> str:
        return "book held-out: mean KL 0.0100 nats, q99 0.1980 nats"


class FakePair:
    meta = {"books": ["/somewhere/corpora/moby_dick.txt"]}
    calibration = FakeCalibration()

    def describe(self) -> str:
        return "lstm x2 (d=64) trained on moby_dick.txt"


def make_inputs(parts: list[tuple[str, int]], seed: int = 0):
    """Text, scores and segments from (piece, label) parts; label 0 is book-like, low KL."""
    rng = np.random.default_rng(seed)
    text, segs, kls = "", [], []
    for piece, label in parts:
        base = 0.01 if label == 0 else 0.5 * label
        kl = (base * rng.lognormal(0.0, 0.5, len(piece))).astype(np.float32)
        segs.append(FakeSegment(len(text), len(text) + len(piece), label, label == 0,
                                float(kl.mean())))
        text += piece
        kls.append(kl)
    kl = np.concatenate(kls)
    kl[0] = np.nan
    return text, FakeScores(kl), segs


class _Marks(HTMLParser):
    """Collects each <mark>'s attributes and the text inside it (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.marks: list[dict] = []
        self.depth = 0
        self.legend_shares: list[float] = []
        self._in_share = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "mark":
            self.marks.append({**a, "text": ""})
            self.depth += 1
        if tag == "td" and a.get("class") == "share":
            self._in_share = True

    def handle_endtag(self, tag):
        if tag == "mark":
            self.depth -= 1
        if tag == "td":
            self._in_share = False

    def handle_data(self, data):
        if self.depth:
            self.marks[-1]["text"] += data
        if self._in_share:
            self.legend_shares.append(float(data.rstrip("%")))


def parse(page: str) -> _Marks:
    p = _Marks()
    p.feed(page)
    return p


@pytest.fixture(scope="module")
def sample():
    parts = [(BOOK * 3, 0), (FOREIGN * 2, 1), (TRICKY, 2), (BOOK * 2, 0), (FOREIGN, 1),
             (BOOK, 0)]
    text, scores, segs = make_inputs(parts)
    return text, scores, segs, render_report(text, scores, segs, FakePair())


def test_marks_tile_the_text(sample):
    text, _, segs, page = sample
    marks = parse(page).marks
    assert len(marks) == len(segs)
    assert [(int(m["data-s"]), int(m["data-e"])) for m in marks] == [(s.start, s.end)
                                                                     for s in segs]
    assert "".join(m["text"] for m in marks) == text
    for m, s in zip(marks, segs, strict=True):
        assert m["class"] == f"r{s.label}"


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=300), st.lists(st.integers(1, 299), max_size=8),
       st.integers(0, 2**32 - 1))
def test_marks_tile_any_text(text, cuts, seed):
    bounds = sorted({0, len(text), *(c for c in cuts if c < len(text))})
    segs = [FakeSegment(a, b, i % 3, i % 3 == 0, 0.1) for i, (a, b) in
            enumerate(zip(bounds, bounds[1:]))]
    kl = np.random.default_rng(seed).lognormal(-3, 1, len(text)).astype(np.float32)
    page = render_report(text, FakeScores(kl), segs, None, min_run=3)
    marks = parse(page).marks
    assert [(int(m["data-s"]), int(m["data-e"])) for m in marks] == list(zip(bounds, bounds[1:]))
    assert "".join(m["text"] for m in marks) == text.replace("\0", "\ufffd")


def test_text_is_escaped(sample):
    _, _, _, page = sample
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page \
        or "&lt;script&gt;alert('x')&lt;/script&gt;" in page
    assert "&lt;b&gt;bold" in page and "&amp; " in page
    assert "&#13;\n" in page  # CR survives the HTML parser, so offsets stay aligned


def test_header_names_model_book_and_calibration(sample):
    page = sample[3]
    assert "lstm x2 (d=64) trained on moby_dick.txt" in page
    assert '<dd id="book">moby_dick.txt</dd>' in page
    assert "q99 0.1980 nats" in page


def test_legend_shares_sum_to_100(sample):
    text, scores, segs, page = sample
    shares = parse(page).legend_shares
    assert len(shares) == 3
    assert sum(shares) == pytest.approx(100.0, abs=1e-9)
    rows = summarize_regions(scores.kl, segs)
    assert [r.label for r in rows] == [0, 1, 2]
    assert sum(r.n_chars for r in rows) == len(text)
    book = rows[0]
    assert book.mean_kl < rows[1].mean_kl < rows[2].mean_kl
    assert book.mean_kl_bits == pytest.approx(book.mean_kl / math.log(2))
    assert f"{book.mean_kl:.4f}" in page and f"{book.mean_kl_bits:.4f}" in page


@pytest.mark.parametrize("counts", [[1, 1, 1], [2, 2, 3, 993], [333, 333, 334], [7]])
def test_shares_round_to_exactly_100(counts):
    segs, pos = [], 0
    for i, c in enumerate(counts):
        segs.append(FakeSegment(pos, pos + c, i, i == 0, 0.0))
        pos += c
    rows = summarize_regions(np.zeros(pos), segs)
    assert round(sum(r.share for r in rows), 6) == 100.0


@pytest.mark.parametrize("colour", [BOOK_COLOUR, UNLABELLED_COLOUR, *REGION_COLOURS,
                                    *HEAT_COLOURS])
def test_text_contrast_on_every_colour(colour):
    assert contrast_ratio(TEXT_COLOUR, colour) >= 4.5


def test_contrast_ratio_reference_values():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    with pytest.raises(ValueError, match="#rrggbb"):
        contrast_ratio("red", "#ffffff")


def test_region_colours_are_distinct_and_readable():
    labels = range(-1, 60)
    colours = [region_colour(k) for k in labels]
    assert len(set(colours)) == len(colours)
    assert min(contrast_ratio(TEXT_COLOUR, c) for c in colours) >= 4.5


def test_heat_runs_absorb_short_runs():
    bins = np.array([0] * 20 + [3] * 2 + [0] * 10 + [2] * 12 + [1] * 3)
    starts, vals = heat_runs(bins, min_run=4)
    assert starts.tolist() == [0, 32]
    assert vals.tolist() == [0, 2]


def test_downsample_is_bounded_and_keeps_peaks():
    y = np.zeros(1_000_003)
    y[500_000] = 9.0
    x, mean, lo, hi = downsample(y, 2000)
    assert len(x) == 2000 and x[0] >= 0 and x[-1] < len(y)
    assert hi.max() == 9.0 and mean.max() < 9.0 and lo.min() == 0.0


def test_chart_bands_exact_when_few_bucketed_when_many():
    few = [FakeSegment(0, 500_000, 0, True, 0.0), FakeSegment(500_000, 500_010, 1, False, 1.0),
           FakeSegment(500_010, 1_000_000, 0, True, 0.0)]
    runs = band_runs(few, 1_000_000)
    assert [r[2] for r in runs] == [0, 1, 0] and runs[0] == (0, 500_000, 0)
    assert runs[1][1] - runs[1][0] == 1000  # a 10-char span is widened to stay visible
    many, pos = [], 0
    for i in range(4000):  # 250-char periods: 60 chars foreign (24%), then book
        many += [FakeSegment(pos, pos + 60, 1 + (i // 8) % 2, False, 1.0),
                 FakeSegment(pos + 60, pos + 250, 0, True, 0.0)]
        pos += 250
    runs = band_runs(many, pos, buckets=1000)
    assert len(runs) <= 1000 and runs[0][0] == 0 and runs[-1][1] == pos
    assert all(a[1] == b[0] for a, b in zip(runs, runs[1:]))
    assert {r[2] for r in runs} == {1, 2}  # 24% foreign in every bucket: the foreign label wins


def test_bad_inputs_name_the_problem():
    text, scores, segs = make_inputs([(BOOK, 0), (FOREIGN, 1)])
    with pytest.raises(ValueError, match="tile"):
        render_report(text, scores, segs[1:], None)
    with pytest.raises(ValueError, match="scores cover"):
        render_report(text + "x", scores, segs, None)
    with pytest.raises(ValueError, match="max_points"):
        render_report(text, scores, segs, None, max_points=0)


def test_large_text_page_is_bounded():
    text, scores, segs = make_inputs([(BOOK * 900, 0), (FOREIGN * 60, 1)] * 12)
    page = render_report(text, scores, segs, None, max_points=500)
    assert len(text) > 1_000_000
    fig = re.search(r"var TEXTKL_FIG=(.*?);</script>", page, re.S).group(1)
    assert len(fig) < 100_000  # the chart does not grow with the text
    assert page.count("<span") < len(text) / 50  # heatmap runs, not one element per char
    assert "none (thresholds from the text)" in page


def test_empty_text():
    page = render_report("", FakeScores(np.zeros(0, np.float32)), [], None)
    assert "0 characters, 0 segments" in page and "<mark" not in page
    assert render_report("", None, [], FakePair()).count("<mark") == 0  # as the CLI calls it


# --- real headless Chromium -------------------------------------------------------------


def test_report_in_headless_chromium(sample, tmp_path: Path):
    text, _, segs, page = sample
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    with chromium() as d:
        d.get(file_url(path))
        WebDriverWait(d, 30).until(lambda d: d.execute_script("return window.textklReady"))
        assert console_errors(d) == []
        assert len(d.find_elements(By.CSS_SELECTOR, "#text mark")) == len(segs)
        dom_text = d.execute_script("return document.getElementById('text').textContent")
        assert dom_text == text  # code points, CR and the emoji survive the round trip
        assert d.find_elements(By.CSS_SELECTOR, "#chart svg.main-svg")
        assert d.find_elements(By.CSS_SELECTOR, "#chart .scatterlayer .trace")

        mark = d.find_element(By.CSS_SELECTOR, "mark.r1")
        bg = mark.value_of_css_property("background-color")
        assert bg not in ("rgba(0, 0, 0, 0)", "transparent")
        d.find_element(By.ID, "heat-toggle").click()
        assert "heat" in d.find_element(By.ID, "text").get_attribute("class")
        assert mark.value_of_css_property("background-color") == "rgba(0, 0, 0, 0)"
        hot = d.find_element(By.CSS_SELECTOR, "#text .h4")
        assert hot.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"
        assert d.find_element(By.ID, "heat-legend").is_displayed()
        d.find_element(By.ID, "heat-toggle").click()
        assert mark.value_of_css_property("background-color") == bg

        target = segs[2].start + 5  # inside the TRICKY piece
        d.execute_script(
            "var c=document.getElementById('chart');"
            "c.emit('plotly_click',{points:[{x:arguments[0]}]});", target)
        selected = d.execute_script("return window.getSelection().toString()")
        assert text[target:].replace("\r", "").startswith(selected.replace("\r", "")[:10])
        assert d.find_element(By.ID, "text").get_attribute("data-jumped") == str(target)
        assert console_errors(d) == []

        empty = tmp_path / "empty.html"
        empty.write_text(render_report("", None, [], FakePair()), encoding="utf-8")
        d.get(file_url(empty))
        WebDriverWait(d, 30).until(lambda d: d.execute_script("return window.textklReady"))
        assert console_errors(d) == []


def test_chart_click_scrolls_the_text(tmp_path: Path):
    text, scores, segs = make_inputs([(BOOK * 40, 0), (FOREIGN * 20, 1), (BOOK * 40, 0)])
    path = tmp_path / "long.html"
    path.write_text(render_report(text, scores, segs, FakePair()), encoding="utf-8")
    with chromium() as d:
        d.get(file_url(path))
        WebDriverWait(d, 60).until(lambda d: d.execute_script("return window.textklReady"))
        box = d.find_element(By.ID, "text")
        assert d.execute_script("return arguments[0].scrollTop", box) == 0
        drag = d.find_element(By.CSS_SELECTOR, "#chart .nsewdrag")
        w = drag.size["width"]
        ActionChains(d).move_to_element_with_offset(drag, int(w * 0.3), 0).click().perform()
        WebDriverWait(d, 5).until(lambda d: box.get_attribute("data-jumped"))
        off = int(box.get_attribute("data-jumped"))
        assert len(text) * 0.65 < off < len(text) * 0.95  # 30% right of the centre
        assert d.execute_script("return arguments[0].scrollTop", box) > 0

        d.execute_script("window.getSelection().removeAllRanges()")
        mark = d.find_element(By.CSS_SELECTOR, "mark.r1")
        d.execute_script("arguments[0].scrollIntoView({block:'center'})", mark)
        ActionChains(d).move_to_element(mark).click().perform()  # text -> cursor on the chart
        WebDriverWait(d, 5).until(lambda d: box.get_attribute("data-cursor"))
        cursor = int(box.get_attribute("data-cursor"))
        assert segs[1].start <= cursor <= segs[1].end
        shapes = d.execute_script("return document.getElementById('chart').layout.shapes")
        assert shapes[-1]["x0"] == cursor
        assert console_errors(d) == []


def test_report_of_a_trained_pair(tiny_pair):
    from tests import texts

    text = texts.english(1500, seed=7) + "\n\n" + texts.french(600, seed=7) + "\n\n" \
        + texts.english(800, seed=8)
    scores = tiny_pair.score(text, features=True)
    segs = tiny_pair.segment(text, scores=scores)
    page = render_report(text, scores, segs, tiny_pair)
    marks = parse(page).marks
    assert "".join(m["text"] for m in marks) == text
    assert html.escape(tiny_pair.describe(), quote=False) in page
    assert html.escape(tiny_pair.calibration.summary(), quote=False) in page
    assert "book q99.5" in page  # heat bins at the book's quantiles
    shares = parse(page).legend_shares
    assert len(shares) == len({s.label for s in segs}) and sum(shares) == pytest.approx(100)


def test_one_megabyte_report_opens_in_chromium(tmp_path: Path):
    """Opens and renders; how fast is measured by scripts/bench_report.py, not here."""
    text, scores, segs = make_inputs([(BOOK * 900, 0), (FOREIGN * 60, 1)] * 12)
    path = tmp_path / "big.html"
    path.write_text(render_report(text, scores, segs, FakePair()), encoding="utf-8")
    assert path.stat().st_size < 9_000_000  # plotly.js (4.8 MB) + 1.5-2x the text
    with chromium() as d:
        d.get(file_url(path))
        WebDriverWait(d, 120).until(lambda d: d.execute_script("return window.textklReady"))
        assert console_errors(d) == []
        assert d.execute_script("return document.querySelectorAll('#text mark').length") == 24
        n_points = d.execute_script("return TEXTKL_FIG.data.slice(-1)[0].x.length")
        assert n_points <= 3000


def test_legend_describes_each_region(sample):
    *_, page = sample
    cells = re.findall(r'<td class="terms">(.*?)</td>', page)
    assert len(cells) == len(parse(page).legend_shares) == 3
    assert "the" in cells[0].split("; ")[0].split(", ")  # region 0: the English
    assert "la" in cells[1].split("; ")[0].split(", ")  # region 1: the French
    assert "<script>" not in cells[2]  # escaped like the rest of the page
