"""Every file textkl reads or writes: user text, JSONL (plain, .gz, .zst) and stdin in;
atomic outputs out (a failed command leaves no partial file)."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import InputError

_SNIFF = 8192


def _name(path: str | Path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def _check_bytes(data: bytes, path: str | Path, offset: int = 0) -> str:
    if b"\x00" in data[:_SNIFF] and offset == 0:
        raise InputError(f"{_name(path)}: looks like a binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = f"byte 0x{data[e.start]:02x} at offset {offset + e.start}"
        raise InputError(f"{_name(path)}: not valid UTF-8 ({bad})") from None


def show_progress(progress: bool | None) -> bool:
    """Whether to draw a progress bar: as asked, or (``None``) only when stderr is a terminal,
    so that logs and pipelines get no carriage-return lines."""
    if progress is not None:
        return bool(progress)
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def cache_dir(name: str) -> Path:
    """textkl's cache folder ``name``: under ``$TEXTKL_CACHE``, else ``$XDG_CACHE_HOME/textkl``,
    else ``~/.cache/textkl``."""
    root = os.environ.get("TEXTKL_CACHE")
    if root:
        return Path(root).expanduser() / name
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "textkl" / name


def check_readable(path: str | Path) -> None:
    """Fail early, with one clear message, on a path that cannot be read as a file.

    Raises:
        InputError: missing file, a directory or no permission (``-``, stdin, always passes).
    """
    if str(path) == "-":
        return
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{path}: permission denied")


def read_text(path: str | Path) -> str:
    """The whole text of a UTF-8 file, or of stdin for ``-``; BOM and CRLF are kept as is.

    Raises:
        InputError: missing file, a directory, binary content or invalid UTF-8.
    """
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read()
        else:
            data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a text file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    text = _check_bytes(data, path)
    return text[1:] if text.startswith("\ufeff") else text


def iter_text(path: str | Path, chunk_chars: int = 1 << 20) -> Iterator[str]:
    """Stream a UTF-8 file (or stdin) in pieces of about ``chunk_chars`` characters."""
    check_readable(path)
    raw: IO[bytes] = sys.stdin.buffer if str(path) == "-" else open(path, "rb")  # noqa: SIM115
    offset, tail, first = 0, b"", True
    with contextlib.closing(raw) if str(path) != "-" else contextlib.nullcontext(raw):
        while True:
            block = raw.read(chunk_chars)
            data = tail + block
            if not block:
                if data:
                    yield _check_bytes(data, path, offset)
                return
            # keep an incomplete UTF-8 sequence at the end for the next block
            cut = len(data)
            for back in range(1, min(4, len(data)) + 1):
                b = data[-back]
                if b & 0xC0 != 0x80:  # a lead byte or ASCII
                    need = 1 if b < 0x80 else 2 if b >> 5 == 6 else 3 if b >> 4 == 14 else 4
                    if need > back:
                        cut = len(data) - back
                    break
            text = _check_bytes(data[:cut], path, offset if not first else 0)
            if first and text.startswith("\ufeff"):
                text = text[1:]
            first = False
            offset += cut
            tail = data[cut:]
            yield text


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Write to a temporary file beside ``path`` and move it into place only on success."""
    if str(path) == "-":
        yield sys.stdout.buffer if "b" in mode else sys.stdout
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _compression(path: str) -> str | None:
    return "gzip" if path.endswith(".gz") else "zstd" if path.endswith(".zst") else None


def _zstd():
    try:
        import zstandard
    except ImportError:
        raise InputError("reading or writing .zst needs the zstandard package: "
                         "pip install 'textkl[zstd]'") from None
    return zstandard


def iter_lines(path: str) -> Iterator[bytes]:
    """Lines (bytes, with their ends) of a JSONL file, ``.gz`` or ``.zst`` by suffix, or stdin."""
    kind = _compression(str(path))
    if kind == "zstd":
        _zstd()
    try:
        raw: IO[bytes] = sys.stdin.buffer if str(path) == "-" else open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a JSONL file") from None
    try:
        if kind == "gzip":
            stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb")
        elif kind == "zstd":
            stream = io.BufferedReader(_zstd().ZstdDecompressor().stream_reader(raw))
        else:
            stream = raw
        try:
            yield from stream
        except (OSError, EOFError) as e:  # gzip.BadGzipFile, zstd errors, truncation
            raise InputError(f"{path}: cannot decompress ({e})") from None
    finally:
        if raw is not sys.stdin.buffer:
            raw.close()


class open_output:  # noqa: N801  (used like open())
    """An atomic output file (``atomic_write``), compressed by its suffix (.gz, .zst)."""

    def __init__(self, path: str) -> None:
        self.path, self._cm = str(path), atomic_write(path, "wb")

    def __enter__(self) -> IO[bytes]:
        self._raw = self._cm.__enter__()
        kind = _compression(self.path)
        if kind == "gzip":
            self._stream = gzip.GzipFile(fileobj=self._raw, mode="wb", mtime=0)
        elif kind == "zstd":
            self._stream = _zstd().ZstdCompressor().stream_writer(self._raw, closefd=False)
        else:
            self._stream = self._raw
        return self._stream

    def __exit__(self, *exc) -> bool | None:
        if exc[0] is None and self._stream is not self._raw:
            self._stream.close()
        return self._cm.__exit__(*exc)
