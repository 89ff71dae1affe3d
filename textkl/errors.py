"""Domain errors. The CLI turns every ``TextklError`` into one line on stderr and exit code 1."""

from __future__ import annotations


class TextklError(Exception):
    """Base class of every error textkl reports to a user."""


class ModelFileError(TextklError):
    """A model file is missing, truncated, corrupt or not a textkl checkpoint."""


class InputError(TextklError):
    """An input text or file cannot be used (empty, binary, invalid UTF-8, ...)."""


class CorpusError(TextklError):
    """A corpus cannot be found, downloaded or verified."""
