"""Where sentilens keeps what it computes once and reuses: ``$SENTILENS_CACHE`` or ``~/.cache/sentilens``."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SENTILENS_CACHE"


def cache_root(kind: str) -> Path:
    """The cache folder for ``kind`` (``features``, ``channels``, ...): ``$SENTILENS_CACHE/<kind>``,
    else ``~/.cache/sentilens/<kind>``."""
    override = os.environ.get(CACHE_ENV)
    return (Path(override) if override else Path.home() / ".cache" / "sentilens") / kind
