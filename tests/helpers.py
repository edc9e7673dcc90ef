"""Helpers the tests import: small synthetic images with fixed seeds (no hashing of strings)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from sentilens.models import SentimentModel


def write_image(path: Path, seed: int, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Path:
    """A random-noise image of ``size`` (width, height) from ``seed``, saved in ``mode`` at ``path``."""
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(array).convert(mode).save(path)
    return path


def tiny_model(seed: int = 0, companion: bool = False) -> SentimentModel:
    """A SentimentModel on a three-block toy backbone (32 px): converts and quantises in seconds.

    With ``companion`` it also holds the ImageNet EfficientNet-Lite0 companion with a seeded random
    read-out (a vote that is not even), mixed in with weight 0.5."""
    import torch
    from torch import nn

    from sentilens.models import Companion, SentimentModel, create_backbone
    from sentilens.models.backbones import Backbone, BackboneSpec

    class ConvBNReLU(nn.Sequential):
        def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
            self.bn = nn.BatchNorm2d(channels_out)
            self.relu = nn.ReLU()

    class TinyBackbone(Backbone):
        spec = BackboneSpec(
            name="tiny",
            input_size=32,
            blocks=("a", "b", "c"),
            block_channels={"a": 8, "b": 16, "c": 16},
            num_features=16,
            default_aux_blocks=("a", "b"),
            smallest_inputs={"a": 1, "b": 1, "c": 1},
            weights={"none": "random initialisation"},
        )

        def __init__(self) -> None:
            super().__init__()
            self.stages["a"] = ConvBNReLU(3, 8, 2)
            self.stages["b"] = ConvBNReLU(8, 16, 2)
            self.stages["c"] = ConvBNReLU(16, 16, 1)

    torch.manual_seed(seed)
    second = None
    if companion:
        second = Companion(create_backbone("efficientnet_lite0"))
        width = second.backbone.num_features
        second.set_read_out(torch.rand(width), torch.rand(width) + 0.5, torch.randn(2, width) / 4, torch.zeros(2))
    model = SentimentModel(TinyBackbone(), blocks=("a", "b"), aux_weights=(0.3, 0.3), companion=second)
    for module in model.modules():  # batch-norm statistics that folding actually has to fold
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def shortcut_facts(model: SentimentModel, class_names: list[str]) -> dict[str, object]:
    """What ``predict`` tells the torch-free shortcut about ``model`` (no external weight files:
    a model made here rather than loaded from a checkpoint), centre and mirror views."""
    return {
        "depends_on": [],
        "class_names": class_names,
        "blocks": list(model.blocks),
        "aux_weights": list(model.aux_weights),
        "companion_weight": model.companion_weight,
        "votes": list(model.vote_names),
        "temperature": model.temperature,
        "input_size": model.backbone.input_size,
        "views": ["centre", "mirror"],
    }
