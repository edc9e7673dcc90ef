"""The evaluation report of a model on a labelled set: a reliability diagram and a ROC curve (PNG),
and the scores with their intervals as Markdown and as a static HTML page (no scripts, no
external resources; the PNGs lie beside it).  Plain data in, files out: no model code.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

#: How each score is named in the reports, and whether smaller is better.
SCORE_LABELS = {
    "roc_auc": "ROC-AUC",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "precision": "precision (positive)",
    "recall": "recall (positive)",
    "f1": "F1 (positive)",
    "log_loss": "log-loss (lower is better)",
    "brier": "Brier score (lower is better)",
    "ece": "expected calibration error (lower is better)",
}


def save_reliability_diagram(path: Path, bins: Sequence[Mapping[str, float]], title: str) -> Path:
    """Positive rate against mean predicted probability per bin, dot area by image count, the
    diagonal of perfect calibration, and the share of images per bin below."""
    figure = Figure(figsize=(5.2, 6.0))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot([0, 1], [0, 1], color="#888888", linestyle="--", linewidth=1, label="perfectly calibrated")
    means = [row["mean_probability"] for row in bins]
    rates = [row["positive_rate"] for row in bins]
    counts = [row["count"] for row in bins]
    total = max(sum(counts), 1)
    top.plot(means, rates, color="#1f5fa8", linewidth=1.5)
    top.scatter(means, rates, s=[20 + 400 * c / total for c in counts], color="#1f5fa8", zorder=3, label="bins")
    top.set_xlim(-0.02, 1.02)
    top.set_ylim(-0.03, 1.03)
    top.set_ylabel("share of images that are positive")
    top.set_title(title, fontsize=10)
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    bottom.bar(
        [(row["lower"] + row["upper"]) / 2 for row in bins],
        [c / total for c in counts],
        width=[row["upper"] - row["lower"] for row in bins],
        color="#9bb7d9",
        edgecolor="#1f5fa8",
    )
    bottom.set_xlabel("predicted probability of positive")
    bottom.set_ylabel("share of images")
    return _save(figure, path)


def save_roc_curve(path: Path, points: Mapping[str, Sequence[float]], auc: float, title: str) -> Path:
    """The ROC curve with its area, and the diagonal of a random guess."""
    figure = Figure(figsize=(5.2, 5.0))
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], color="#888888", linestyle="--", linewidth=1, label="random guess")
    axes.plot(points["false_positive_rate"], points["true_positive_rate"], color="#1f5fa8", label=f"ROC-AUC {auc:.3f}")
    axes.set_xlim(-0.01, 1.01)  # a curve along the edges (a perfect ranking) stays visible
    axes.set_ylim(-0.01, 1.01)
    axes.set_xlabel("false-positive rate (negatives called positive)")
    axes.set_ylabel("true-positive rate (positives found)")
    axes.set_title(title, fontsize=10)
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return path


@dataclass
class ScorecardPage:
    """What the report says: the set, the model, the decision rule, the scores and the figures.

    Attributes:
        dataset: the set's name.
        model: the checkpoint's name.
        counts: images per class that were scored.
        skipped: ``(file, reason)`` of each image that could not be read (the reason names the file).
        rule: one sentence on the threshold and prior applied.
        scores: score name -> ``{"value", "low", "high"}``.
        level: the intervals' level (0.95).
        resamples: bootstrap resamples.
        figures: file names of the reliability diagram and the ROC curve (beside the page).
    """

    dataset: str
    model: str
    counts: Mapping[str, int]
    skipped: Sequence[tuple[str, str]]
    rule: str
    scores: Mapping[str, Mapping[str, float]]
    level: float
    resamples: int
    figures: Sequence[str]

    def _header(self) -> str:
        counts = ", ".join(f"{count} {name}" for name, count in self.counts.items())
        return f"{sum(self.counts.values())} images scored ({counts}); {len(self.skipped)} could not be read."

    def _interval_note(self) -> str:
        return (
            f"Intervals: {self.level:.0%} percentile bootstrap over {self.resamples} resamples of the images "
            "(they say how much the scores would move on another draw of images like these, not on other kinds of "
            "images)."
        )

    def markdown(self) -> str:
        """The report as Markdown (scores table, figures linked, unreadable images listed)."""
        lines = [
            f"# {self.model} on {self.dataset}",
            "",
            self._header(),
            "",
            self.rule,
            "",
            f"| score | value | {self.level:.0%} interval |",
            "|---|---|---|",
        ]
        for name, score in self.scores.items():
            lines.append(f"| {SCORE_LABELS.get(name, name)} | {score['value']:.4f} | {_interval(score)} |")
        lines += ["", self._interval_note(), ""]
        lines += [f"![{Path(name).stem}]({name})" for name in self.figures]
        if self.skipped:
            lines += ["", "## Images that could not be read", ""]
            lines += [f"- {reason}" for _, reason in self.skipped]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        """The report as one static HTML page."""
        rows = "\n".join(
            f"<tr><td>{html.escape(SCORE_LABELS.get(name, name))}</td><td>{score['value']:.4f}</td>"
            f"<td>{html.escape(_interval(score))}</td></tr>"
            for name, score in self.scores.items()
        )
        figures = "\n".join(f'<img src="{html.escape(name)}" alt="{html.escape(name)}">' for name in self.figures)
        skipped = ""
        if self.skipped:
            items = "\n".join(f"<li>{html.escape(reason)}</li>" for _, reason in self.skipped)
            skipped = f"<h2>Images that could not be read</h2><ul>{items}</ul>"
        return PAGE.format(
            title=html.escape(f"{self.model} on {self.dataset}"),
            header=html.escape(self._header()),
            rule=html.escape(self.rule),
            level=f"{self.level:.0%}",
            rows=rows,
            note=html.escape(self._interval_note()),
            figures=figures,
            skipped=skipped,
        )


def _interval(score: Mapping[str, float]) -> str:
    return f"{score['low']:.4f} - {score['high']:.4f}"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 64rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4rem 1rem; text-align: left; }}
td:nth-child(n+2) {{ font-variant-numeric: tabular-nums; }}
.note {{ color: #555; }} .figures {{ display: flex; gap: 1.5rem; flex-wrap: wrap; }}
.figures img {{ max-width: 30rem; }}
</style></head><body>
<h1>{title}</h1>
<p>{header}</p>
<p>{rule}</p>
<table><tr><th>score</th><th>value</th><th>{level} interval</th></tr>
{rows}
</table>
<p class="note">{note}</p>
<div class="figures">{figures}</div>
{skipped}
</body></html>
"""


def write_scorecard(folder: Path, page: ScorecardPage) -> tuple[Path, Path]:
    """``report.md`` and ``report.html`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    markdown, page_path = folder / "report.md", folder / "report.html"
    markdown.write_text(page.markdown(), encoding="utf-8")
    page_path.write_text(page.html(), encoding="utf-8")
    return markdown, page_path
