"""Choosing the blocks that get auxiliary heads: per-tap evidence, a ranking, a suggested set,
the browser report (``sentilens inspect``) in which a person makes the choice, and nested
cross-validation that makes the choice inside each training fold."""

from sentilens.selection.evidence import (
    Ranking,
    SelectionError,
    TapEvidence,
    TapFeatures,
    evidence_features,
    probe_accuracy,
    rank_taps,
    selection_config,
    separation_score,
)
from sentilens.selection.nested import NestedSettings, chosen_blocks, nested_cross_validate, select_blocks
from sentilens.selection.sampling import per_class_sample, stratified_subset

__all__ = [
    "NestedSettings",
    "chosen_blocks",
    "nested_cross_validate",
    "select_blocks",
    "Ranking",
    "SelectionError",
    "TapEvidence",
    "TapFeatures",
    "evidence_features",
    "per_class_sample",
    "probe_accuracy",
    "rank_taps",
    "selection_config",
    "separation_score",
    "stratified_subset",
]
