"""Domain errors: what a user can cause and fix.

The CLI turns every ``TextklError`` into one line on stderr and exit code 1. Any other
exception is a bug in textkl: the CLI shows its traceback and says so.
"""

from __future__ import annotations


class TextklError(Exception):
    """Base class of every error textkl reports to a user."""


class ModelFileError(TextklError):
    """A model file is missing, truncated, corrupt, not a textkl checkpoint, or lacks a part
    (such as the calibration) that the operation needs."""


class InputError(TextklError):
    """An input text or file cannot be used (empty, binary, invalid UTF-8, ...)."""


class SettingError(TextklError, ValueError):
    """A setting or argument is out of range or of the wrong kind.

    Also a ``ValueError``, so code that catches ``ValueError`` for bad arguments keeps working.
    """


class CorpusError(TextklError):
    """A corpus cannot be found, downloaded or verified."""
