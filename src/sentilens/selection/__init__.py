"""Choosing the blocks that get auxiliary heads: per-tap evidence, a ranking, a suggested set,
the browser report (``sentilens inspect``) in which a person makes the choice, and the probe's
choice from a set of training images (which nested cross-validation in
:mod:`sentilens.evaluation.nested` repeats inside each training fold)."""

from sentilens.selection.choice import choose_taps, probe_ranking, select_blocks
from sentilens.selection.evidence import (
    Ranking,
    SelectionError,
    TapEvidence,
    TapFeatures,
    evidence_features,
    fit_probe,
    probe_accuracy,
    rank_taps,
    selection_config,
    separation_score,
)
from sentilens.selection.sampling import per_class_sample, stratified_subset

__all__ = [
    "fit_probe",
    "Ranking",
    "SelectionError",
    "TapEvidence",
    "TapFeatures",
    "choose_taps",
    "evidence_features",
    "per_class_sample",
    "probe_accuracy",
    "probe_ranking",
    "rank_taps",
    "select_blocks",
    "selection_config",
    "separation_score",
    "stratified_subset",
]
