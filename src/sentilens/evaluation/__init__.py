"""Metrics, the fold loop with its strategies (cross-validation, the logistic baseline, nested
selection) and the tables that compare with the paper."""

from sentilens.evaluation.crossval import (
    HeadsStrategy,
    LogisticStrategy,
    cross_validate,
    cross_validate_logistic,
    train_and_predict,
)
from sentilens.evaluation.metrics import METRIC_NAMES, binary_metrics, summarise
from sentilens.evaluation.nested import (
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
from sentilens.evaluation.tables import PAPER_TABLE3, markdown_table3, table3_json

__all__ = [
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
