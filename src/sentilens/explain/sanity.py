"""Model-randomisation sanity check of saliency maps (Adebayo et al. 2018), cascading.

A map that explains the model must change when the model's learned weights are destroyed.  The
cascade re-initialises the heads first (main and auxiliary: what the sentiment training learned),
then the backbone's blocks one at a time from the top down, each step keeping the earlier ones
random, and compares each image's map under the randomised model with its map under the trained
model: Spearman rank correlation (of the pixels' values) and SSIM (scikit-image, data range 1).
Low similarity after randomising the heads means the map depends on what was learned; maps that
stay the same would be edge detectors of the input.  A no-op step (the model copied, nothing
re-initialised) must give identical maps, which checks the comparison itself.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity
from torch import nn

from sentilens.explain.choices import DEFAULT_CAM_METHOD, CamMethod
from sentilens.explain.gradcam import grad_cam
from sentilens.models import SentimentModel

#: Draws maps ``(N, H, W)`` in [0, 1] of images ``(N, 3, H, W)`` with a given model.
ModelMaps = Callable[[SentimentModel, torch.Tensor], np.ndarray]

#: The first step of the cascade: every classifier head.
HEADS = "heads"
#: The control: the model copied, nothing re-initialised.
NO_OP = "no-op"


def reinitialise(module: nn.Module, seed: int) -> None:
    """Give every layer of ``module`` that has ``reset_parameters`` fresh initial weights (batch
    norms: identity scale and shift, running statistics reset), drawn from ``seed``."""
    torch.manual_seed(seed)
    for layer in module.modules():
        reset = getattr(layer, "reset_parameters", None)
        if callable(reset):
            reset()
        running = getattr(layer, "reset_running_stats", None)
        if callable(running):
            running()


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman correlation of two maps' values; 0 when either map is constant (no ranking)."""
    a, b = first.reshape(-1), second.reshape(-1)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(spearmanr(a, b).statistic)


def ssim(first: np.ndarray, second: np.ndarray) -> float:
    """Structural similarity of two maps in [0, 1]."""
    return float(structural_similarity(first.astype(np.float64), second.astype(np.float64), data_range=1.0))  # type: ignore[no-untyped-call]


@dataclass
class SanityStep:
    """One step of the cascade: what is random so far and each image's similarity to the trained map."""

    randomised: str
    rank_correlation: list[float]
    ssim: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "randomised": self.randomised,
            "median_rank_correlation": float(np.median(self.rank_correlation)),
            "median_ssim": float(np.median(self.ssim)),
            "rank_correlation": self.rank_correlation,
            "ssim": self.ssim,
        }


@dataclass
class SanityReport:
    """The cascade's steps, in order (the no-op control first)."""

    steps: list[SanityStep]

    def step(self, randomised: str) -> SanityStep:
        """The step whose last re-initialised part is ``randomised``."""
        return next(s for s in self.steps if s.randomised == randomised)

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [s.to_dict() for s in self.steps]}


def cascade(model: SentimentModel, depth: int | None = None) -> list[str]:
    """The cascade's order: the heads, then the blocks from the top down (``depth`` of them; all
    by default)."""
    blocks = list(reversed(model.backbone.block_names))
    return [HEADS, *(blocks if depth is None else blocks[:depth])]


def sanity_check(
    model: SentimentModel,
    images: torch.Tensor,
    maps_of: ModelMaps,
    depth: int | None = None,
    seed: int = 0,
) -> SanityReport:
    """Cascading randomisation of ``model`` (not changed: a copy is randomised) for ``images``.

    Args:
        model: the trained sentiment model.
        images: ``(N, 3, H, W)`` in [0, 1].
        maps_of: draws the maps to check with a given model (e.g. Grad-CAM at a block).
        depth: how many blocks below the heads to randomise (all by default).
        seed: seed of the fresh weights.
    """
    trained = maps_of(model, images)
    current = copy.deepcopy(model).eval()
    steps = [_compare(NO_OP, trained, maps_of(current, images))]
    for number, part in enumerate(cascade(model, depth)):
        if part == HEADS:
            reinitialise(current.main_head, seed)
            reinitialise(current.aux_heads, seed + 1)
        else:
            reinitialise(current.backbone.stages[part], seed + 2 + number)
        current.eval()
        steps.append(_compare(part, trained, maps_of(current, images)))
    return SanityReport(steps)


def _compare(randomised: str, trained: np.ndarray, changed: np.ndarray) -> SanityStep:
    return SanityStep(
        randomised,
        [rank_correlation(a, b) for a, b in zip(trained, changed)],
        [ssim(a, b) for a, b in zip(trained, changed)],
    )


def gradcam_maps(block: str, method: CamMethod | str = DEFAULT_CAM_METHOD) -> ModelMaps:
    """Maps of ``method`` at ``block`` of the fused prediction of whichever model is given (as the
    demo would draw them for that model)."""
    return lambda model, images: grad_cam(model, images, block, method=method).maps
