"""The maps of ``inspect`` as maps to measure: the block's probe map and the neuron group's "where" map.

Grad-CAM needs only the model (:func:`~sentilens.explain.cam_explainer`).  The two other maps the
pages draw need images besides the measured ones: the linear probe of a block is fitted on
labelled images, and the "where" map is drawn against where groups usually fire over a reference
set.  Here both come from other images of the same labelled folder than the measured ones, as on
the inspect page (never from the measured images themselves), so a score says how much the
model's verdict depends on what the map shows, not how well the map fits images it was made from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sentilens.data import LabelledImages
from sentilens.explain import Explainer, profile_from, where_explainer
from sentilens.models import SentimentModel
from sentilens.reports import upsample
from sentilens.selection import LinearProbe, evidence_features, fit_probe, stratified_subset
from sentilens.utils import InvalidArgumentError, Say, quiet


def signed_for_verdict(cams: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Probe maps ``(N, H, W)`` (positive = pushes toward the positive class) turned toward each
    image's verdict: as they are where the model says positive, negated where it says negative, so
    that higher always means "supports the explained label"."""
    signed: np.ndarray = np.where(np.asarray(positive, dtype=bool)[:, None, None], cams, -cams)
    return signed


def probe_explainer(model: SentimentModel, block: str, probe: LinearProbe) -> Explainer:
    """The CAM of ``block``'s fitted linear ``probe`` as the inspect page draws it, turned toward the
    model's fused verdict (:func:`signed_for_verdict`), at the input size."""
    backbone = model.backbone

    def maps(images: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            block_maps = backbone(backbone.normalize(images), blocks=[block], stop=block).blocks[block]
            positive = model.predict_proba(images).argmax(dim=1).numpy() == 1
        return signed_for_verdict(upsample(probe.cam(block_maps), backbone.input_size), positive)

    side = backbone.input_size
    with torch.no_grad():
        grid = backbone(torch.zeros((1, 3, side, side)), blocks=[block], stop=block).blocks[block].shape[-2:]
    return Explainer(f"probe {block}", maps, (int(grid[0]), int(grid[1])))


def reference_explainers(
    model: SentimentModel,
    dataset: LabelledImages,
    measured: Sequence[Path],
    blocks: Sequence[str],
    where: bool,
    probe: bool,
    reference_images: int | None = 200,
    seed: int = 0,
    say: Say = quiet,
) -> list[Explainer]:
    """The "where" and/or probe maps at each of ``blocks``, made from up to ``reference_images``
    images of ``dataset`` (a class-balanced sample) other than the ``measured`` ones.

    Raises:
        InvalidArgumentError: when fewer than two images of each class are left over.
    """
    if not (where or probe):
        return []
    shown = set(measured)
    rest = [i for i, path in enumerate(dataset.paths) if path not in shown]
    others = dataset.subset(rest)
    counts = others.class_counts()
    if len(rest) < 4 or min(counts.values()) < 2:
        raise InvalidArgumentError(
            f"the probe and 'where' maps need at least two images of each class besides the {len(measured)} "
            f"measured ones, and {dataset.name} leaves {counts}: measure fewer images (--limit)"
        )
    reference, features, _ = evidence_features(
        model.backbone, stratified_subset(others, reference_images, seed), blocks=list(blocks), say=say, where=where
    )
    say(f"probe and reference profile from {len(reference)} other images of {dataset.name}")
    explainers = []
    for block in blocks:
        if where:
            profile = profile_from(
                block,
                features.factors[block],
                features.pooled[block],
                reference.labels,
                reference.class_names,
                f"{len(reference)} other images of {dataset.name}",
                where=features.where[block],
            )
            explainers.append(where_explainer(model.backbone, block, profile, seed))
        if probe:
            fitted = fit_probe(features.pooled[block], reference.labels)
            explainers.append(probe_explainer(model, block, fitted))
    return explainers
