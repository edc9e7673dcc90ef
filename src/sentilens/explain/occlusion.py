"""Occlusion of a block's grid cells (Zeiler & Fergus 2014): a perturbation map of the fused verdict.

Grad-CAM reads the gradient at one block and so only guesses what removing a region would do;
occlusion does it.  The image is cut into the cells of a block's grid (its map size: 8x8 at 7a of
inception_v3, the same cells the random-cells baseline of :mod:`~sentilens.explain.faithfulness`
shuffles), each cell in turn is replaced by the same blurred copy of the image that the deletion
metric fills removed pixels with (:func:`~sentilens.explain.faithfulness.filled`), and the cell's
score is how much the explained class's fused probability (``predict_proba``, the verdict the
metric reads) drops.  captum's :class:`~captum.attr.FeatureAblation` does the ablation, with a
feature mask of the cells and the filled image as its baseline, ``per_pass`` occluded images per
forward pass.

Cost: one forward pass per cell (64 at 7a) per image, against Grad-CAM's one forward and backward
pass; BENCHMARKS.md ("Occlusion of the map's cells") measures both.  Scores can be negative (the
cell works against the class); the map is the scores min-max scaled to [0, 1] per image, so that
it keeps the whole order of the cells (0 = the cell whose removal helps the class most).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import FeatureAblation

from sentilens.explain.choices import Fill
from sentilens.explain.faithfulness import Verdict, filled
from sentilens.utils.errors import InvalidArgumentError

#: Occluded images per forward pass: a whole 8x8 grid at once.
OCCLUSION_PER_PASS = 64


def cell_mask(shape: tuple[int, int], grid: tuple[int, int]) -> torch.Tensor:
    """``(H, W)`` index of each pixel's cell of ``grid`` (row-major), the cells of
    :func:`~sentilens.explain.faithfulness.random_cells` (nearest resize of the grid)."""
    if min(grid) < 1 or grid[0] > shape[0] or grid[1] > shape[1]:
        raise InvalidArgumentError(f"grid {grid} does not fit an image of {shape}")
    rows = (torch.arange(shape[0]) * grid[0]) // shape[0]
    columns = (torch.arange(shape[1]) * grid[1]) // shape[1]
    return rows[:, None] * grid[1] + columns[None, :]


@dataclass
class OcclusionResult:
    """Occlusion of a batch.

    Attributes:
        scores: ``(N, rows, columns)`` drop of the explained class's probability per occluded cell.
        maps: ``(N, H, W)`` the scores at the input's size, min-max scaled to [0, 1] per image.
        targets: the class each map explains.
    """

    scores: np.ndarray
    maps: np.ndarray
    targets: np.ndarray


def scaled(cells: np.ndarray) -> np.ndarray:
    """Cell scores min-max scaled to [0, 1] (all zero where every cell scores the same)."""
    low, high = float(cells.min()), float(cells.max())
    if high - low <= 0:
        return np.zeros_like(cells, dtype=np.float32)
    return ((cells - low) / (high - low)).astype(np.float32)


@torch.no_grad()
def occlusion(
    model: Verdict,
    images01: torch.Tensor,
    grid: tuple[int, int],
    targets: int | Sequence[int] | None = None,
    fill: Fill | str = Fill.blur,
    per_pass: int = OCCLUSION_PER_PASS,
) -> OcclusionResult:
    """Occlusion maps of images ``(N, 3, H, W)`` in [0, 1] over the cells of ``grid``.

    Args:
        model: anything with ``predict_proba`` (a :class:`~sentilens.models.SentimentModel`: its
            calibrated fused probabilities).
        images01: the input batch.
        grid: (rows, columns) of cells.
        targets: class explained, for every image or one per image; None: each image's prediction.
        fill: what an occluded cell shows (the blurred copy by default, as the deletion metric).
        per_pass: occluded images per forward pass.
    """
    shape = (int(images01.shape[-2]), int(images01.shape[-1]))
    mask = cell_mask(shape, grid)
    if targets is None:
        chosen = model.predict_proba(images01).argmax(dim=1).tolist()
    elif isinstance(targets, int):
        chosen = [targets] * len(images01)
    else:
        chosen = [int(t) for t in targets]
    ablation = FeatureAblation(lambda batch: model.predict_proba(batch))
    cells = grid[0] * grid[1]
    first_pixel = torch.stack([(mask == c).nonzero()[0] for c in range(cells)])
    scores, maps = [], []
    for image, target in zip(images01, chosen):
        attribution = ablation.attribute(
            image[None],
            baselines=filled(image[None], fill),
            target=int(target),
            feature_mask=mask[None, None].to(image.device),
            perturbations_per_eval=per_pass,
        )[0, 0].cpu()
        per_cell = attribution[first_pixel[:, 0], first_pixel[:, 1]].numpy().reshape(grid)
        scores.append(per_cell)
        maps.append(scaled(per_cell)[(mask // grid[1]).numpy(), (mask % grid[1]).numpy()])
    return OcclusionResult(np.stack(scores), np.stack(maps), np.asarray(chosen))
