"""Choosing the blocks that get auxiliary heads: per-tap evidence, a ranking, a suggested set,
and the browser report (``sentilens inspect``) in which a person makes the choice."""

from sentilens.selection.evidence import (
    Ranking,
    SelectionError,
    TapEvidence,
    TapFeatures,
    collect_tap_features,
    probe_accuracy,
    rank_taps,
    selection_config,
    separation_score,
)
from sentilens.selection.sampling import per_class_sample, stratified_subset

__all__ = [
    "Ranking",
    "SelectionError",
    "TapEvidence",
    "TapFeatures",
    "collect_tap_features",
    "per_class_sample",
    "probe_accuracy",
    "rank_taps",
    "selection_config",
    "separation_score",
    "stratified_subset",
]
