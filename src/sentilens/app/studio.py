"""The work behind ``sentilens studio``: one dataset held in memory for the human loop.

A :class:`StudioSession` keeps what every step of the loop shares so that each step costs seconds:
the decoded dataset and its frozen features (the pooled block features of the feature store, read
once), the inspection plan (ranking and shown images) and the classifiers.  Its methods are the
loop's steps: rank the blocks, draw one block's pictures, cross-validate a block set on the same
folds and seed as ``sentilens cv``, train and save a checkpoint as ``sentilens train`` does, and
classify and explain uploaded images with the shipped or the just-trained model.  The web layer
(:mod:`sentilens.studio`) only parses requests and renders the JSON these methods return.

The methods are not meant to run concurrently: the studio runs long ones one at a time (its job
runner) and guards each classifier with a lock.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sentilens.app.classifier import SentimentClassifier, load
from sentilens.app.demo import GROUP_SETTINGS
from sentilens.app.evaluate import decode_for
from sentilens.app.inspect import INSPECT_SETTINGS, InspectionPlan, inspect_block, model_and_weights, plan_inspection
from sentilens.app.predictions import prediction_rows
from sentilens.app.train import train_checkpoint
from sentilens.data import LabelledImages, OnError, load_dataset
from sentilens.evaluation import PAPER_TABLE3, CrossValidationResult, cross_validate
from sentilens.explain import AscentSettings
from sentilens.models import DEFAULT_AUX_WEIGHT, backbone_class, backbone_spec
from sentilens.runtime import Predictor, RunSettings
from sentilens.training import FrozenOutputs, TrainConfig, prepare_cache
from sentilens.utils import InvalidArgumentError, Say, quiet

#: The metrics a history row shows, in the order of the paper's Table 5 (and ROC-AUC, ours).
HISTORY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
#: Which models "Try" and the HTTP API can use.
MODEL_CHOICES = ("shipped", "trained")


def png_data_url(picture: np.ndarray) -> str:
    """``(H, W, 3)`` floats in [0, 1] or uint8 as a ``data:image/png;base64`` URL."""
    array = np.asarray(picture)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _summary(result: CrossValidationResult) -> dict[str, dict[str, float]]:
    return {name: values for name, values in result.summary.items() if name in HISTORY_METRICS}


@dataclass
class Trial:
    """One evaluated block set: a row of the loop's history."""

    number: int
    blocks: tuple[str, ...]
    weights: tuple[float, ...]
    summary: dict[str, dict[str, float]]
    folds: list[dict[str, Any]]
    seconds: float
    label: str = ""
    cpu_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "label": self.label or ", ".join(self.blocks) or "no auxiliary heads",
            "blocks": list(self.blocks),
            "weights": list(self.weights),
            "summary": self.summary,
            "folds": self.folds,
            "seconds": round(self.seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
        }


def history_csv(rows: Sequence[Trial]) -> str:
    """The history as CSV: one row per try, mean and std of each metric (Table-5 style)."""
    header = ["try", "blocks", "weights", *(f"{m}{s}" for m in HISTORY_METRICS for s in ("", "_std")), "seconds"]
    lines = [",".join(header)]
    for row in rows:
        cells = [str(row.number), " ".join(row.blocks) or "none", " ".join(f"{w:g}" for w in row.weights)]
        for metric in HISTORY_METRICS:
            values = row.summary.get(metric)
            cells += [f"{values['mean']:.4f}", f"{values['std']:.4f}"] if values else ["", ""]
        lines.append(",".join([*cells, f"{row.seconds:.2f}"]))
    return "\n".join(lines) + "\n"


def history_markdown(rows: Sequence[Trial], title: str) -> str:
    """The history as a Markdown table like the paper's Table 5 (mean ± std over folds)."""
    lines = [
        f"{title}\n",
        "| try | blocks | weights | accuracy | precision | recall | F1 | ROC-AUC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = []
        for metric in HISTORY_METRICS:
            values = row.summary.get(metric)
            cells.append(f"{values['mean']:.3f} ± {values['std']:.3f}" if values else "–")
        weights = " ".join(f"{w:g}" for w in row.weights) or "–"
        lines.append(f"| {row.number} | {' '.join(row.blocks) or 'none'} | {weights} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass
class StudioSession:
    """The dataset, its frozen features and the models of one studio, computed once and kept.

    Args:
        data: a Twitter I root, a folder per class or a CSV listing.
        subset: the Twitter I agreement subset (``five``, ``four`` or ``three``).
        work: a folder for this session's passing files (block pictures, uploads).
        out: where "Train and save" writes the checkpoint and its config (default ``work/trained``).
        checkpoint: the model "Try" calls shipped (default: the one shipped with sentilens).
        base: the training config whose blocks and weights a try replaces (default: ``cv``'s).
        folds: folds of the cross-validation and of the ranking's probe.
        per_class: images of each class shown per block.
        probe_images: images (class-balanced sample) of the ranking; None uses all.
        settings: activation maximisation of the block pictures (default: ``inspect``'s).
    """

    data: Path
    subset: str
    work: Path
    out: Path | None = None
    checkpoint: Path | None = None
    base: TrainConfig = field(default_factory=TrainConfig)
    folds: int = 5
    per_class: int = 4
    probe_images: int | None = 200
    settings: AscentSettings = INSPECT_SETTINGS
    dataset: LabelledImages = field(init=False)
    history: list[Trial] = field(default_factory=list, init=False)
    trained: Path | None = field(default=None, init=False)
    _usable: LabelledImages | None = field(default=None, init=False)
    _cache: FrozenOutputs | None = field(default=None, init=False)
    _plan: InspectionPlan | None = field(default=None, init=False)
    default: Trial | None = field(default=None, init=False)
    trained_config: Path | None = field(default=None, init=False)
    _classifiers: dict[str, tuple[SentimentClassifier, Predictor, threading.Lock]] = field(
        default_factory=dict, init=False
    )
    _classifier_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        if self.subset == "all":
            raise InvalidArgumentError("the studio uses one subset; choose five, four or three")
        self.dataset = load_dataset(self.data, self.subset)
        self.dataset.require_all_classes()
        self.work.mkdir(parents=True, exist_ok=True)

    # -- what the page shows first ------------------------------------------------------------

    def description(self) -> dict[str, Any]:
        """The dataset, the blocks to choose from, the defaults and the paper's figures."""
        spec = backbone_spec(self.base.backbone)
        paper = {
            method: dict(zip(("precision", "recall", "f1", "accuracy"), values))
            for method, values in PAPER_TABLE3.get(self.subset, {}).items()
        }
        return {
            "dataset": self.dataset.name,
            "images": len(self.dataset),
            "classes": self.dataset.class_counts(),
            "backbone": self.base.backbone,
            "blocks": list(spec.blocks),
            "default_blocks": list(self.default_blocks()[0]),
            "default_weight": DEFAULT_AUX_WEIGHT,
            "folds": self.folds,
            "seed": self.base.seed,
            "paper": paper,
            "trained": self.trained is not None,
        }

    @property
    def ranked(self) -> bool:
        """Whether the blocks have been ranked (the ranking is then at hand at once)."""
        return self._plan is not None

    @property
    def trained_files(self) -> dict[str, str] | None:
        """The checkpoint and config "Train and save" wrote last, as absolute paths."""
        if self.trained is None or self.trained_config is None:
            return None
        return {"checkpoint": str(self.trained.resolve()), "config": str(self.trained_config.resolve())}

    # -- blocks ---------------------------------------------------------------------------------

    def plan(self, say: Say = quiet) -> InspectionPlan:
        """The ranking and the shown images, computed the first time they are asked for."""
        if self._plan is None:
            model, weights = model_and_weights(None, self.base.backbone, self.base.weights, self.work)
            self._plan = plan_inspection(
                model,
                weights,
                self.dataset,
                per_class=self.per_class,
                probe_images=self.probe_images,
                settings=self.settings,
                cache_dir=None,
                n_splits=self.folds,
                seed=self.base.seed,
                say=say,
            )
        return self._plan

    def ranking(self, say: Say = quiet) -> dict[str, Any]:
        """The blocks ranked by probe accuracy and NMF separation (``suggest-blocks``' ranking)."""
        ranking = self.plan(say).ranking
        return ranking.to_dict() | {"markdown": ranking.markdown()}

    def block_pictures(self, block: str, say: Say = quiet) -> dict[str, Any]:
        """One block's ``inspect`` pictures (written under ``work/blocks/<block>``), their paths relative
        to ``work``."""
        backbone_class(self.base.backbone).check_blocks([block])
        plan = self.plan(say)
        say(f"drawing block {block}")
        started = time.perf_counter()
        section, _ = inspect_block(plan, block, self.work / "blocks")

        def relative(path: Path) -> str:
            return path.relative_to(self.work).as_posix()

        evidence = {entry.block: entry for entry in plan.ranking.blocks}[block]
        return {
            "block": block,
            "rank": evidence.rank,
            "probe_accuracy": evidence.probe_accuracy,
            "probe_std": evidence.probe_std,
            "separation": evidence.separation,
            "contrast": [{"label": label, "picture": relative(path)} for label, path in section.contrast],
            "cards": [
                {
                    "name": card.name,
                    "label": card.label,
                    "where": relative(card.where),
                    "group": relative(card.group),
                    "probe": relative(card.probe),
                    "probe_positive": card.probe_positive,
                }
                for card in section.cards
            ],
            "seconds": round(time.perf_counter() - started, 2),
        }

    # -- evaluate -------------------------------------------------------------------------------

    def config(self, blocks: Sequence[str], weights: Sequence[float]) -> TrainConfig:
        """The base config with these blocks and weights (checked as ``--config`` checks them)."""
        if len(blocks) != len(weights):
            raise InvalidArgumentError(f"{len(blocks)} blocks but {len(weights)} weights")
        if len(set(blocks)) != len(blocks):
            raise InvalidArgumentError("a block is given twice")
        for weight in weights:
            if not 0.0 <= weight <= 1.0:
                raise InvalidArgumentError(f"weights must lie in [0, 1], got {weight}")
        backbone_class(self.base.backbone).check_blocks(blocks)
        return replace(self.base, blocks=tuple(blocks), aux_weights=tuple(float(w) for w in weights))

    def features(self, say: Say = quiet) -> tuple[LabelledImages, FrozenOutputs]:
        """The usable images and their frozen features (the feature store's, decoded once)."""
        if self._cache is None or self._usable is None:
            decoded = decode_for(self.dataset, self.base, OnError.skip, say)
            say(f"frozen features of {len(decoded.dataset)} images")
            self._cache = prepare_cache(decoded.dataset, self.base, decoded.images)
            self._usable = decoded.dataset
        return self._usable, self._cache

    def _cross_validate(self, config: TrainConfig, say: Say) -> tuple[CrossValidationResult, float, float]:
        """The cross-validation, its wall time and the process's CPU time during it (every thread:
        on a shared machine the CPU time says what it costs, the wall time what it took)."""
        usable, cache = self.features(say)
        say(f"{self.folds}-fold cross-validation of {', '.join(config.blocks or ()) or 'no auxiliary heads'}")
        started, cpu = time.perf_counter(), time.process_time()
        result = cross_validate(usable, config, self.folds, config.seed, cache=cache)
        return result, time.perf_counter() - started, time.process_time() - cpu

    def default_blocks(self) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """The shipped model's blocks and weights (the backbone's default blocks when the shipped
        model has another backbone than the one evaluated)."""
        shipped = self.classifier("shipped")[0].config
        if shipped.backbone == self.base.backbone and shipped.blocks is not None:
            blocks = tuple(shipped.blocks)
            return blocks, tuple(shipped.aux_weights or (DEFAULT_AUX_WEIGHT,) * len(blocks))
        blocks = backbone_spec(self.base.backbone).default_aux_blocks
        return blocks, (DEFAULT_AUX_WEIGHT,) * len(blocks)

    def default_evaluation(self, say: Say = quiet) -> Trial:
        """The shipped model's block set cross-validated on the same folds (computed once)."""
        if self.default is None:
            blocks, weights = self.default_blocks()
            result, seconds, cpu = self._cross_validate(self.config(blocks, weights), say)
            self.default = self._evaluation(0, blocks, weights, result, (seconds, cpu), "shipped default")
        return self.default

    def evaluate(self, blocks: Sequence[str], weights: Sequence[float], say: Say = quiet) -> dict[str, Any]:
        """Cross-validate a block set as ``cv`` does (same folds, same seed) and add it to the history."""
        config = self.config(blocks, weights)
        result, seconds, cpu = self._cross_validate(config, say)
        row = self._evaluation(len(self.history) + 1, tuple(blocks), tuple(weights), result, (seconds, cpu))
        self.history.append(row)
        default = self.default_evaluation(say)
        return {"row": row.to_dict(), "default": default.to_dict()}

    def _evaluation(
        self,
        number: int,
        blocks: tuple[str, ...],
        weights: tuple[float, ...],
        result: CrossValidationResult,
        times: tuple[float, float],
        label: str = "",
    ) -> Trial:
        folds = [
            {"fold": fold.number + 1, "n_train": fold.n_train, "n_test": fold.n_test}
            | {name: fold.metrics[name] for name in HISTORY_METRICS if name in fold.metrics}
            for fold in result.folds
        ]
        return Trial(number, blocks, weights, _summary(result), folds, times[0], label, times[1])

    def history_title(self) -> str:
        return (
            f"Block sets tried in sentilens studio ({self.dataset.name}, {self.base.backbone}, "
            f"{self.base.mode}, {self.folds}-fold, seed {self.base.seed})"
        )

    # -- train ----------------------------------------------------------------------------------

    def train(self, blocks: Sequence[str], weights: Sequence[float], say: Say = quiet) -> dict[str, Any]:
        """Train on every usable image and write ``out/sentilens-model.pt`` (``train``'s checkpoint)
        and ``sentilens-config.json`` (its config, for ``--config``) beside it."""
        config = self.config(blocks, weights)
        folder = self.out or self.work / "trained"
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        run = train_checkpoint(self.data, self.subset, config, folder / "sentilens-model.pt", OnError.skip, say)
        config_path = folder / "sentilens-config.json"
        config_path.write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
        with self._classifier_lock:
            self._classifiers.pop("trained", None)
            self.trained, self.trained_config = run.checkpoint, config_path
        return {
            "checkpoint": str(run.checkpoint.resolve()),
            "config": str(config_path.resolve()),
            "blocks": list(config.blocks or ()),
            "weights": list(config.aux_weights or ()),
            "images": run.images,
            "final_loss": run.losses[-1],
            "seconds": round(time.perf_counter() - started, 2),
        }

    # -- try and the HTTP API ---------------------------------------------------------------------

    def classifier(self, which: str = "shipped") -> tuple[SentimentClassifier, Predictor, threading.Lock]:
        """The shipped (``--checkpoint`` or sentilens' own) or the just-trained classifier, with a
        predictor that runs as ``predict`` does by default, and the lock that serialises its use."""
        if which not in MODEL_CHOICES:
            raise InvalidArgumentError(f"model must be one of {', '.join(MODEL_CHOICES)}, got {which!r}")
        with self._classifier_lock:
            if which == "trained" and self.trained is None:
                raise InvalidArgumentError("no model trained in this session yet: train one first")
            if which not in self._classifiers:
                classifier = load(self.checkpoint if which == "shipped" else self.trained)
                self._classifiers[which] = (classifier, classifier.predictor(RunSettings()), threading.Lock())
            return self._classifiers[which]

    def predict(self, paths: Sequence[Path], names: Sequence[str], which: str = "shipped") -> list[dict[str, object]]:
        """``predict -f jsonl``'s rows for decodable image files, ``file`` being each upload's name."""
        _, predictor, lock = self.classifier(which)
        with lock:
            predictions, skipped = predictor(list(paths), OnError.skip)
        rows = prediction_rows(predictions, skipped, list(paths))
        for row, name in zip(rows, names):
            row["file"] = name
        return rows

    def explain(
        self, path: Path, name: str, which: str = "shipped", block: str | None = None, groups: bool = True
    ) -> dict[str, object]:
        """The prediction row of one image with Grad-CAM at ``block`` (default: the last block) and,
        with ``groups``, where its rank-1 neuron group fires and what it responds to (the demo's block)."""
        (row,) = self.predict([path], [name], which)
        classifier, _, lock = self.classifier(which)
        with lock:
            explanation = classifier.explain(path, block)
            result: dict[str, object] = row | {
                "gradcam_block": explanation.block,
                "gradcam_label": explanation.label,
                "gradcam_png": png_data_url(explanation.overlay()),
                "blocks": list(classifier.blocks),
            }
            if groups:
                found = classifier.groups(path, settings=GROUP_SETTINGS)
                result |= {
                    "group_block": found.block,
                    "group_where_png": png_data_url(found.overlays()[0]),
                    "group_picture_png": png_data_url(found.pictures[0]),
                    "group_reference": found.reference,
                }
        return result
