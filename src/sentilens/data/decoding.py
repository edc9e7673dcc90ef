"""Decode a dataset's images once into one uint8 tensor of centre crops, accounting for every file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from sentilens.data.choices import OnError
from sentilens.data.images import ImageDecodeError, load_view
from sentilens.data.labelled import LabelledImages
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.progress import track


@dataclass(frozen=True)
class DecodeFailure:
    """An input image that was left out, and why (the message names the file)."""

    index: int
    path: Path
    reason: str


@dataclass(frozen=True)
class DecodedImages:
    """The decoded images and what happened to every input.

    Attributes:
        images: uint8 ``(len(kept), 3, size, size)`` centre crops, in input order.
        kept: input index of each row of ``images``.
        failures: the inputs left out; ``kept`` and ``failures`` together cover every input once.
    """

    images: torch.Tensor
    kept: tuple[int, ...]
    failures: tuple[DecodeFailure, ...]


def check_on_error(on_error: OnError | str) -> None:
    """Raise :class:`~sentilens.utils.errors.InvalidArgumentError` unless ``on_error`` names an :class:`OnError`."""
    if on_error not in tuple(OnError):
        raise InvalidArgumentError(f"on_error must be 'fail' or 'skip', got {on_error!r}")


def load_or_reason(path: Path, size: int) -> torch.Tensor | str:
    """The centre crop of one image, or the reason (naming the file) it cannot be decoded."""
    try:
        return load_view(path, size)
    except ImageDecodeError as error:
        return str(error)


def decode_all(
    paths: Sequence[Path], size: int, description: str = "decoding images", on_error: OnError | str = OnError.fail
) -> DecodedImages:
    """Centre crops of all images, decoded in a thread pool (Pillow releases the GIL).

    With ``on_error="fail"`` the first image that cannot be decoded raises
    :class:`~sentilens.data.ImageDecodeError` naming the file; with ``"skip"`` it is left out and
    listed in ``failures`` with the reason, so that nothing is dropped silently.
    """
    check_on_error(on_error)
    images = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    kept: list[int] = []
    failures: list[DecodeFailure] = []
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        views = pool.map(lambda path: load_or_reason(path, size), paths)
        for index, view in track(enumerate(views), total=len(paths), description=description):
            if isinstance(view, str):
                if on_error == "fail":
                    raise ImageDecodeError(view)
                failures.append(DecodeFailure(index, Path(paths[index]), view))
            else:
                images[len(kept)] = view
                kept.append(index)
    return DecodedImages(images[: len(kept)], tuple(kept), tuple(failures))


def decode_dataset(
    dataset: LabelledImages, size: int, on_error: OnError | str = OnError.fail
) -> tuple[LabelledImages, torch.Tensor, tuple[DecodeFailure, ...]]:
    """Decode ``dataset``; return the images that decoded (as a dataset), their crops, and the
    failures (indices into the original ``dataset``).  Raises if no image at all decodes."""
    decoded = decode_all(dataset.paths, size, on_error=on_error)
    if not decoded.kept:
        first = decoded.failures[0].reason if decoded.failures else "no images"
        raise ImageDecodeError(f"{dataset.name}: none of the {len(dataset)} images could be decoded (first: {first})")
    usable = dataset if not decoded.failures else dataset.subset(decoded.kept)
    return usable, decoded.images, decoded.failures
