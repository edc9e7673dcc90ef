"""Score a trained model, unchanged, on a labelled set of someone's own images.

The images are classified by the same :class:`~sentilens.runtime.Predictor` and
:class:`~sentilens.runtime.RunSettings` as ``predict`` (so each image's probability is the one
``predict`` prints for it), then scored against the labels (:mod:`sentilens.evaluation.scorecard`).
An image that cannot be read is listed with its reason and left out of the scores; a set
without both classes (before or after that) is refused, since ROC-AUC, balanced accuracy and
calibration all compare the two.

The decision rule is applied openly: with ``prior`` (the share of positive images the user
expects), each positive probability's log-odds move by ``logit(prior) - logit(r)``, where ``r``
is the positive rate of the model's training images (recorded in the checkpoint); then an image
is called positive when that probability is at least ``threshold``.  Threshold-free scores
(ROC-AUC) do not change with either; calibration scores change with ``prior`` only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sentilens.app.choices import OutputFormat
from sentilens.app.classifier import SentimentClassifier
from sentilens.app.predictions import prediction_rows, write_rows
from sentilens.app.provenance import run_record
from sentilens.data import DataError, LabelledImages, OnError, content_digests, load_dataset
from sentilens.evaluation import (
    ECE_BINS,
    Interval,
    bootstrap_scores,
    dataset_digest,
    reliability_bins,
    roc_points,
    shift_prior,
)
from sentilens.reports import ScorecardPage, save_reliability_diagram, save_roc_curve, write_scorecard
from sentilens.runtime import Prediction, RunSettings, Skipped
from sentilens.utils import InvalidArgumentError, Say, quiet


@dataclass(frozen=True)
class DecisionRule:
    """How a probability becomes a verdict.

    Attributes:
        threshold: an image is called positive when its (shifted) positive probability is at
            least this.
        prior: the share of positive images expected where the model is used; None keeps the
            training images' rate (no shift).
    """

    threshold: float = 0.5
    prior: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise InvalidArgumentError(f"--threshold must lie in [0, 1], got {self.threshold}")
        if self.prior is not None and not 0.0 < self.prior < 1.0:
            raise InvalidArgumentError(f"--prior must lie strictly between 0 and 1, got {self.prior}")

    def describe(self, training_rate: float | None) -> str:
        """One sentence for the report."""
        called = f"an image is called positive when its probability is at least {self.threshold:g}"
        if self.prior is None:
            return f"Probabilities as the model gives them (calibrated by its temperature); {called}."
        return (
            f"Probabilities shifted from the training images' positive rate {training_rate:.3f} to the expected "
            f"rate {self.prior:g} (log-odds + logit({self.prior:g}) - logit({training_rate:.3f})); {called}."
        )


@dataclass
class Evaluation:
    """What :func:`evaluate_classifier` computed (and, with a folder, wrote).

    Attributes:
        dataset: the set's name.
        scores: score name -> value with its bootstrap interval.
        rows: one row per image, in the set's order (``predict``'s columns, then ``true_label``,
            ``scored_probability`` and ``decision``; unreadable images have status ``skipped``).
        labels: the true label of each scored image; ``probabilities``: its scored probability.
        files: the files written (empty without a folder).
        record: the result JSON's content (provenance, rule, scores, bins, counts).
    """

    dataset: str
    scores: dict[str, Interval]
    rows: list[dict[str, object]]
    labels: np.ndarray
    probabilities: np.ndarray
    record: dict[str, Any]
    files: list[Path] = field(default_factory=list)


def require_both_classes(dataset: LabelledImages, class_names: tuple[str, ...], when: str = "") -> None:
    """Refuse a set whose classes are not the model's, or that lacks one of them."""
    if tuple(dataset.class_names) != tuple(class_names):
        raise DataError(
            f"{dataset.name}: classes {', '.join(dataset.class_names)} are not the model's "
            f"({', '.join(class_names)}); name the class folders {' and '.join(class_names)}"
        )
    empty = [name for name, count in dataset.class_counts().items() if count == 0]
    if empty:
        raise DataError(
            f"{dataset.name}: no {' or '.join(empty)} images{when}; evaluation needs both classes "
            "(ROC-AUC, balanced accuracy and calibration compare them)"
        )


def check_rule(classifier: SentimentClassifier, rule: DecisionRule) -> None:
    """Refuse a ``prior`` for a model whose checkpoint does not record its training positive rate."""
    if rule.prior is not None and classifier.positive_rate is None:
        raise InvalidArgumentError(
            "--prior needs the positive rate of the model's training images, which this checkpoint does not "
            "record (it was written before calibration existed); retrain it, or evaluate without --prior"
        )


def evaluate_classifier(
    classifier: SentimentClassifier,
    data: Path,
    out: Path | None = None,
    *,
    subset: str = "five",
    settings: RunSettings = RunSettings(),
    rule: DecisionRule = DecisionRule(),
    resamples: int = 1000,
    seed: int = 0,
    model_name: str = "model",
    say: Say = quiet,
) -> Evaluation:
    """Score ``classifier`` on the labelled set ``data`` (see the module docstring).

    With ``out``, writes there: ``evaluation.json`` (scores with intervals, the rule, reliability
    bins, ROC points, counts, unreadable images, the model and run settings, and provenance),
    ``predictions.csv`` and ``predictions.jsonl`` (per-image rows), ``reliability.png``,
    ``roc.png``, ``report.md`` and ``report.html``.
    """
    dataset = load_dataset(data, subset)
    require_both_classes(dataset, classifier.class_names)
    check_rule(classifier, rule)
    say(f"{dataset.name}: {len(dataset)} images {dataset.class_counts()}")
    predictions, skipped = classifier.predict_with_skipped(dataset.paths, settings, on_error=OnError.skip, say=say)
    for item in skipped:
        say(f"skipped {item.reason}")
    views = classifier.run_settings(settings).resolved_views
    run: dict[str, object] = {
        "runtime": str(settings.runtime),
        "precision": str(settings.precision),
        "views": list(views),
    }
    return score_predictions(
        classifier,
        dataset,
        predictions,
        skipped,
        out,
        rule=rule,
        resamples=resamples,
        seed=seed,
        model_name=model_name,
        run_settings=run,
    )


def score_predictions(
    classifier: SentimentClassifier,
    dataset: LabelledImages,
    predictions: Sequence[Prediction],
    skipped: Sequence[Skipped],
    out: Path | None = None,
    *,
    rule: DecisionRule = DecisionRule(),
    resamples: int = 1000,
    seed: int = 0,
    model_name: str = "model",
    run_settings: dict[str, object] | None = None,
) -> Evaluation:
    """The scoring half of :func:`evaluate_classifier`, for predictions already made of
    ``dataset``'s images by ``classifier`` (so one prediction run can be scored under several
    rules)."""
    require_both_classes(dataset, classifier.class_names)
    check_rule(classifier, rule)
    if not predictions:
        raise DataError(f"{dataset.name}: none of the {len(dataset)} images could be read")
    label_of = dict(zip(dataset.paths, dataset.labels))
    scored = LabelledImages(
        tuple(p.path for p in predictions),
        tuple(label_of[p.path] for p in predictions),
        dataset.class_names,
        dataset.name,
    )
    require_both_classes(scored, classifier.class_names, " left once the unreadable images are set aside")
    labels = np.asarray(scored.labels)
    given = np.asarray([p.positive_probability for p in predictions])
    probabilities = given
    if rule.prior is not None and classifier.positive_rate is not None:
        probabilities = shift_prior(given, rule.prior, classifier.positive_rate)
    scores = bootstrap_scores(labels, probabilities, rule.threshold, resamples, seed)
    rows = prediction_rows(predictions, skipped, list(dataset.paths))
    scored_by_path = {str(p.path): float(q) for p, q in zip(predictions, probabilities)}
    names = classifier.class_names
    for row in rows:
        file = str(row["file"])
        probability = scored_by_path.get(file)
        row["true_label"] = names[label_of[Path(file)]]
        row["scored_probability"] = None if probability is None else round(probability, 6)
        row["decision"] = None if probability is None else names[int(probability >= rule.threshold)]
    bins = reliability_bins(labels, probabilities, ECE_BINS)
    record: dict[str, Any] = {
        "dataset": dataset.name,
        "model": {
            "name": model_name,
            "temperature": classifier.model.temperature,
            "training_positive_rate": classifier.positive_rate,
            "blocks": list(classifier.blocks),
        },
        "run_settings": run_settings or {},
        "rule": {"threshold": rule.threshold, "prior": rule.prior, "text": rule.describe(classifier.positive_rate)},
        "images": {
            "listed": len(dataset),
            "scored": len(predictions),
            "skipped": len(skipped),
            "scored_per_class": scored.class_counts(),
        },
        "scores": {name: interval.to_dict() for name, interval in scores.items()},
        "bootstrap": {"resamples": resamples, "seed": seed, "level": 0.95},
        "reliability_bins": bins,
        "roc": roc_points(labels, probabilities),
        "skipped": [{"file": str(item.path), "reason": item.reason} for item in skipped],
    }
    evaluation = Evaluation(dataset.name, scores, rows, labels, probabilities, record)
    if out is not None:
        digest = dataset_digest(scored.labels, content_digests(scored.paths), scored.class_names)
        evaluation.record = run_record({dataset.name: digest}) | record
        evaluation.files = write_evaluation(out, evaluation, model_name, resamples)
    return evaluation


def write_evaluation(out: Path, evaluation: Evaluation, model_name: str, resamples: int) -> list[Path]:
    """The files of :func:`evaluate_classifier` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    record = evaluation.record
    title = f"{model_name} on {evaluation.dataset}"
    reliability = save_reliability_diagram(
        out / "reliability.png",
        record["reliability_bins"],
        f"Reliability: {title}\nECE {record['scores']['ece']['value']:.3f} ({ECE_BINS} bins)",
    )
    roc = save_roc_curve(out / "roc.png", record["roc"], record["scores"]["roc_auc"]["value"], f"ROC: {title}")
    page = ScorecardPage(
        dataset=evaluation.dataset,
        model=model_name,
        counts=record["images"]["scored_per_class"],
        skipped=[(item["file"], item["reason"]) for item in record["skipped"]],
        rule=record["rule"]["text"],
        scores=record["scores"],
        level=0.95,
        resamples=resamples,
        figures=[reliability.name, roc.name],
    )
    markdown, html_page = write_scorecard(out, page)
    tables = []
    for name, output_format in (("predictions.csv", OutputFormat.csv), ("predictions.jsonl", OutputFormat.jsonl)):
        with open(out / name, "w", newline="", encoding="utf-8") as stream:
            write_rows(evaluation.rows, stream, output_format)
        tables.append(out / name)
    result = out / "evaluation.json"
    result.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return [result, *tables, reliability, roc, markdown, html_page]
