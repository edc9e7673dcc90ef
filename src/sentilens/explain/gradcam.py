"""Grad-CAM (Selvaraju et al. 2017) of the fused sentiment prediction at any block.

pytorch-grad-cam fits the model once it sees a single output: :class:`FusedLogProbabilities`
wraps a :class:`~sentilens.models.SentimentModel` so that its forward returns the log of the
fused class probabilities (the weighted vote of the main and auxiliary heads).  Its argmax is
the fused prediction, which is therefore the default target, and a class's gradient flows
through every head that lies above the chosen block.  The block's stage module is the target layer.
Maps are the library's: ReLU of the gradient-weighted channel sum, resized to the input and
scaled to [0, 1] per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from sentilens.explain.errors import check_class_index
from sentilens.models import SentimentModel


class FusedLogProbabilities(nn.Module):
    """``log p_fused(images)``: a one-output view of a multi-head sentiment model."""

    def __init__(self, model: SentimentModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, images01: torch.Tensor) -> torch.Tensor:
        return self.model.fuse(self.model(images01)).clamp_min(1e-12).log()


@dataclass
class GradCamResult:
    """Grad-CAM maps of a batch.

    Attributes:
        maps: ``(N, H, W)`` non-negative maps at the input's size, scaled to [0, 1] per image.
        targets: the class each map explains.
        probabilities: ``(N, num_classes)`` fused probabilities of the inputs.
    """

    maps: np.ndarray
    targets: np.ndarray
    probabilities: np.ndarray


def grad_cam(
    model: SentimentModel, images01: torch.Tensor, block: str, target: int | Sequence[int] | None = None
) -> GradCamResult:
    """Grad-CAM at ``block`` for images ``(N, 3, H, W)`` in [0, 1].

    Args:
        model: the sentiment model (its weights are not changed).
        images01: the input batch.
        block: block whose output map is explained (any of ``model.backbone.block_names``).
        target: class index to explain, for every image or one per image (e.g. the verdicts of a
            faster runtime); None explains each image's fused prediction.
    """
    model.backbone.check_blocks([block])
    per_image = None if target is None else [target] * len(images01) if isinstance(target, int) else list(target)
    for index in per_image or []:
        check_class_index(index, model.num_classes)
    wrapper = FusedLogProbabilities(model).eval()
    device = next(model.parameters()).device
    # The input asks for gradients so that the block's map has one even when every backbone
    # parameter is frozen (as after frozen-mode training).
    inputs = images01.detach().to(device).requires_grad_(True)
    with GradCAM(model=wrapper, target_layers=[model.backbone.stages[block]]) as cam:
        targets = None if per_image is None else [ClassifierOutputTarget(index) for index in per_image]
        maps = cam(input_tensor=inputs, targets=targets)
        log_probabilities = cam.outputs.detach().cpu()
    model.zero_grad(set_to_none=True)
    probabilities = log_probabilities.exp().numpy()
    chosen = probabilities.argmax(axis=1) if per_image is None else np.asarray(per_image)
    return GradCamResult(maps=np.asarray(maps, dtype=np.float32), targets=chosen, probabilities=probabilities)
