"""A second network that votes beside the heads: a frozen ImageNet backbone and a linear read-out.

Re-weighting the blocks of one frozen Inception-v3 stays at its ceiling on other people's images
(issue 20); a network that reads images differently adds what Inception misses.  The companion is
the recipe measured to win by nested cross-validation (BENCHMARKS.md, "Recipes for the default
model"): the global average of EfficientNet-Lite0's last map, standardised with the training
images' mean and standard deviation, and a logistic regression on it, fitted after the heads
(:mod:`sentilens.training.companion_fit`).  It sees the same crop as the main backbone (the
299-px centre crop and its mirror for Inception-v3: EfficientNet is fully convolutional), so one
decoded image feeds both networks.

The model fuses the two votes as ``(1 - w) * heads' vote + w * softmax(companion)``
(:meth:`~sentilens.models.SentimentModel.fuse`), ``w = companion_weight``, 0.5 in the measured recipe.
"""

from __future__ import annotations

import torch
from torch import nn

from sentilens.models.backbones import Backbone


class Companion(nn.Module):
    """Frozen ``backbone``, its pooled last map standardised, and a linear layer to class logits.

    ``mean``/``scale`` (buffers) and ``linear`` are what training fits and a checkpoint stores;
    the backbone's weights are the pinned ImageNet ones, never trained.  Until fitted, the mean is
    0, the scale 1 and the linear layer 0 (an even vote).
    """

    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(self, backbone: Backbone, num_classes: int = 2) -> None:
        super().__init__()
        self.backbone = backbone.requires_grad_(False)
        width = backbone.num_features
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("scale", torch.ones(width))
        self.linear = nn.Linear(width, num_classes)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def train(self, mode: bool = True) -> Companion:
        """Switch the read-out's mode; the frozen backbone (its batch norm) always stays in eval mode."""
        super().train(mode)
        self.backbone.eval()
        return self

    @property
    def name(self) -> str:
        """The companion backbone's registry name."""
        return self.backbone.name

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, C)`` pooled last map of RGB images in [0, 1] (what the read-out is fitted on)."""
        final: torch.Tensor = self.backbone(self.backbone.normalize(images)).final
        return final.mean(dim=(2, 3))

    def read_out(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits of pooled features (float32, also under bfloat16 autocast, as the heads)."""
        with torch.autocast(features.device.type, enabled=False):
            standardised = (features.float() - self.mean) / self.scale
            logits: torch.Tensor = self.linear(standardised)
            return logits

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits of RGB images in [0, 1]."""
        return self.read_out(self.features(images))

    @torch.no_grad()
    def set_read_out(self, mean: torch.Tensor, scale: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Install a fitted read-out: standardisation ``(x - mean) / scale``, then ``weight @ x + bias``."""
        self.mean.copy_(mean)
        self.scale.copy_(scale)
        self.linear.weight.copy_(weight)
        self.linear.bias.copy_(bias)
