"""Build the ``sentilens inspect`` report: evidence and pictures per tap, then the HTML page.

Per tap the page shows (1) the rank-1 neuron-group picture (eq. 4-5) of each sampled negative
and positive image, side by side; (2) the *class-average* pictures: eq. (5) drawn with the mean
of the class's normalised group weights ``v``, i.e. the neuron group typical of each class;
(3) Grad-CAM overlays at the tap for one image of each class, explaining that image's own
label; (4) the probe accuracy and NMF separation of :mod:`sentilens.selection.evidence`.
Channel pictures come from :class:`~sentilens.explain.ChannelPictureCache`, so a second report
on the same backbone skips the expensive activation maximisation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sentilens.app.classifier import load_model
from sentilens.data import LabelledImages
from sentilens.data.images import load_view, to_unit_range
from sentilens.data.store import OnError, decode_dataset
from sentilens.explain import (
    AscentSettings,
    ChannelPictureCache,
    NeuronGroups,
    factorise,
    grad_cam,
    group_pictures,
    image_activation,
)
from sentilens.models import SentimentModel
from sentilens.reports import figures
from sentilens.reports.inspect_html import TapSection, write_report
from sentilens.selection.evidence import Ranking, rank_taps
from sentilens.selection.sampling import per_class_sample, stratified_subset
from sentilens.utils.progress import Say, quiet, track


@dataclass
class Inspection:
    """What :func:`build_inspection` wrote."""

    index: Path
    ranking: Ranking
    files: list[Path] = field(default_factory=list)


def _load(paths: Sequence[Path], size: int) -> torch.Tensor:
    return to_unit_range(torch.stack([load_view(p, size) for p in paths]))


def _average_picture(pictures: torch.Tensor, weights: np.ndarray) -> torch.Tensor:
    """Eq. (5) for the mean of normalised group weights ``(images, C)``."""
    mean = weights.mean(axis=0, keepdims=True)
    return group_pictures(pictures, NeuronGroups(np.zeros((1, 1, 1)), mean, 0.0))[0]


def _tap_pictures(
    model: SentimentModel,
    tap: str,
    images: torch.Tensor,
    labels: Sequence[int],
    names: Sequence[str],
    class_names: Sequence[str],
    channel_pictures: torch.Tensor,
    folder: Path,
    seed: int,
) -> TapSection:
    backbone = model.backbone
    groups, weights = [], []
    with torch.no_grad():
        for image in images:
            factor = factorise(image_activation(backbone, image, tap), rank=1, seed=seed)
            groups.append(group_pictures(channel_pictures, factor))
            total = factor.channel_weights[0].sum()
            weights.append(factor.channel_weights[0] / total if total > 0 else factor.channel_weights[0])
    labels_array, stacked, weights_array = np.asarray(labels), torch.stack(groups), np.stack(weights)
    negative, positive = np.flatnonzero(labels_array == 0), np.flatnonzero(labels_array == 1)
    group_png = figures.save_neuron_groups(
        folder / f"{tap}-groups.png",
        {tap: (stacked[negative], stacked[positive])},
        [names[int(i)] for i in negative],
        [names[int(i)] for i in positive],
    )
    averages = torch.stack(
        [
            _average_picture(channel_pictures, weights_array[negative]),
            _average_picture(channel_pictures, weights_array[positive]),
        ]
    )
    average_png = figures.save_picture_grid(
        folder / f"{tap}-average.png", averages, [f"{class_names[0]} average", f"{class_names[1]} average"], columns=2
    )
    cams = []
    for index in (negative[0], positive[0]):
        label = int(labels_array[index])
        result = grad_cam(model, images[index : index + 1], tap, target=label)
        cams.append(
            figures.save_gradcam(
                folder / f"{tap}-gradcam-{class_names[label]}.png",
                images[index],
                result.maps[0],
                f"{tap}: Grad-CAM for {class_names[label]}",
            )
        )
    return TapSection(tap, group_png, average_png, cams)


def build_inspection(
    model: SentimentModel,
    weights: str,
    dataset: LabelledImages,
    out: str | Path,
    per_class: int = 6,
    probe_images: int | None = 200,
    settings: AscentSettings | None = None,
    cache_dir: str | Path | None = None,
    k: int = 3,
    n_splits: int = 5,
    seed: int = 0,
    source: str = "",
) -> Inspection:
    """Rank every tap of ``model``'s backbone and write the report folder ``out``.

    Args:
        model: a sentiment model (ImageNet backbone with fresh heads, or a trained checkpoint).
        weights: how the exported config names the backbone's weights.
        dataset: labelled images; both classes are required.
        per_class: images of each class shown as neuron-group pictures.
        probe_images: images (class-balanced sample) for the probe and separation numbers;
            None uses all.
        settings: activation-maximisation settings of the channel pictures.
        cache_dir: channel-picture cache (default ``$SENTILENS_CACHE`` or ``~/.cache``).
        k: size of the suggested set (pre-ticked in the page).
        source: a description of where the model came from, shown on the page.
    """
    dataset.require_all_classes()
    out = Path(out)
    folder = out / "taps"
    folder.mkdir(parents=True, exist_ok=True)
    backbone = model.eval().backbone
    size = backbone.input_size
    probe, images, _ = decode_dataset(stratified_subset(dataset, probe_images, seed), size, on_error=OnError.skip)
    ranking = rank_taps(backbone, weights, probe, images, k=k, n_splits=n_splits, seed=seed)
    sample = per_class_sample(dataset, per_class, seed)
    indices = [i for label in sorted(sample) for i in sample[label]]
    shown = _load([dataset.paths[i] for i in indices], size)
    labels = [dataset.labels[i] for i in indices]
    names = [dataset.paths[i].name for i in indices]
    cache = ChannelPictureCache(cache_dir)
    settings = settings or AscentSettings()
    sections = []
    for tap in track(backbone.tap_names, total=len(backbone.tap_names), description="report pictures"):
        pictures = cache.layer(backbone, tap, settings).pictures
        sections.append(_tap_pictures(model, tap, shown, labels, names, dataset.class_names, pictures, folder, seed))
    index = write_report(out, ranking, sections, source=source or f"{backbone.name} ({weights})")
    files = [index, *(p for s in sections for p in (s.groups, s.average, *s.gradcam))]
    return Inspection(index, ranking, files)


def model_and_weights(checkpoint: Path | None, backbone: str, weights: str, out: Path) -> tuple[SentimentModel, str]:
    """The model to inspect and the ``weights`` value a config needs to rebuild its backbone.

    For a trained ``checkpoint`` the backbone's weights are written to ``out/backbone.pt`` so that
    the exported config can name them.
    """
    model, _ = load_model(checkpoint, backbone, weights)
    if checkpoint is None:
        return model, weights
    out.mkdir(parents=True, exist_ok=True)
    path = (out / "backbone.pt").resolve()
    torch.save(model.backbone.state_dict(), path)
    return model, str(path)


def model_source(checkpoint: Path | None, model: SentimentModel, weights: str) -> str:
    """How the report page names where its model came from."""
    if checkpoint is not None:
        return f"checkpoint {checkpoint}"
    return f"{model.backbone.name} ({weights} weights; fresh heads, so Grad-CAM explains an untrained decision)"


@dataclass
class Suggestion:
    """What :func:`suggest_layers` ranked and wrote."""

    ranking: Ranking
    files: list[Path]


def suggest_layers(
    dataset: LabelledImages,
    out: Path,
    checkpoint: Path | None = None,
    backbone: str = "inception_v3",
    weights: str = "imagenet",
    probe_images: int | None = None,
    k: int = 3,
    n_splits: int = 5,
    seed: int = 0,
    say: Say = quiet,
) -> Suggestion:
    """Rank the blocks by linear-probe accuracy and NMF separation; write ``suggest.md``,
    ``suggest.json`` and ``suggested-config.json`` (a config for ``--config``) to ``out``."""
    began = time.perf_counter()
    dataset.require_all_classes()
    model, weights_name = model_and_weights(checkpoint, backbone, weights, out)
    sample = stratified_subset(dataset, probe_images, seed)
    sample, images, skipped = decode_dataset(sample, model.backbone.input_size, on_error=OnError.skip)
    for failure in skipped:
        say(f"skipped {failure.reason}")
    ranking = rank_taps(model.backbone, weights_name, sample, images, k=k, n_splits=n_splits, seed=seed)
    config = ranking.config()
    ranking.seconds = time.perf_counter() - began
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "suggest.md", out / "suggest.json", out / "suggested-config.json"]
    files[0].write_text(ranking.markdown(), encoding="utf-8")
    files[1].write_text(json.dumps(ranking.to_dict(), indent=2), encoding="utf-8")
    files[2].write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    return Suggestion(ranking, files)
