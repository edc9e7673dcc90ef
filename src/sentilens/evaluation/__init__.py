"""Metrics, the cross-validation runner and the tables that compare with the paper."""

from sentilens.evaluation.crossval import CrossValidationResult, FoldResult, cross_validate, cross_validate_logistic
from sentilens.evaluation.metrics import METRIC_NAMES, binary_metrics, summarise
from sentilens.evaluation.tables import PAPER_TABLE3, markdown_table3, table3_json

__all__ = [
    "CrossValidationResult",
    "FoldResult",
    "METRIC_NAMES",
    "PAPER_TABLE3",
    "binary_metrics",
    "cross_validate",
    "cross_validate_logistic",
    "markdown_table3",
    "summarise",
    "table3_json",
]
