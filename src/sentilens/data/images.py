"""Decoding images and making the views: centre crop and resize, the mirror image, a zoomed crop."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sentilens.data.choices import VIEW_NAMES
from sentilens.utils.errors import InvalidArgumentError, SentilensError

if TYPE_CHECKING:  # torch is imported where a tensor is made: decoding alone does not need it
    import torch


class ImageDecodeError(SentilensError, ValueError):
    """An image that cannot be decoded; the message names the file and the reason."""


def decode_image(path: str | Path) -> Image.Image:
    """Open an image as 8-bit RGB, applying its EXIF orientation.

    Grayscale, palette, CMYK, 16-bit and alpha images are converted (alpha is composited on
    white).  An image with more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` is refused before its
    pixels are decoded (a small file can claim a huge size), and so is an empty one.  Anything
    Pillow cannot decode raises :class:`ImageDecodeError` naming the file and the reason.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            _check_size(image, path)
            image.load()
            return _to_rgb(ImageOps.exif_transpose(image))
    except ImageDecodeError:
        raise
    except FileNotFoundError:
        raise ImageDecodeError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageDecodeError(f"{path}: is a folder, not an image") from None
    except Image.DecompressionBombError as error:
        raise ImageDecodeError(f"{path}: refused, too many pixels ({error})") from error
    except _PILLOW_ERRORS as error:
        raise ImageDecodeError(f"{path}: cannot decode image ({type(error).__name__}: {error})") from error


# What Pillow's format plugins raise on corrupt or hostile bytes.  Fuzzing (tests/test_fuzz.py,
# benchmarks/reliability.py) meets UnidentifiedImageError, OSError, ValueError and SyntaxError;
# the others come from individual plugins' header parsing, and MemoryError from a header asking
# for an absurd buffer.
_PILLOW_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    MemoryError,
)


def _check_size(image: Image.Image, path: Path) -> None:
    """Refuse empty images and decompression bombs from the header alone (thread-safe, unlike
    turning Pillow's DecompressionBombWarning into an error)."""
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageDecodeError(f"{path}: empty image ({width}x{height} pixels)")
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise ImageDecodeError(
            f"{path}: refused, {width}x{height} = {width * height} pixels exceeds the "
            f"decompression-bomb limit of {limit} (PIL.Image.MAX_IMAGE_PIXELS)"
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.nan_to_num(np.asarray(image, dtype=np.float64)).clip(0, None)
        peak = array.max() if array.max() > 255 else 255.0
        image = Image.fromarray((array / peak * 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def centre_crop_resize(image: Image.Image, size: int) -> Image.Image:
    """The largest centred square, resized to ``size`` x ``size`` (bilinear, antialiased)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side))


def load_view_array(path: str | Path, size: int) -> np.ndarray:
    """Decode, centre-crop and resize one image to a uint8 array of shape (size, size, 3)."""
    return np.asarray(centre_crop_resize(decode_image(path), size), dtype=np.uint8)


def load_view(path: str | Path, size: int) -> torch.Tensor:
    """Decode, centre-crop and resize one image to a uint8 tensor of shape (3, size, size)."""
    import torch

    return torch.from_numpy(load_view_array(path, size).copy()).permute(2, 0, 1)


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 3, H, W) to float in [0, 1]."""
    return images.float().div_(255.0)


#: ``zoom`` (one of :data:`~sentilens.data.choices.VIEW_NAMES`): the central ``ZOOM`` share of the crop.
ZOOM = 0.8


def _zoomed(images: torch.Tensor) -> torch.Tensor:
    """The central ``ZOOM`` share of uint8 ``images`` (N, 3, S, S), resized back to S x S."""
    size = images.shape[-1]
    side = round(size * ZOOM)
    start = (size - side) // 2
    import torch

    crop = images[..., start : start + side, start : start + side].float()
    resized = torch.nn.functional.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)
    return resized.round_().clamp_(0, 255).to(torch.uint8)


def views_of(images: torch.Tensor, views: Sequence[str]) -> list[torch.Tensor]:
    """The named views (see :data:`VIEW_NAMES`) of a uint8 batch of centre crops (N, 3, S, S)."""
    result = []
    for view in views:
        if view == "centre":
            result.append(images)
        elif view == "mirror":
            result.append(images.flip(-1))
        elif view == "zoom":
            result.append(_zoomed(images))
        elif view == "zoom-mirror":
            result.append(_zoomed(images).flip(-1))
        else:
            raise InvalidArgumentError(f"unknown view {view!r}; expected one of {', '.join(VIEW_NAMES)}")
    return result
