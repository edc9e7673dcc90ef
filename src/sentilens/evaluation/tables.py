"""The paper's published numbers and Markdown/JSON tables that put ours beside them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sentilens.evaluation.metrics import METRIC_NAMES
from sentilens.evaluation.protocol import CrossValidationResult

#: Table 3 of the paper: subset -> method -> (precision, recall, F1, accuracy).
PAPER_TABLE3: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "five": {
        "PCNN (You 2015)": (0.770, 0.878, 0.821, 0.747),
        "SentiNet-A (Song 2018)": (0.895, 0.878, 0.886, 0.851),
        "paper (GoogLeNet + aux 4a/4b/4d)": (0.900, 0.922, 0.911, 0.881),
    },
    "four": {
        "PCNN (You 2015)": (0.733, 0.845, 0.785, 0.714),
        "SentiNet-A (Song 2018)": (0.851, 0.835, 0.842, 0.807),
        "paper (GoogLeNet + aux 4a/4b/4d)": (0.860, 0.877, 0.868, 0.836),
    },
    "three": {
        "PCNN (You 2015)": (0.714, 0.806, 0.757, 0.687),
        "SentiNet-A (Song 2018)": (0.823, 0.809, 0.814, 0.777),
        "paper (GoogLeNet + aux 4a/4b/4d)": (0.836, 0.848, 0.842, 0.807),
    },
}


def _cell(mean: float, std: float | None = None) -> str:
    return f"{mean:.3f}" if std is None else f"{mean:.3f} ± {std:.3f}"


def _auc_cell(summary: Mapping[str, Mapping[str, float]]) -> str:
    return _cell(summary["roc_auc"]["mean"], summary["roc_auc"]["std"]) if "roc_auc" in summary else "–"


def markdown_table3(results: Mapping[str, Sequence[CrossValidationResult]]) -> str:
    """Rows per subset: the paper's methods, then each of ours with mean ± std over folds (and
    ROC-AUC, which the paper does not report)."""
    lines = [
        "| subset | method | precision | recall | F1 | accuracy | ROC-AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for subset, ours in results.items():
        for method, values in PAPER_TABLE3.get(subset, {}).items():
            lines.append(f"| {subset} | {method} | " + " | ".join(_cell(v) for v in values) + " | – |")
        for result in ours:
            summary = result.summary
            cells = " | ".join(_cell(summary[m]["mean"], summary[m]["std"]) for m in METRIC_NAMES)
            lines.append(f"| {subset} | **{result.model}** | {cells} | {_auc_cell(summary)} |")
    return "\n".join(lines) + "\n"


def table3_json(results: Mapping[str, Sequence[CrossValidationResult]]) -> dict[str, Any]:
    """Per subset and model, the mean (and std) of each metric, plus the paper's numbers."""
    return {
        subset: {
            "ours": {
                result.model: {m: v["mean"] for m, v in result.summary.items()}
                | {f"{m}_std": v["std"] for m, v in result.summary.items()}
                | {"seconds": result.seconds}
                for result in ours
            },
            "paper": {
                method: dict(zip(METRIC_NAMES, values)) for method, values in PAPER_TABLE3.get(subset, {}).items()
            },
        }
        for subset, ours in results.items()
    }
