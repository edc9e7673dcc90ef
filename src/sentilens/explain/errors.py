"""Errors for bad explanation requests; each is a ValueError whose message names the bad value."""

from __future__ import annotations

from sentilens.utils.errors import SentilensError


class ClassIndexError(SentilensError, ValueError):
    """A target class index outside ``0 .. num_classes - 1``."""


class RankError(SentilensError, ValueError):
    """A number of NMF neuron groups below 1."""


class AscentSizeError(SentilensError, ValueError):
    """An activation-maximisation canvas too small for the backbone to reach a block."""


def check_class_index(index: int, num_classes: int) -> int:
    """Return ``index`` if it names one of ``num_classes`` classes, else raise :class:`ClassIndexError`."""
    if not 0 <= index < num_classes:
        raise ClassIndexError(f"class index {index} is out of range; valid: 0..{num_classes - 1}")
    return index


def check_rank(rank: int) -> int:
    """Return ``rank`` if at least 1 (one neuron group), else raise :class:`RankError`."""
    if rank < 1:
        raise RankError(f"the number of neuron groups r must be at least 1, got {rank}")
    return rank
