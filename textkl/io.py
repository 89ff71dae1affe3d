"""Reading user text safely and writing outputs atomically."""

from __future__ import annotations

import contextlib
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
