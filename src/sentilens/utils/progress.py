"""Progress bars for long work (rich), quiet when output is not a terminal or when disabled."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from rich.progress import track as rich_track

T = TypeVar("T")

#: Receives one line of news for the person running a job (the CLI prints it on stderr).
Say = Callable[[str], None]


def quiet(message: str) -> None:
    """The default :data:`Say` of library calls: keep quiet."""


def progress_enabled() -> bool:
    """Bars show on a terminal unless SENTILENS_PROGRESS=0; SENTILENS_PROGRESS=1 forces them."""
    setting = os.environ.get("SENTILENS_PROGRESS")
    if setting is not None:
        return setting not in ("0", "false", "no")
    return sys.stderr.isatty()


def track(items: Iterable[T], total: int | None = None, description: str = "working") -> Iterator[T]:
    """Iterate over ``items`` with a progress bar on stderr when enabled."""
    if not progress_enabled():
        yield from items
        return
    from rich.console import Console

    yield from rich_track(items, total=total, description=description, console=Console(stderr=True), transient=True)
