"""PNG figures for the explanations, drawn with matplotlib's Agg canvas.

Figures are built on :class:`matplotlib.figure.Figure` objects rather than pyplot, so nothing
touches the global backend or keeps figures alive, and drawing works without a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from sentilens.reports.pictures import heat_overlay

ArrayLike = np.ndarray | torch.Tensor


def _hwc(image: ArrayLike) -> np.ndarray:
    """A ``(3, H, W)`` image in [0, 1] as ``(H, W, 3)`` float numpy."""
    array = (
        image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, dtype=np.float32)
    )
    clipped: np.ndarray = np.clip(array.transpose(1, 2, 0), 0.0, 1.0)
    return clipped


def overlay(image: ArrayLike, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The image ``(3, H, W)`` with a jet-coloured map ``(H, W)`` in [0, 1] blended on top."""
    heat = np.asarray(colormaps["jet"](np.clip(cam, 0.0, 1.0)))[..., :3]
    blended: np.ndarray = (1 - alpha) * _hwc(image) + alpha * heat
    return blended


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return path


def _hide_axes(axes: np.ndarray) -> None:
    for ax in np.ravel(axes):
        ax.set_xticks([])
        ax.set_yticks([])


def save_gradcam(path: str | Path, image: ArrayLike, cam: np.ndarray, title: str) -> Path:
    """Input image and its Grad-CAM overlay side by side."""
    figure = Figure(figsize=(7, 3.8))
    axes = figure.subplots(1, 2)
    axes[0].imshow(_hwc(image))
    axes[0].set_title("input")
    axes[1].imshow(overlay(image, cam))
    axes[1].set_title(title, fontsize=9 if "\n" in title else None)
    _hide_axes(axes)
    return _save(figure, path)


def save_picture_grid(
    path: str | Path, pictures: ArrayLike, labels: Sequence[str] | None = None, columns: int = 16, title: str = ""
) -> Path:
    """Pictures ``(K, 3, s, s)`` in a grid, optionally labelled (e.g. by channel index)."""
    count = len(pictures)
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    figure = Figure(figsize=(1.1 * columns, 1.2 * rows + (0.4 if title else 0)))
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for index, ax in enumerate(axes):
        if index < count:
            ax.imshow(_hwc(pictures[index]))
            if labels is not None:
                ax.set_title(labels[index], fontsize=7)
        ax.axis("off")
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def save_spatial(path: str | Path, image: ArrayLike, grid: ArrayLike, title: str) -> Path:
    """Input image next to its spatial-location grid (eq. 3)."""
    figure = Figure(figsize=(12, 6))
    axes = figure.subplots(1, 2, width_ratios=[1, 2])
    axes[0].imshow(_hwc(image))
    axes[0].set_title("input")
    axes[1].imshow(_hwc(grid))
    axes[1].set_title(title)
    _hide_axes(axes)
    return _save(figure, path)


def _stretch(picture: np.ndarray) -> np.ndarray:
    low, high = float(picture.min()), float(picture.max())
    return (picture - low) / (high - low) if high > low else np.zeros_like(picture)


def save_group_figure(
    path: str | Path,
    images: ArrayLike,
    wheres: Sequence[np.ndarray],
    pictures: ArrayLike,
    names: Sequence[str],
    contrast: Sequence[tuple[str, ArrayLike]],
    title: str,
    stretch: bool = False,
) -> Path:
    """Neuron groups of one block: per image (columns), where its groups fire (``U`` over the
    image, top row) and their pictures (second row); the class contrast in a third row.

    ``wheres[i]`` is ``(r, H, W)`` in [0, 1] and ``pictures[i]`` ``(r, 3, s, s)``; with ``r > 1``
    a cell shows the image's groups side by side.  ``stretch`` stretches each picture's range.
    """
    columns = max(len(names), len(contrast), 1)
    rows = 3 if contrast else 2
    figure = Figure(figsize=(1.9 * columns, 2.0 * rows + 0.5))
    axes = figure.subplots(rows, columns, squeeze=False)
    show = _stretch if stretch else (lambda picture: picture)
    for column, name in enumerate(names):
        overlays = [heat_overlay(images[column], where) for where in wheres[column]]
        axes[0, column].imshow(np.concatenate(overlays, axis=1))
        axes[0, column].set_title(name[:24], fontsize=7, color="tab:red" if name.startswith("neg") else "tab:green")
        axes[1, column].imshow(np.concatenate([show(_hwc(p)) for p in pictures[column]], axis=1))
    for column, (label, picture) in enumerate(contrast):
        axes[2, column].imshow(show(_hwc(picture)))
        axes[2, column].set_title(label, fontsize=8)
    axes[0, 0].set_ylabel("where")
    axes[1, 0].set_ylabel("what")
    if contrast:
        axes[2, 0].set_ylabel("class contrast")
    for ax in np.ravel(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if not ax.images:
            ax.axis("off")
    figure.suptitle(title, fontsize=9)
    return _save(figure, path)


def save_splice(path: str | Path, image: ArrayLike, cam: np.ndarray, predicted: str, share: float) -> Path:
    """A spliced image (negative | positive) and the Grad-CAM of the predicted class."""
    return save_gradcam(path, image, cam, f"Grad-CAM for {predicted}: {share:.0%} on the matching half")
