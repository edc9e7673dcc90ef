"""Small PNGs for the HTML pages: pictures, heat overlays and signed overlays, written with Pillow.

Page pictures are many and small, so they skip matplotlib: each is an ``(H, W, 3)`` array blended
here and saved directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image

ArrayLike = np.ndarray | torch.Tensor


def hwc(image: ArrayLike) -> np.ndarray:
    """A ``(3, H, W)`` picture in [0, 1] (tensor or array) as ``(H, W, 3)`` float numpy."""
    array = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, np.float32)
    if array.ndim == 3 and array.shape[0] == 3 and array.shape[-1] != 3:
        array = array.transpose(1, 2, 0)
    clipped: np.ndarray = np.clip(array, 0.0, 1.0)
    return clipped


def heat_overlay(image: ArrayLike, heat: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """``image`` with a non-negative map ``(H, W)`` blended on top (inferno), stretched from the
    map's lowest value (the image shows through) to its highest (bright, most opaque).

    The stretch matters for neuron groups: at early blocks the rank-1 group fires almost
    everywhere (its lowest value is often 70 % of its peak), and a map drawn from 0 would tint
    the whole image alike, hiding where it fires most.
    """
    values = np.asarray(heat, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    stretched = (values - low) / (high - low) if high > low else np.zeros_like(values)
    colours = np.asarray(colormaps["inferno"](stretched))[..., :3]
    weight = alpha * stretched[..., None]
    blended: np.ndarray = (1 - weight) * hwc(image) + weight * colours
    return blended


def signed_overlay(image: ArrayLike, values: np.ndarray, alpha: float = 0.6, percentile: float = 98.0) -> np.ndarray:
    """``image`` with a signed map ``(H, W)`` on top: red where positive, blue where negative,
    symmetric about 0; zero leaves the image as it is.

    The colour saturates at the ``percentile`` of the magnitudes rather than at the largest one:
    class activation maps of a linear probe are heavy-tailed (a few positions reach the maximum,
    most stay below a tenth of it), and scaling by the maximum leaves them all but invisible.
    """
    scale = float(np.percentile(np.abs(values), percentile)) or float(np.abs(values).max()) or 1.0
    normalised = np.clip(values / scale, -1.0, 1.0)
    colours = np.asarray(colormaps["RdBu_r"](normalised / 2 + 0.5))[..., :3]
    weight = alpha * np.abs(normalised)[..., None]
    blended: np.ndarray = (1 - weight) * hwc(image) + weight * colours
    return blended


def upsample(maps: np.ndarray, side: int) -> np.ndarray:
    """Maps ``(N, m, n)`` resized to ``(N, side, side)`` (bilinear)."""
    tensor = torch.as_tensor(np.asarray(maps, dtype=np.float32))[:, None]
    resized = torch.nn.functional.interpolate(tensor, size=(side, side), mode="bilinear", align_corners=False)
    result: np.ndarray = resized[:, 0].numpy()
    return result


def save_png(picture: ArrayLike, path: str | Path) -> Path:
    """Write a picture (``(3, H, W)`` or ``(H, W, 3)``, floats in [0, 1] or uint8) as a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = picture.detach().cpu().numpy() if isinstance(picture, torch.Tensor) else np.asarray(picture)
    if array.dtype != np.uint8:
        array = (hwc(array) * 255).round().astype(np.uint8)
    elif array.shape[0] == 3 and array.shape[-1] != 3:
        array = array.transpose(1, 2, 0)
    Image.fromarray(np.ascontiguousarray(array)).save(path)
    return path
