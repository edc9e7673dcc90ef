"""The Python API: ``sentilens.load()`` gives a classifier that predicts and explains images.

import sentilens
classifier = sentilens.load()                  # the shipped default model
predictions = classifier.predict(["cat.jpg", "photos/"])
explanation = classifier.explain("cat.jpg")    # Grad-CAM of the fused prediction
groups = classifier.groups("cat.jpg")          # its neuron group: where it fires, what it responds to
scores = classifier.evaluate("labelled/", out="report/").scores   # on a labelled set of your own
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from sentilens.app.shipped import default_model_path
from sentilens.data import OnError, expand_inputs, load_view, to_unit_range
from sentilens.models import (
    DEFAULT_BACKBONE,
    DEFAULT_WEIGHTS,
    Architecture,
    SentimentModel,
    build_model,
    external_weights,
    load_checkpoint,
)
from sentilens.runtime import Prediction, Predictor, RunSettings, Skipped, image_batches, remember_network
from sentilens.training import TrainConfig
from sentilens.utils import Say, quiet

if TYPE_CHECKING:
    from sentilens.app.scoring import Evaluation
    from sentilens.explain import AscentSettings


def _as_list(inputs: str | Path | Iterable[str | Path]) -> list[str | Path]:
    return [inputs] if isinstance(inputs, (str, Path)) else list(inputs)


@dataclass
class Explanation:
    """Grad-CAM of one image.

    Attributes:
        path: the image file.
        block: the block whose map is explained.
        label: the class the map explains (the fused prediction unless a target was given).
        probability: calibrated fused probability of that class (centre crop only).
        cam: ``(H, W)`` map in [0, 1] at the model's input size.
        image: ``(H, W, 3)`` uint8 centre crop the map belongs to.
    """

    path: Path
    block: str
    label: str
    probability: float
    cam: np.ndarray
    image: np.ndarray

    def overlay(self, alpha: float = 0.5) -> np.ndarray:
        """The map blended over the image as ``(H, W, 3)`` floats in [0, 1]."""
        from sentilens.reports import overlay

        return overlay(torch.from_numpy(self.image).permute(2, 0, 1).float() / 255.0, self.cam, alpha)


@dataclass
class GroupExplanation:
    """The neuron groups of one image at one block (NMF of the block's map, eq. 4).

    Attributes:
        path: the image file.
        block: the block.
        rendering: how the pictures were drawn (``specific`` or ``paper``).
        where: ``(r, H, W)`` in [0, 1]: where each group fires (``U``, resized to the input).
        pictures: ``(r, s, s, 3)`` floats in [0, 1]: what each group responds to.
        channel_weights: ``(r, C)``: each group's channels (``V``, rows summing to 1).
        relative_error: how well ``U V`` reproduces the map (``||B - U V|| / ||B||``).
        reference: the reference profile the ``specific`` pictures are drawn against.
        image: ``(H, W, 3)`` uint8 centre crop the maps belong to.
    """

    path: Path
    block: str
    rendering: str
    where: np.ndarray
    pictures: np.ndarray
    channel_weights: np.ndarray
    relative_error: float
    reference: str
    image: np.ndarray

    def overlays(self) -> list[np.ndarray]:
        """Each group's ``where`` map over the image, as ``(H, W, 3)`` floats in [0, 1]."""
        from sentilens.reports import heat_overlay

        image = torch.from_numpy(self.image).permute(2, 0, 1).float() / 255.0
        return [heat_overlay(image, where) for where in self.where]


def load_model(
    checkpoint: str | Path | None, backbone: str = DEFAULT_BACKBONE, weights: str = DEFAULT_WEIGHTS
) -> tuple[SentimentModel, tuple[str, ...]]:
    """A trained model from ``checkpoint``; else the shipped default model for ImageNet
    inception_v3, or ``backbone`` with fresh (untrained) heads for any other backbone or weights.

    Returns the model (eval mode) and its class names.  With fresh heads, class-specific maps
    explain an untrained decision; channel pictures, spatial grids and neuron groups depend on the
    backbone only.
    """
    if checkpoint is None and (backbone, weights) == (DEFAULT_BACKBONE, DEFAULT_WEIGHTS):
        checkpoint = default_model_path()
    if checkpoint is not None:
        loaded = load_checkpoint(checkpoint)
        return loaded.model.eval(), loaded.class_names
    return build_model(Architecture(backbone=backbone, weights=weights)).eval(), ("negative", "positive")


class SentimentClassifier:
    """A trained sentiment model with its class names, ready to predict and explain.

    Args:
        model: the fused model.
        class_names: names indexed by class (``class_names[1]`` is positive).
        config: the training config it was built with.
        positive_rate: the share of positive images it was trained on, where the checkpoint
            records it (checkpoints written since calibration); ``evaluate(prior=...)`` needs it.
    """

    def __init__(
        self,
        model: SentimentModel,
        class_names: tuple[str, ...],
        config: TrainConfig,
        source: Path | None = None,
        positive_rate: float | None = None,
    ) -> None:
        self.model = model.eval()
        self.class_names = class_names
        self.config = config
        self.source = source  # the checkpoint file it was loaded from, if any
        self.positive_rate = positive_rate

    @property
    def blocks(self) -> tuple[str, ...]:
        return self.model.blocks

    @property
    def head_names(self) -> tuple[str, ...]:
        """The votes whose probabilities a prediction lists: ``main``, each auxiliary block, then
        ``companion`` for a model with a companion network."""
        return self.model.vote_names

    def predict(self, inputs: str | Path | Iterable[str | Path], batch_size: int = 32) -> list[Prediction]:
        """Classify image files and folders; unreadable files are left out (see ``predict_with_skipped``)."""
        return self.predict_with_skipped(inputs, RunSettings(batch_size=batch_size))[0]

    def predict_with_skipped(
        self,
        inputs: str | Path | Iterable[str | Path],
        settings: RunSettings = RunSettings(),
        *,
        on_error: OnError = OnError.skip,
        say: Say = quiet,
    ) -> tuple[list[Prediction], list[Skipped]]:
        """Predictions, and the inputs that could not be decoded with the reason.

        ``settings`` say how the network runs (runtime, precision, views, calibration, batch size,
        decode threads; views left to the model are its config's ``predict_views``, centre and
        mirror for the shipped model).  ``on_error="fail"`` raises on the first undecodable file
        instead.  ``say`` hears which runtime runs and any one-off conversion.
        """
        paths = expand_inputs(_as_list(inputs))
        # Decoding starts now, while the network is read and compiled.
        batches = image_batches(self.model, self.run_settings(settings), paths).start()
        try:
            predictor = self.predictor(settings, say)
        except BaseException:
            batches.close()
            raise
        say(f"runtime: {predictor.choice}")
        depends_on = external_weights(self.config.architecture)
        if self.source is not None and depends_on is not None:  # the torch-free shortcut of the next run
            facts = {
                "depends_on": [str(path) for path in depends_on],
                "class_names": list(self.class_names),
                "blocks": list(self.model.blocks),
                "aux_weights": list(self.model.aux_weights),
                "companion_weight": self.model.companion_weight,
                "votes": list(self.model.vote_names),
                "temperature": float(self.model.temperature),
                "input_size": self.model.backbone.input_size,
                "views": list(self.config.predict_views),
            }
            remember_network(self.source, predictor.settings, predictor.choice, predictor.network, facts)
        return predictor(paths, on_error, batches)

    def predictor(self, settings: RunSettings = RunSettings(), say: Say = quiet) -> Predictor:
        """The model prepared to classify many files as ``settings`` say, views left to the model
        taken from its config."""
        return Predictor(self.model, self.class_names, self.run_settings(settings), say=say)

    def run_settings(self, settings: RunSettings = RunSettings()) -> RunSettings:
        """``settings`` with the views they leave to the model set to the model's own (its config's)."""
        return settings.with_views(self.config.predict_views)

    def evaluate(
        self,
        data: str | Path,
        out: str | Path | None = None,
        *,
        subset: str = "five",
        settings: RunSettings = RunSettings(),
        threshold: float = 0.5,
        prior: float | None = None,
        resamples: int = 1000,
        seed: int = 0,
        say: Say = quiet,
    ) -> Evaluation:
        """Score this model, unchanged, on a labelled set (a folder per class, a ``path,label``
        CSV or a Twitter I root): every score with a bootstrap interval, per-image rows, and with
        ``out`` the report files (see :func:`sentilens.app.scoring.evaluate_classifier`)."""
        from sentilens.app.scoring import DecisionRule, evaluate_classifier

        return evaluate_classifier(
            self,
            Path(data),
            None if out is None else Path(out),
            subset=subset,
            settings=settings,
            rule=DecisionRule(threshold, prior),
            resamples=resamples,
            seed=seed,
            say=say,
        )

    def explain(
        self, image: str | Path, block: str | None = None, target: int | None = None, method: str | None = None
    ) -> Explanation:
        """Grad-CAM (or another CAM ``method``, default the most faithful one by the benchmark) of the
        fused prediction (or of class ``target``) at ``block`` (default: the most faithful block by the
        benchmark, 7a for inception_v3; the last block of other backbones)."""
        from sentilens.explain import DEFAULT_CAM_METHOD, default_cam_block, grad_cam

        block = block or default_cam_block(self.model.backbone)
        view = load_view(image, self.model.backbone.input_size)
        result = grad_cam(self.model, to_unit_range(view[None]), block, target, method or DEFAULT_CAM_METHOD)
        chosen = int(result.targets[0])
        calibrated = self.model.calibrate(torch.from_numpy(result.probabilities))
        return Explanation(
            path=Path(image),
            block=block,
            label=self.class_names[chosen],
            probability=float(calibrated[0, chosen]),
            cam=result.maps[0],
            image=view.permute(1, 2, 0).numpy(),
        )

    def groups(
        self,
        image: str | Path,
        block: str | None = None,
        rank: int = 1,
        rendering: str = "specific",
        settings: AscentSettings | None = None,
        reference: str | Path | None = None,
    ) -> GroupExplanation:
        """The ``rank`` neuron groups of ``image`` at ``block`` (default: the demo's block, 5b).

        ``rendering="specific"`` (default) draws each group's direction relative to the reference
        profile (``reference``, a file from ``sentilens explain reference``; default the shipped
        one, which fits the default model); ``"paper"`` draws eq. (5).
        """
        from sentilens.explain import DEFAULT_GROUP_BLOCK, explain_groups

        backbone = self.model.backbone
        view = load_view(image, backbone.input_size)
        found = explain_groups(
            backbone,
            to_unit_range(view)[None],
            block or DEFAULT_GROUP_BLOCK,
            rank=rank,
            rendering=rendering,
            settings=settings,
            reference=reference,
        )
        return GroupExplanation(
            path=Path(image),
            block=found.block,
            rendering=str(found.rendering),
            where=found.where[0],
            pictures=found.pictures[0].permute(0, 2, 3, 1).numpy(),
            channel_weights=found.weights[0],
            relative_error=found.groups[0].relative_error,
            reference=found.reference.source,
            image=view.permute(1, 2, 0).numpy(),
        )


def load_classifier(
    checkpoint: str | Path | None, backbone: str = DEFAULT_BACKBONE, weights: str = DEFAULT_WEIGHTS
) -> SentimentClassifier:
    """:func:`load_model`'s model as a classifier: a checkpoint or the shipped model with its
    training config (so its prediction views), or ``backbone`` with fresh heads and a default config."""
    if checkpoint is not None or (backbone, weights) == (DEFAULT_BACKBONE, DEFAULT_WEIGHTS):
        return load(checkpoint)
    model, class_names = load_model(None, backbone, weights)
    return SentimentClassifier(model, class_names, TrainConfig(backbone=backbone, weights=weights))


def load(checkpoint: str | Path | None = None, device: str = "cpu") -> SentimentClassifier:
    """A classifier from ``checkpoint``, or the default model shipped with sentilens."""
    source = Path(checkpoint) if checkpoint is not None else default_model_path()
    loaded = load_checkpoint(source)
    config = TrainConfig.from_dict(loaded.config)
    extra = loaded.metadata.get("extra") or {}
    rate = extra.get("positive_rate") if isinstance(extra, dict) else None
    positive_rate = float(rate) if isinstance(rate, (int, float)) and 0.0 < rate < 1.0 else None
    return SentimentClassifier(loaded.model.to(torch.device(device)), loaded.class_names, config, source, positive_rate)
