"""The base of every expected failure: bad input, missing data or weights, a damaged file.

The command line catches :class:`SentilensError` in one place and prints its message on one line
(exit status 2); anything else is a bug and keeps its traceback.  Subclasses also derive from the
built-in exception a caller would expect (``ValueError``, ``FileNotFoundError``, ...), so library
users can catch either.
"""

from __future__ import annotations


class SentilensError(Exception):
    """An expected failure whose message tells the user what to change."""


class InvalidArgumentError(SentilensError, ValueError):
    """A setting or argument outside its allowed values; the message names the bad value."""


class InputNotFoundError(SentilensError, FileNotFoundError):
    """An input file or folder (or a package's data folder) that does not exist."""
