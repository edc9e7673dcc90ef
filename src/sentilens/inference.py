"""Classify image files with a trained model: batched, views averaged, bad files reported."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .data.images import ImageDecodeError, to_unit_range, views_of
from .data.sources import IMAGE_SUFFIXES
from .data.store import check_on_error, load_or_reason
from .models import SentimentModel
from .progress import track


@dataclass
class Prediction:
    """The fused verdict for one image, and each head's probability of the positive class.

    Attributes:
        path: the image file.
        label: predicted class name.
        probability: fused probability of the predicted class.
        positive_probability: fused probability of class index 1 ("positive").
        head_probabilities: positive-class probability of each head (``main`` and the taps).
    """

    path: Path
    label: str
    probability: float
    positive_probability: float
    head_probabilities: dict[str, float] = field(default_factory=dict)


@dataclass
class Skipped:
    """An input that was not classified, and why."""

    path: Path
    reason: str


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files as given and image files found recursively in folders, sorted per folder."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths.extend(sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            paths.append(item)
    return paths


@torch.no_grad()
def predict_paths(
    model: SentimentModel,
    class_names: Sequence[str],
    paths: Sequence[Path],
    views: Sequence[str] = ("centre", "mirror"),
    batch_size: int = 32,
    on_error: str = "skip",
) -> tuple[list[Prediction], list[Skipped]]:
    """Classify ``paths``; with ``on_error="skip"`` undecodable files are listed, not fatal."""
    check_on_error(on_error)
    model.eval()
    size = model.backbone.input_size
    device = next(model.parameters()).device
    predictions: list[Prediction] = []
    skipped: list[Skipped] = []
    batches = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for batch_paths in track(batches, total=len(batches), description="classifying"):
            loaded = list(pool.map(lambda p: load_or_reason(p, size), batch_paths))
            good = [(p, t) for p, t in zip(batch_paths, loaded) if isinstance(t, torch.Tensor)]
            for path, result in zip(batch_paths, loaded):
                if isinstance(result, str):
                    if on_error == "fail":
                        raise ImageDecodeError(result)
                    skipped.append(Skipped(Path(path), result))
            if not good:
                continue
            images = to_unit_range(torch.stack([t for _, t in good])).to(device)
            fused = torch.zeros((len(good), model.num_classes), device=device)
            heads: dict[str, torch.Tensor] = {}
            for view_batch in views_of(images, views):
                logits = model(view_batch)
                fused += model.fuse(logits) / len(views)
                for name, head_logits in {"main": logits.main, **logits.aux}.items():
                    heads[name] = heads.get(name, 0) + head_logits.softmax(1)[:, 1] / len(views)
            for row, (path, _) in enumerate(good):
                best = int(fused[row].argmax())
                predictions.append(
                    Prediction(
                        path=Path(path),
                        label=class_names[best],
                        probability=float(fused[row, best]),
                        positive_probability=float(fused[row, 1]),
                        head_probabilities={name: float(values[row]) for name, values in heads.items()},
                    )
                )
    return predictions, skipped
