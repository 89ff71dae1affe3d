"""The ``textkl`` command line: a thin layer over the library.

Each command parses options, makes one library call and writes the result. Heavy imports
(torch, plotly) happen inside the commands so that ``--help`` is instant.

Errors: a ``TextklError`` (bad input, a bad model file, a setting out of range) becomes one
line on stderr and exit code 1; Ctrl-C exits 130 with one line; a closed output pipe
(``textkl score big.txt --tsv - | head``) exits quietly. Any other exception is a bug in
textkl: its traceback is shown, with a line saying so, and the exit code is 2.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DEVICE = click.option("--device", default="auto", show_default=True,
                      help="auto (CUDA if available), cpu or cuda.")
MODEL = click.option("-m", "--model", "model_path", default=None, metavar="PAIR",
                     help="An embedded pair by name (textkl models lists them), or a model "
                          "file or directory (default: the embedded english pair).")
BUG = ("textkl: internal error: this is a bug in textkl, not a problem with your input; "
       "please report it with the command line and the traceback above")


def progress_options(fn):
    """``--progress/--no-progress`` (default: a bar only when stderr is a terminal) and
    ``-q``, kept as a hidden alias of ``--no-progress``."""
    fn = click.option("-q", "--quiet", is_flag=True, hidden=True,
                      help="Same as --no-progress.")(fn)
    return click.option("--progress/--no-progress", default=None,
                        help="Show a progress bar on stderr [default: only when stderr is a "
                             "terminal].")(fn)


def precision_options(fn):
    """``--precision fp32|bf16|int8|auto``, and ``--bf16`` as a hidden alias of
    ``--precision bf16``."""
    fn = click.option("--bf16", is_flag=True, hidden=True, help="Same as --precision bf16.")(fn)
    return click.option("--precision", type=click.Choice(["fp32", "bf16", "int8", "auto"]),
                        default="auto", show_default=True,
                        help="Precision of the models' matmuls (statistics stay float32). "
                             "bf16 falls back to fp32, with a notice, where the CPU's LSTM "
                             "kernel has no bfloat16 path (no AVX-512-BF16 or AMX); int8 "
                             "(dynamic quantisation, CPU only) moves the KL by about a "
                             "tenth; auto is bf16 on a CPU with AMX (measured faster "
                             "there), else fp32.")(fn)


def _progress(progress: bool | None, quiet: bool) -> bool:
    from .io import show_progress

    return False if quiet else show_progress(progress)


def _dtype(precision: str, bf16: bool, device: str):
    from .pair import resolve_device
    from .score import precision_dtype

    return precision_dtype("bf16" if bf16 else precision, resolve_device(device))


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"textkl: error: {message}", err=True)
    sys.exit(code)


def _quiet_pipe() -> None:
    """The reader of stdout went away: point stdout at /dev/null so that Python's own
    flush at exit does not print a second error, then exit quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (e.g. under a test runner)
        pass
    sys.exit(0)


class _Cli(click.Group):
    """The command group; runs every command under one error policy (see the module doc)."""

    def invoke(self, ctx: click.Context):
        from .errors import TextklError

        _log_notices()
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except TextklError as e:
            _fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:
            _quiet_pipe()
        except MemoryError:
            _fail("out of memory; try a smaller --batch-size or a smaller input")
        except OSError as e:  # the file system said no: a full disk, an unwritable path
            where = f"{e.filename}: " if e.filename else ""
            _fail(f"{where}{e.strerror or e}")
        except Exception:
            traceback.print_exc()
            click.echo(BUG, err=True)
            sys.exit(2)


def _log_notices() -> None:
    """The library's notices (``logging`` name ``textkl``) go to stderr as one line each."""
    log = logging.getLogger("textkl")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("textkl: note: %(message)s"))
        log.addHandler(handler)
        log.propagate = False


def load_pair(model_path: str | None, device: str):
    import gc

    from .pair import load, resolve_device

    pair = load(model_path, device=resolve_device(device))
    # torch, the model and every module live until exit: the cyclic garbage collector need
    # not walk them again each time the pipeline's allocations wake it
    gc.freeze()
    return pair



def fit_options(fn):
    """``--fit`` (a pair fitted on the input itself), ``--minutes`` and ``--no-cache``."""
    fn = click.option("--no-cache", is_flag=True,
                      help="With --fit: refit even when a fit of this text is cached.")(fn)
    fn = click.option("--minutes", type=click.FloatRange(min=0, min_open=True), default=None,
                      help="With --fit: wall-clock budget of the fit (default: a fixed number "
                           "of steps, see textkl.fit).")(fn)
    return click.option("--fit", "fit_self", is_flag=True,
                        help="Fit a pair on the input itself (no reference book; at least "
                             "50,000 characters; see textkl.fit) instead of loading one. "
                             "Cached in $TEXTKL_CACHE/fits.")(fn)


def _check_fit(fit_self: bool, model_path: str | None, minutes: float | None, no_cache: bool,
               src: str) -> None:
    """One-line errors for option combinations that make no sense, before any work."""
    from .errors import SettingError

    if fit_self and model_path is not None:
        raise SettingError("--fit and -m/--model are mutually exclusive: --fit fits a pair "
                           "on the input itself")
    if not fit_self and (minutes is not None or no_cache):
        raise SettingError("--minutes and --no-cache go with --fit")
    if fit_self and src == "-":
        raise SettingError("--fit reads the input twice (fit, then this command): give a "
                           "file, not -")


def fit_or_load(text: str | None, model_path: str | None, fit_self: bool,
                minutes: float | None, no_cache: bool, device: str, progress: bool):
    """The pair a command uses: fitted on ``text`` with ``--fit``, else loaded."""
    if not fit_self:
        return load_pair(model_path, device)
    import textkl

    return textkl.fit(text or "", minutes=minutes, device=device, progress=progress,
                      cache=not no_cache)

@click.group(cls=_Cli, context_settings=CONTEXT)
@click.version_option(package_name="textkl")
def cli() -> None:
    """textkl: find where a text stops looking like one book.

    Two character LMs trained together on one book agree on text like it and disagree
    elsewhere; their per-character KL divergence (self-KL, in nats) is the signal.
    """


@cli.command(context_settings=CONTEXT)
@click.argument("books", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("-o", "--out", required=True, type=click.Path(),
              help="Output model file (.pt) or directory (gets pair.pt).")
@click.option("--arch", type=click.Choice(["lstm", "transformer"]), default="lstm",
              show_default=True)
@click.option("--models", "n_models", type=click.IntRange(min=2), default=2, show_default=True,
              help="Number of models trained together (M).")
@click.option("--d-model", type=click.IntRange(min=8), default=None,
              help="Hidden size (LSTM) or width (transformer).")
@click.option("--layers", type=click.IntRange(min=1), default=None)
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Training steps (default 3000 unless --minutes is given).")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Wall-clock budget; stops at whichever of --steps/--minutes comes first.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Peak learning rate (default 2e-2 for an LSTM, 3e-3 for a transformer).")
@click.option("--same-init", is_flag=True, help="All models start identical (the control).")
@click.option("--seed", type=int, default=0, show_default=True)
@DEVICE
@progress_options
def train(books, out, arch, n_models, d_model, layers, steps, minutes, batch_size, lr,
          same_init, seed, device, progress, quiet):
    """Train a pair of character LMs jointly on BOOKS and save it to OUT.

    Project Gutenberg headers and footers are stripped. The last 5% of the text is held
    out for validation, early stopping and calibration.

    \b
    Example:
      textkl train moby_dick.txt -o runs/moby --minutes 10
    """
    import textkl

    pair = textkl.train(list(books), arch=arch, models=n_models, d_model=d_model,
                        layers=layers, steps=steps, minutes=minutes, batch_size=batch_size,
                        lr=lr, same_init=same_init, seed=seed, device=device,
                        progress=_progress(progress, quiet))
    path = pair.save(out)
    click.echo(f"saved {path}: {pair.describe()}", err=True)
    if pair.calibration:
        click.echo(pair.calibration.summary(), err=True)


@cli.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(allow_dash=True))
@MODEL
@click.option("--json", "json_out", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write {text_length, kl, nll, entropy} (null for NaN).")
@click.option("--tsv", "tsv_out", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write offset, char, kl, nll, entropy per line.")
@click.option("--npz", "npz_out", type=click.Path(dir_okay=False),
              help="Write float32 arrays kl, nll, entropy (and percentile).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Windows per forward pass.")
@fit_options
@precision_options
@DEVICE
@progress_options
def score(file, model_path, json_out, tsv_out, npz_out, batch_size, fit_self, minutes, no_cache,
          precision, bf16, device, progress, quiet):
    """Score every character of FILE (or - for stdin) against the model's book.

    Prints a summary on stderr: mean KL in nats and bits and the share of characters
    above the book's 99th percentile. Streams: memory stays bounded on large files.
    With --fit, the book is FILE itself (see `textkl segment --fit`).

    \b
    Example:
      textkl score chapter.txt --tsv scores.tsv
      textkl score long_document.txt --fit --json scores.json
    """
    from .io import check_readable, read_text
    from .outputs import score_file

    _check_fit(fit_self, model_path, minutes, no_cache, file)
    check_readable(file)
    text = read_text(file) if fit_self else None
    pair = fit_or_load(text, model_path, fit_self, minutes, no_cache, device,
                       _progress(progress, quiet))
    summary = score_file(pair, file, json_out=json_out, tsv_out=tsv_out, npz_out=npz_out,
                         batch_size=batch_size, dtype=_dtype(precision, bf16, device),
                         progress=_progress(progress, quiet))
    click.echo(summary, err=True)


def _clusters_option(value: str) -> int | str | None:
    if value in ("auto", "none"):
        return None if value == "none" else value
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise click.BadParameter(f"expected a positive integer, 'auto' or 'none', got {value!r}")


def _finder_names() -> list[str]:
    from .finders import FINDERS  # numpy only: --help stays instant

    return sorted(FINDERS)


@cli.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(allow_dash=True))
@MODEL
@click.option("--json", "json_out", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write {text_length, segments: [{start, end, label, in_distribution, "
                   "mean_kl}], regions: [{label, chars, share, segments, mean_kl, words, "
                   "ngrams}]}.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write a self-contained HTML report (textkl.report).")
@click.option("--clusters", default="auto", show_default=True, metavar="K|auto|none",
              callback=lambda _c, _p, v: _clusters_option(v),
              help="Number of foreign regions, auto (Ward merging against a split-half null "
                   "cost, see textkl.regions), or none (no region step: foreign is region 1).")
@click.option("--finder", "--method", "finder", type=click.Choice(_finder_names()),
              default="decode", show_default=True,
              help="Span finder: word-level two-state decoding, hysteresis on the smoothed "
                   "KL, or kernel change points (see textkl.finders).")
@click.option("--styles", is_flag=True,
              help="Keep styles of one language apart (Shakespeare, a dictionary, code): "
                   "leave out the learned language directions, which group a language's "
                   "genres into one region (RegionConfig(ngram_projection=0)).")
@click.option("--seed", type=int, default=0, show_default=True, help="Clustering seed.")
@click.option("--chunk-chars", type=click.IntRange(min=10_000), default=1_000_000,
              show_default=True,
              help="A longer input is read, scored and split chunk by chunk (bounded "
                   "memory) and its regions clustered once over all chunks (textkl.chunked); "
                   "--html and --fit hold the whole text.")
@fit_options
@precision_options
@DEVICE
@progress_options
def segment(file, model_path, json_out, html_out, clusters, finder, styles, seed, chunk_chars,
            fit_self, minutes, no_cache, precision, bf16, device, progress, quiet):
    """Cut FILE (or - for stdin) into book-like and foreign spans grouped into regions.

    Region 0 is the book-like text; regions 1..K are foreign spans clustered without labels
    (languages, styles). Prints a summary on stderr: spans, and each region's share of
    the text and mean KL.

    With --fit there is no reference book: a pair is fitted on FILE itself (twice: the
    second time without what the first found foreign), so what does not belong in the
    document stands out. The fit is cached by the text's hash: running again is instant.

    \b
    Example:
      textkl segment mixed.txt --json segments.json --html report.html
      textkl segment novel_with_insertions.txt --fit --json segments.json
    """
    _check_fit(fit_self, model_path, minutes, no_cache, "")
    if styles and clusters is not None:
        from .regions import RegionConfig

        clusters = RegionConfig(clusters=clusters, seed=seed, ngram_projection=0.0)
    if fit_self or html_out:
        _segment_whole(file, model_path, json_out, html_out, clusters, finder, seed, fit_self,
                       minutes, no_cache, _dtype(precision, bf16, device), device,
                       _progress(progress, quiet))
    else:
        _segment_chunked(file, model_path, json_out, clusters, finder, seed, chunk_chars,
                         _dtype(precision, bf16, device), device, _progress(progress, quiet))


def _segment_whole(file, model_path, json_out, html_out, clusters, finder, seed, fit_self,
                   minutes, no_cache, dtype, device, progress) -> None:
    """``segment`` with the whole text in memory: what --fit and --html need."""
    from .io import read_text
    from .regions import region_terms
    from .segment import region_config, segment_text, wants_features

    text = read_text(file)
    pair = fit_or_load(text, model_path, fit_self, minutes, no_cache, device, progress)
    scores = pair.score(text, features=wants_features(region_config(clusters, seed)),
                        dtype=dtype, progress=progress) if text else None
    segs = segment_text(pair, text, finder=finder, regions=clusters, scores=scores, seed=seed)
    page = None
    if html_out:
        from .report import render_report  # imported only when asked: plotly is slow to load

        page = render_report(text, scores, segs, pair)  # before any output is written
    if json_out:
        _write_segments(json_out, len(text), segs, lambda: region_terms(text, segs))
    if page is not None:
        from .io import atomic_write

        with atomic_write(html_out) as f:
            f.write(page)
    click.echo(_segment_summary(len(text), segs), err=True)


def _segment_chunked(file, model_path, json_out, clusters, finder, seed, chunk_chars, dtype,
                     device, progress) -> None:
    """``segment`` chunk by chunk (``textkl.chunked``): bounded memory on any length."""
    import os

    from tqdm.auto import tqdm

    from .chunked import file_terms, readable_twice, segment_chunks
    from .io import check_readable, iter_text

    check_readable(file)
    pair = load_pair(model_path, device)
    with readable_twice(file) as path:
        size = os.path.getsize(path)
        with tqdm(total=size, unit="B", unit_scale=True, desc="segment",
                  disable=not progress) as bar:
            segs, n, _ = segment_chunks(
                pair, iter_text(path), finder=finder, regions=clusters, seed=seed,
                dtype=dtype, chunk_chars=chunk_chars,
                on_chunk=(lambda c: bar.update(len(c.encode("utf-8", "replace"))))
                if progress else None)
        if json_out:
            _write_segments(json_out, n, segs, lambda: file_terms(path, segs, chunk_chars))
    click.echo(_segment_summary(n, segs), err=True)


def _write_segments(json_out: str, n: int, segs, terms) -> None:
    import json

    from .io import atomic_write
    from .outputs import segment_document

    doc = segment_document(n, segs, terms())
    with atomic_write(json_out) as f:
        json.dump(doc, f)
        f.write("\n")


def _segment_summary(n: int, segs) -> str:
    """Spans count, then one line per region: share of the text and mean KL in nats."""
    lines = [f"{n} characters, {len(segs)} spans, "
             f"{len({s.label for s in segs})} regions (0 = book-like)"]
    for label in sorted({s.label for s in segs}):
        mine = [s for s in segs if s.label == label]
        share = sum(s.end - s.start for s in mine)
        kl = [(s.mean_kl, s.end - s.start) for s in mine if s.mean_kl == s.mean_kl]
        mean = sum(m * w for m, w in kl) / max(sum(w for _, w in kl), 1)
        lines.append(f"  region {label}: {len(mine)} spans, {share / max(n, 1):.1%} of the "
                     f"text, mean KL {mean:.4f} nats")
    return "\n".join(lines)


@cli.command(context_settings=CONTEXT)
@click.option("-o", "--out", default="demo.html", show_default=True,
              type=click.Path(dir_okay=False), help="Where to write the HTML report.")
@MODEL
@DEVICE
def demo(out, model_path, device):
    """Segment the demo text shipped with textkl and write its HTML report.

    The demo text (written for the project) is a French narrative with English passages,
    a few lines of German, a dictionary entry and a Python snippet. Nothing to train and
    nothing to download: the embedded default pair (`english`) does the work.

    \b
    Example:
      textkl demo -o demo.html && xdg-open demo.html
    """
    from importlib import resources
    from pathlib import Path

    from .io import atomic_write
    from .report import render_report
    from .segment import segment_text

    text = (resources.files("textkl") / "data" / "demo.txt").read_text(encoding="utf-8")
    pair = load_pair(model_path, device)
    scores = pair.score(text)
    segs = segment_text(pair, text, scores=scores)
    page = render_report(text, scores, segs, pair, title="textkl demo")
    with atomic_write(out) as f:
        f.write(page)
    click.echo(f"model: {pair.describe()}")
    for s in segs:
        kind = "book-like" if s.in_distribution else "foreign  "
        preview = " ".join(text[s.start : s.end].split())
        preview = preview if len(preview) <= 60 else preview[:57] + "..."
        click.echo(f"  [{s.start:5d}, {s.end:5d})  region {s.label}  {kind}  "
                   f"KL {s.mean_kl:.3f}  {preview}")
    click.echo(_segment_summary(len(text), segs))
    click.echo(f"report: {Path(out).resolve()}")


@cli.group(context_settings=CONTEXT)
def corpus() -> None:
    """Public-domain books: list the catalogue, fetch a text.

    Texts are downloaded from Project Gutenberg into a cache ($TEXTKL_CACHE/corpora or
    ~/.cache/textkl/corpora), or read from a local mirror directory ($TEXTKL_CORPORA or
    --mirror) holding NAME.txt files.
    """


@corpus.command("list", context_settings=CONTEXT)
@click.option("--mirror", type=click.Path(file_okay=False), default=None,
              help="Mirror directory to look in (default: $TEXTKL_CORPORA).")
def corpus_list(mirror):
    """List the known books and where their texts are.

    Columns: name, language, role, Gutenberg id, LOCAL, title. LOCAL is "cached"
    (fetched already), "mirror" (in the mirror directory) or "-".

    \b
    Example:
      textkl corpus list
    """
    from .corpora import catalogue, local_status

    books = catalogue()
    rows = [("NAME", "LANG", "ROLE", "PG", "LOCAL", "TITLE")]
    rows += [(b.name, b.language, b.role, str(b.pg_id or "-"), local_status(b, mirror=mirror),
              b.title) for b in books]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5])


@corpus.command("fetch", context_settings=CONTEXT)
@click.argument("name")
@click.option("--mirror", type=click.Path(exists=True, file_okay=False), default=None,
              help="Read NAME.txt from this directory instead of the network "
                   "(default: $TEXTKL_CORPORA).")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Download into this directory (default: $TEXTKL_CACHE/corpora or "
                   "~/.cache/textkl/corpora).")
@click.option("--url", default=None, help="Download from this URL instead of Project Gutenberg.")
@click.option("--sha256", default=None, help="Expected sha256 of the cleaned text.")
@click.option("--no-verify", is_flag=True, help="Skip the checksum checks.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the path.")
def corpus_fetch(name, mirror, cache_dir, url, sha256, no_verify, quiet):
    """Fetch the book NAME, clean it and print the path of its text.

    NAME is a catalogue name (see `textkl corpus list`), a Gutenberg id or a unique part
    of a name.

    The text is checked (checksum when the catalogue has one, else UTF-8 and non-empty),
    stripped of the Project Gutenberg header and licence, and written atomically. The
    path goes to stdout, progress to stderr.

    \b
    Example:
      textkl corpus fetch en_novel_moby_dick
      textkl train "$(textkl corpus fetch moby -q)" -o runs/moby
    """
    from .corpora import fetch

    log = None if quiet else (lambda msg: click.echo(msg, err=True))
    path = fetch(name, mirror=mirror, cache_dir=cache_dir, url=url, sha256=sha256,
                 verify=not no_verify, log=log)
    click.echo(str(path))


@cli.command("filter", context_settings=CONTEXT)
@click.argument("src", metavar="IN", type=click.Path(allow_dash=True))
@click.option("--keep", required=True, type=click.Path(dir_okay=False),
              help="JSONL of kept documents (.gz / .zst compress).")
@click.option("--reject", required=True, type=click.Path(dir_okay=False),
              help="JSONL of rejected documents and bad lines, each with its reason.")
@click.option("--field", default="text", show_default=True, help="JSON field holding the text.")
@click.option("--max-mean-kl", type=click.FloatRange(min=0), default=None, metavar="NATS",
              help="Reject documents whose mean self-KL is above NATS.")
@click.option("--max-foreign-share", type=click.FloatRange(0, 1), default=0.5,
              show_default=True, metavar="F", help="Reject documents with more than F of their "
              "non-space characters in foreign spans, as segment marks them (1: rule off).")
@click.option("--max-ood-share", type=click.FloatRange(0, 1), default=None, metavar="F",
              help="Also reject documents with more than F of their characters out of "
              "distribution (30-char mean KL above the book's 99th percentile; KL only).")
@click.option("--min-length", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="N", help="Reject texts shorter than N characters (--extract: drop spans).")
@click.option("--screen/--no-screen", default=None,
              help="Decide first by the pair's word list where it leaves no doubt (english: "
                   ">= 5 words, <= 60 % known: reject, reason known_words; >= 25 words, >= "
                   "75 % known: keep) and score only the rest; those documents get "
                   "known_words and no KL scores. Default: on for a pair that stores its "
                   "thresholds (english, english-large) unless --max-mean-kl, "
                   "--max-ood-share or --extract is given; --no-screen scores every document.")
@click.option("--extract", is_flag=True,
              help="Keep each document's in-distribution spans (offsets + text) instead.")
@MODEL
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Windows per forward pass (shared between documents).")
@fit_options
@precision_options
@DEVICE
@progress_options
def filter_cmd(src, keep, reject, field, max_mean_kl, max_foreign_share, max_ood_share, min_length,
               screen, extract, model_path, batch_size, fit_self, minutes, no_cache, precision,
               bf16, device, progress, quiet):
    """Split the JSONL documents of IN (or - for stdin) into --keep and --reject.

    Every input line lands in exactly one output. Each document gains a "textkl" field:
    n_chars, mean_kl (nats), ood_share (share of characters whose centred 30-char mean KL
    is above the book's 99th percentile of such means), percentile (of mean_kl vs the book),
    foreign_share (share of non-space characters that segment marks foreign) and, when
    rejected, the reason: foreign_share, mean_kl, ood_share, too_short, empty_text,
    unscored, missing_field, not_a_string, known_words (by the screen; with a screen every
    document carries known_words and screened, and the screened ones null scores) or
    no_in_distribution_span (with --extract; the spans kept are those segment finds
    book-like). Lines that are not JSON objects (malformed_json, not_an_object,
    blank_line, invalid_utf8) are rejected as {"textkl": {reason, line, detail}, "raw":
    LINE}. Files ending in .gz or .zst are (de)compressed. Prints a summary: kept,
    rejected by reason, docs/s.

    \b
    Example:
      textkl filter docs.jsonl.gz --keep clean.jsonl.gz --reject out.jsonl --max-foreign-share 0.2
      textkl filter books.jsonl --keep english.jsonl --reject rest.jsonl --extract --min-length 200
      textkl filter corpus.jsonl --fit --keep clean.jsonl --reject odd.jsonl

    With --fit, the pair is fitted on the corpus itself (the --field texts of IN joined,
    at least 50,000 characters) and cleans that corpus: what is unlike most of it goes.
    """
    from .errors import SettingError
    from .filter import AUTO, PAIR, Rules, Screen, filter_jsonl
    from .io import check_readable
    from .selffit import corpus_text

    _check_fit(fit_self, model_path, minutes, no_cache, src)
    check_readable(src)
    rules = Rules(max_mean_kl=max_mean_kl, max_ood_share=max_ood_share, min_length=min_length,
                  max_foreign_share=max_foreign_share,
                  screen={None: AUTO, True: PAIR, False: None}[screen])
    if screen and extract:
        raise SettingError("--screen decides whole documents; it cannot be combined with "
                           "--extract")
    if screen and fit_self:
        raise SettingError("--screen reads the pair's word list, which --fit takes from the "
                           "corpus itself (every word would be known); use one or the other")
    text = corpus_text(src, field) if fit_self else None
    pair = fit_or_load(text, model_path, fit_self, minutes, no_cache, device,
                       _progress(progress, quiet))
    if screen and Screen.for_pair(pair) is None:
        click.echo("textkl: warning: no --screen thresholds were chosen for this pair; "
                   "using the english pair's (keep at >= 75 % known words, reject at "
                   "<= 60 %), which lose English with a pair that read one book", err=True)
    summary = filter_jsonl(pair, src, keep, reject, field=field, rules=rules, extract=extract,
                           batch_size=batch_size, dtype=_dtype(precision, bf16, device),
                           progress=_progress(progress, quiet))
    click.echo(summary.line(), err=True)


@cli.command("models", context_settings=CONTEXT)
def models_cmd():
    """List the pairs shipped with textkl, each usable as -m NAME.

    Per pair (* marks the default): training text, validation loss in nats per character,
    size; its sources (by register, for a multi-source corpus); the calibration on the
    book's held-out text; the span-finder settings chosen for it.

    \b
    Example:
      textkl models
      textkl segment mixed.txt -m moby-dick
    """
    from .pair import ALIASES, embedded_pairs

    for p in embedded_pairs():
        rec = p.record
        val = rec.get("val_loss_nats_per_char", "?")
        size = len(p.path.read_bytes()) / 2**20
        cfg = rec.get("model_config", {})
        arch = (f"{cfg.get('arch', '?')} x{cfg.get('n_models', '?')} d={cfg.get('d_model', '?')}"
                if cfg else "")
        click.echo(f"{'*' if p.default else ' '} {p.name:13s} trained on {rec.get('book', '?')}; "
                   f"{arch}; val loss {val} nats/char; {size:.1f} MiB")
        aliases = sorted(a for a, target in ALIASES.items() if target == p.name)
        if aliases:
            click.echo(f"  also loads as: {', '.join(aliases)} (a former name)")
        sources = [x for x in rec.get("sources") or [] if x.get("role", "train") == "train"]
        if sources:
            regs = ", ".join(f"{k} {v / 1e6:.1f}M" for k, v in
                             sorted(rec.get("registers_chars", {}).items(), key=lambda kv: -kv[1]))
            click.echo(f"  {len(sources)} training sources ({regs} chars); "
                       f"corpus sha256 {rec.get('corpus_sha256', '?')[:12]}")
        if rec.get("calibration_summary"):
            click.echo(f"  {rec['calibration_summary']}")
        if rec.get("defaults"):
            click.echo("  settings: " + "; ".join(
                f"{k} " + ", ".join(f"{a}={b}" for a, b in v.items())
                for k, v in rec["defaults"].items()))


if __name__ == "__main__":  # pragma: no cover
    cli()
