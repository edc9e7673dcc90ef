"""Percentile bootstrap intervals (numpy only), shared by the scorecard of a model's scores and the
faithfulness of its maps.

A statistic is computed on the whole sample (the point) and on ``resamples`` resamples of it drawn
with replacement (seeded, so a rerun gives the same interval); the interval is the pair of
percentiles of the resampled values that leaves ``(1 - level) / 2`` of them on each side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sentilens.utils.errors import InvalidArgumentError

#: Level of the intervals unless told otherwise.
INTERVAL_LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A statistic on the whole sample and its bootstrap percentile interval."""

    value: float
    low: float
    high: float

    def to_dict(self, point: str = "value") -> dict[str, float]:
        """``{point: value, "low": ..., "high": ...}``; ``point`` names the statistic (``"mean"``
        where the statistic is a mean)."""
        return {point: self.value, "low": self.low, "high": self.high}

    def apart_below(self, other: Interval) -> bool:
        """True when this whole interval lies below ``other``'s."""
        return self.high < other.low


def percentile_bounds(draws: np.ndarray, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
    """The percentile interval of the resampled values ``draws``; non-finite draws (a resample the
    statistic is undefined on) are left out, and with none left the bounds are NaN."""
    if not 0.0 < level < 1.0:
        raise InvalidArgumentError(f"the interval level must lie in (0, 1), got {level}")
    finite = np.asarray(draws, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap(
    values: Sequence[float] | np.ndarray,
    divide_by: Sequence[float] | np.ndarray | None = None,
    resamples: int = 2000,
    level: float = INTERVAL_LEVEL,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap of the mean of ``values``, or of ``mean(values) / mean(divide_by)``
    with both resampled by the same items (a paired ratio); fixed by ``seed``."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise InvalidArgumentError("bootstrap needs at least one value")
    denominator = None if divide_by is None else np.asarray(divide_by, dtype=np.float64)
    if denominator is not None and denominator.shape != data.shape:
        raise InvalidArgumentError(f"paired values differ in shape: {data.shape} and {denominator.shape}")
    picks = np.random.default_rng(seed).integers(0, data.size, size=(resamples, data.size))
    if denominator is None:
        point, samples = data.mean(), data[picks].mean(axis=1)
    else:
        point, samples = data.mean() / denominator.mean(), data[picks].mean(axis=1) / denominator[picks].mean(axis=1)
    low, high = percentile_bounds(samples, level)
    return Interval(float(point), low, high)
