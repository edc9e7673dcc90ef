"""Decode a dataset's images once into one uint8 tensor of centre crops."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from ..progress import track
from .images import load_view


def decode_all(paths: Sequence[Path], size: int, description: str = "decoding images") -> torch.Tensor:
    """Centre crops of all images as a uint8 tensor ``(N, 3, size, size)``.

    Decoding runs in a thread pool (Pillow releases the GIL while decoding).  An image that
    cannot be decoded raises :class:`~sentilens.data.ImageDecodeError` naming the file.
    """
    images = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        views = pool.map(lambda path: load_view(path, size), paths)
        for index, view in track(enumerate(views), total=len(paths), description=description):
            images[index] = view
    return images
