"""The spliced-image test (paper figure 6): does Grad-CAM light up the half that fits the verdict?

A negative image (left) and a positive image (right) are put side by side in one input, the model
predicts a class, and Grad-CAM at the last block explains that class.  The *matching share* is
the fraction of the map's mass on the half whose true label equals the prediction; 0.5 is what a
map blind to the halves would score.

Layouts (the paper does not say how the two images were fitted into one input):

* ``squash`` (default): the two square centre crops side by side, resized to the input size, so
  each half shows a whole image at half its width.
* ``crop``: the central vertical strip (half the width) of each square crop, undistorted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from sentilens.explain.choices import SpliceLayout
from sentilens.explain.gradcam import grad_cam
from sentilens.models import SentimentModel
from sentilens.utils.errors import InvalidArgumentError

LAYOUTS = tuple(SpliceLayout)


def splice(left: torch.Tensor, right: torch.Tensor, layout: str = "squash") -> torch.Tensor:
    """One square image ``(3, S, S)`` from two square images of the same size (any dtype)."""
    if layout not in LAYOUTS:
        raise InvalidArgumentError(f"layout must be one of {', '.join(SpliceLayout)}, got {layout!r}")
    if left.shape != right.shape or left.shape[-1] != left.shape[-2]:
        raise InvalidArgumentError(
            f"need two square images of one size, got {tuple(left.shape)} and {tuple(right.shape)}"
        )
    side = left.shape[-1]
    if layout == "crop":
        quarter = side // 4
        half = side // 2
        return torch.cat([left[..., quarter : quarter + half], right[..., quarter : quarter + side - half]], dim=-1)
    joined = torch.cat([left, right], dim=-1).unsqueeze(0).float()
    squashed = F.interpolate(joined, size=(side, side), mode="bilinear", align_corners=False, antialias=True)[0]
    return squashed.round().clamp(0, 255).to(left.dtype) if left.dtype == torch.uint8 else squashed


def matching_share(cam: np.ndarray, predicted: int, left_label: int, right_label: int) -> float:
    """Share of the map's mass on the half whose label equals ``predicted`` (0.5 if the map is empty).

    When both or neither half carry the predicted label the share is of the left half.
    """
    half = cam.shape[-1] // 2
    left_mass = float(cam[..., :half].sum())
    right_mass = float(cam[..., cam.shape[-1] - half :].sum())
    total = left_mass + right_mass
    if total <= 0:
        return 0.5
    return right_mass / total if right_label == predicted and left_label != predicted else left_mass / total


@dataclass
class SpliceResult:
    """Outcome of the test on one pair.

    Attributes:
        image: the spliced input ``(3, S, S)`` in [0, 1].
        cam: the Grad-CAM map ``(S, S)``.
        predicted: the fused prediction on the spliced image.
        probabilities: its fused class probabilities.
        share: matching share of the map.
    """

    image: torch.Tensor
    cam: np.ndarray
    predicted: int
    probabilities: np.ndarray
    share: float


def spliced_test(
    model: SentimentModel,
    negatives01: torch.Tensor,
    positives01: torch.Tensor,
    block: str | None = None,
    layout: str = "squash",
) -> list[SpliceResult]:
    """Run the test on pairs ``(negatives01[i] | positives01[i])``, images ``(N, 3, S, S)`` in [0, 1].

    Args:
        model: the sentiment model (class 0 negative, class 1 positive).
        block: block explained; None means the backbone's last block (paper: 5b; inception_v3: 7c).
        layout: ``squash`` or ``crop`` (see module docstring).
    """
    block = block or model.backbone.block_names[-1]
    spliced = torch.stack([splice(n, p, layout) for n, p in zip(negatives01, positives01)])
    result = grad_cam(model, spliced, block)
    return [
        SpliceResult(image, cam, int(target), probabilities, matching_share(cam, int(target), 0, 1))
        for image, cam, target, probabilities in zip(spliced, result.maps, result.targets, result.probabilities)
    ]
