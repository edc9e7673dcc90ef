"""Choosing the blocks that get auxiliary heads: per-block evidence, a ranking, a suggested set,
the browser report (``sentilens inspect``) in which a person makes the choice, and the probe's
choice from a set of training images (which nested cross-validation in
:mod:`sentilens.evaluation.nested` repeats inside each training fold).

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.selection.choice import choose_blocks, probe_ranking, select_blocks
    from sentilens.selection.evidence import (
        BlockEvidence,
        BlockFeatures,
        LinearProbe,
        Ranking,
        SelectionError,
        evidence_features,
        fit_probe,
        probe_accuracy,
        rank_blocks,
        selection_config,
        separation_score,
    )
    from sentilens.selection.sampling import per_class_sample, stratified_subset

__all__ = [
    "fit_probe",
    "Ranking",
    "SelectionError",
    "BlockEvidence",
    "BlockFeatures",
    "LinearProbe",
    "choose_blocks",
    "evidence_features",
    "per_class_sample",
    "probe_accuracy",
    "probe_ranking",
    "rank_blocks",
    "select_blocks",
    "selection_config",
    "separation_score",
    "stratified_subset",
]

lazy_face(__name__)
