"""Metrics, the cross-validation runner and the tables that compare with the paper."""

from .crossval import CrossValidationResult, FoldResult, cross_validate, cross_validate_logistic, make_folds, prepare_cache
from .metrics import METRIC_NAMES, binary_metrics, summarise
from .tables import PAPER_TABLE3, markdown_table3, table3_json

__all__ = [
    "CrossValidationResult",
    "FoldResult",
    "METRIC_NAMES",
    "PAPER_TABLE3",
    "binary_metrics",
    "cross_validate",
    "cross_validate_logistic",
    "make_folds",
    "markdown_table3",
    "prepare_cache",
    "summarise",
    "table3_json",
]
