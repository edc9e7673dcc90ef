"""EfficientNet-Lite0 features of its own 224-px crops, for the recipes measured before the companion
was built (issue 20: ``effnet-logistic``, ``fused-logistic`` and the late fusions of ``recipes.py``).

The network is the package's registered backbone (``sentilens.models.create_backbone("efficientnet_lite0")``;
when this benchmark was first run it was a copy written here, and the two give the same features
to the last bit).  The shipped companion reads the 299-px crops Inception reads instead (the
``shipped`` recipe); this module keeps the 224-px recipe reproducible.

:func:`pooled_features` returns, per image, the global average of the last map (1280 channels)
and of blocks ``b10`` and ``b14`` (112 and 192 channels), averaged over the centre and mirror
views, computed once and kept in a ``.npz`` under the sentilens cache folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sentilens.data.images import centre_crop_resize, decode_image
from sentilens.models import create_backbone
from sentilens.utils.hashing import file_digest

INPUT_SIZE = 224
#: Blocks whose pooled output is kept besides the last map: the ends of the 112- and 192-channel stages.
KEPT_BLOCKS = ("b10", "b14")


def image_batch(paths: Sequence[str | Path]) -> torch.Tensor:
    """The centre crops of ``paths`` at 224 px in [0, 1] (N, 3, 224, 224), as the data layer crops them."""
    arrays = [np.asarray(centre_crop_resize(decode_image(p), INPUT_SIZE), dtype=np.float32) / 255.0 for p in paths]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def pooled_features(paths: Sequence[str | Path], cache_dir: Path, batch: int = 32) -> dict[str, np.ndarray]:
    """``{name: (N, C)}`` pooled features averaged over the centre and mirror views (names: the
    kept blocks ``b10``, ``b14`` and ``final``), computed once per set of file contents."""
    key = hashlib.sha256("\n".join(file_digest(Path(p)) for p in paths).encode()).hexdigest()
    cache = cache_dir / f"efficientnet_lite0-{key[:16]}.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            return {name: stored[name] for name in stored.files}
    network = create_backbone("efficientnet_lite0").eval()
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(paths), batch):
        images = image_batch(paths[start : start + batch])
        views = [network(network.normalize(view), blocks=KEPT_BLOCKS) for view in (images, images.flip(-1))]
        for name in (*KEPT_BLOCKS, "final"):
            pooled = [(out.final if name == "final" else out.blocks[name]).mean(dim=(2, 3)) for out in views]
            parts.setdefault(name, []).append(((pooled[0] + pooled[1]) / 2).numpy())
    features = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".partial.npz")
    np.savez(partial, **features)
    partial.replace(cache)
    return features
