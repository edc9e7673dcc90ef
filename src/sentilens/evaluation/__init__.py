"""Metrics, the fold loop with its strategies (cross-validation, the logistic baseline, nested
selection) and the tables that compare with the paper.

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.evaluation.calibration import (
        ECE_BINS,
        cross_fitted_calibration,
        expected_calibration_error,
        fit_temperature,
        out_of_fold_temperature,
        reliability_bins,
        shift_prior,
        tempered_positive,
    )
    from sentilens.evaluation.companion import WithCompanion, with_companion
    from sentilens.evaluation.crossval import (
        HeadsStrategy,
        LogisticStrategy,
        cross_validate,
        cross_validate_logistic,
        train_and_predict,
    )
    from sentilens.evaluation.experiments import (
        FoldJob,
        JobRunner,
        Sweep,
        ablation_rows,
        block_experiment,
        block_table_json,
        layer_rows,
        markdown_block_table,
        run_in_process,
    )
    from sentilens.evaluation.metrics import METRIC_NAMES, binary_metrics, summarise
    from sentilens.evaluation.nested import (
        BlockChooser,
        NestedLogisticStrategy,
        NestedSettings,
        NestedStrategy,
        block_chooser,
        chosen_blocks,
        nested_cross_validate,
    )
    from sentilens.evaluation.protocol import (
        CrossValidationResult,
        FoldOutcome,
        FoldResult,
        FoldStrategy,
        fold_seed,
        run_folds,
        score_fold,
    )
    from sentilens.evaluation.rundir import dataset_digest
    from sentilens.evaluation.scorecard import (
        LOWER_IS_BETTER,
        SCORE_NAMES,
        bootstrap_scores,
        probability_scores,
        roc_points,
    )
    from sentilens.evaluation.tables import PAPER_TABLE3, markdown_table3, table3_json
    from sentilens.utils.bootstrap import Interval

__all__ = [
    "WithCompanion",
    "with_companion",
    "ECE_BINS",
    "LOWER_IS_BETTER",
    "SCORE_NAMES",
    "Interval",
    "bootstrap_scores",
    "cross_fitted_calibration",
    "expected_calibration_error",
    "fit_temperature",
    "out_of_fold_temperature",
    "probability_scores",
    "reliability_bins",
    "roc_points",
    "shift_prior",
    "tempered_positive",
    "FoldJob",
    "JobRunner",
    "Sweep",
    "ablation_rows",
    "block_experiment",
    "block_table_json",
    "dataset_digest",
    "layer_rows",
    "markdown_block_table",
    "run_in_process",
    "BlockChooser",
    "CrossValidationResult",
    "FoldOutcome",
    "FoldResult",
    "FoldStrategy",
    "HeadsStrategy",
    "LogisticStrategy",
    "METRIC_NAMES",
    "NestedLogisticStrategy",
    "NestedSettings",
    "NestedStrategy",
    "PAPER_TABLE3",
    "binary_metrics",
    "block_chooser",
    "chosen_blocks",
    "cross_validate",
    "cross_validate_logistic",
    "fold_seed",
    "markdown_table3",
    "nested_cross_validate",
    "run_folds",
    "score_fold",
    "summarise",
    "table3_json",
    "train_and_predict",
]

lazy_face(__name__)
