"""The on-disk store of block features: the frozen backbone runs once per image and view, not per run.

The pooled output of every block (and of the final map) of the frozen backbone, for one view of
one image, depends only on the backbone's weights and input size and on the image file's bytes.
This store keeps it on disk under ``$SENTILENS_CACHE/features`` (default
``~/.cache/sentilens/features``), one :class:`~sentilens.utils.disk_cache.DiskCache` per backbone
(its name and a digest of its tensors and input size), one entry per (image content SHA-256, view,
summary).  Cross-validation and training in frozen mode (:mod:`sentilens.training.prepare`) and
the block evidence of ``inspect`` and ``suggest-blocks``
(:func:`sentilens.selection.evidence.evidence_features`) read the same entries (a cross-validation
after ``inspect`` computes only the mirror view of the probe images), and a new view or a new image
computes only what is new.

A *summary* reduces a block's maps ``(N, C, H, W)`` to one row per image, ``(N, C)`` unless the
caller gives another width (a summary over positions has ``H W``); ``pooled`` (the global
average, what the heads read) is always there, and callers may add their own, named, such as
selection's rank-1 NMF channel weights and where that group fires; the name is part of the
entry's key.  Features are
computed exactly as the in-memory frozen pass does (:func:`sentilens.training.frozen_pass.run_frozen`:
channels-last layout, float32), and an image's features do not depend on the images it is
batched with (on the CPU), so a stored entry equals a fresh computation.  A damaged entry is
recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sentilens.data.choices import OnError
from sentilens.data.decoding import DecodeFailure, decode_all
from sentilens.data.folds import content_digests
from sentilens.data.images import to_unit_range, views_of
from sentilens.models.backbones import Backbone
from sentilens.runtime.torch_backend import to_memory_format
from sentilens.training.frozen_pass import FINAL, VIEWS
from sentilens.utils.cache import cache_root
from sentilens.utils.disk_cache import DiskCache, key_digest
from sentilens.utils.hashing import tensors_digest
from sentilens.utils.progress import Say, quiet, track

#: The payload layout of an entry (each block's ``(C,)`` row, float32, in depth order); bump on change.
FORMAT = "sentilens-block-features/1"
#: The summary every entry set has: each block's global average, and the final map's under ``"final"``.
POOLED = "pooled"

#: Reduces a block's maps ``(N, C, H, W)`` (on the CPU) to one row per image, ``(N, C)`` unless
#: :func:`block_features` is given another width (stored as float32).
MapSummary = Callable[[torch.Tensor], np.ndarray]


def default_store_dir() -> Path:
    """``$SENTILENS_CACHE/features``, else ``~/.cache/sentilens/features``."""
    return cache_root("features")


def backbone_digest(backbone: Backbone) -> str:
    """SHA-256 over the backbone's name and the names and bytes of its tensors."""
    return tensors_digest(backbone.state_dict(), prefix=backbone.name)


@dataclass
class BlockFeatures:
    """The stored features of the images that could be decoded.

    Attributes:
        kept: indices (into the paths asked for) of the images that have features, in order.
        values: view -> summary -> block (and ``"final"`` for ``pooled``) -> ``(len(kept), C)``
            float32 tensor.
        failures: the images that could not be decoded (only with ``on_error="skip"``).
    """

    kept: tuple[int, ...]
    values: dict[str, dict[str, dict[str, torch.Tensor]]]
    failures: tuple[DecodeFailure, ...]


def _to_bytes(rows: Mapping[str, np.ndarray], widths: Mapping[str, int]) -> bytes:
    """An entry's payload: the rows of ``widths``' names, in that order, as little-endian float32."""
    for name, width in widths.items():
        if rows[name].shape != (width,):
            raise ValueError(f"a row of {name} has shape {rows[name].shape}, not ({width},)")
    return np.concatenate([rows[name] for name in widths]).astype("<f4").tobytes()


def _parser(widths: Mapping[str, int]) -> Callable[[bytes], dict[str, np.ndarray]]:
    """Reads the rows back from a payload of :func:`_to_bytes` (a payload of another size is damaged)."""
    ends = np.cumsum(list(widths.values()))

    def parse(payload: bytes) -> dict[str, np.ndarray]:
        numbers = np.frombuffer(payload, dtype="<f4")
        if numbers.size != ends[-1]:
            raise ValueError(f"{numbers.size} numbers where {ends[-1]} were expected")
        return dict(zip(widths, np.split(numbers, ends[:-1])))

    return parse


@torch.no_grad()
def _compute(
    backbone: Backbone,
    images: torch.Tensor,
    view: str,
    summaries: Mapping[str, MapSummary],
    batch_size: int,
    device: torch.device | str,
    description: str,
) -> dict[str, dict[str, np.ndarray]]:
    """summary -> name -> ``(N, C)`` rows of ``view`` of uint8 ``images``, as the frozen pass computes them."""
    blocks = list(backbone.block_names)
    parts: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in (POOLED, *summaries)}
    starts = range(0, len(images), batch_size)
    for start in track(starts, total=len(starts), description=description):
        batch = images[start : start + batch_size]
        count = len(batch)
        if count == 1:
            # On the CPU an image's features are the same bits in any batch of two or more images,
            # but a batch of one takes another path through oneDNN (the last bits of some blocks
            # differ); run a lone image as a pair with itself, so that no entry depends on its batch.
            batch = batch.repeat(2, 1, 1, 1)
        (batch,) = views_of(batch.to(device), (view,))
        out = backbone(to_memory_format(backbone.normalize(to_unit_range(batch)), True), blocks=blocks)
        maps = {**out.blocks, FINAL: out.final}
        for name, values in maps.items():
            parts[POOLED].setdefault(name, []).append(values[:count].mean(dim=(2, 3)).float().cpu().numpy())
        for summary, reduce in summaries.items():
            for block in blocks:
                parts[summary].setdefault(block, []).append(reduce(out.blocks[block][:count].cpu()))
    return {summary: {name: np.concatenate(rows) for name, rows in found.items()} for summary, found in parts.items()}


def block_features(
    backbone: Backbone,
    paths: Sequence[Path],
    views: Sequence[str] = VIEWS,
    summaries: Mapping[str, MapSummary] | None = None,
    images: torch.Tensor | None = None,
    on_error: OnError | str = OnError.fail,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    chunk: int = 128,
    store_dir: str | Path | None = None,
    say: Say = quiet,
    widths: Mapping[str, Mapping[str, int]] | None = None,
    size: int | None = None,
) -> BlockFeatures:
    """Every block's pooled features (and the ``summaries``) of each of ``views`` of the images
    ``paths``: read from the store, the missing ones computed and stored.

    Images lacking an entry are decoded and computed ``chunk`` at a time, so an interrupted run
    keeps what it finished.

    Args:
        backbone: the frozen backbone (moved to ``device`` and put in eval mode when it has to run).
        paths: the image files; an entry is found by the SHA-256 of a file's bytes.
        views: names of :func:`~sentilens.data.images.views_of`.
        summaries: further named per-block summaries of the maps, stored beside ``pooled``.
        images: the decoded crops of all ``paths`` if already at hand (then nothing is decoded).
        on_error: ``fail`` raises on the first image that cannot be decoded; ``skip`` leaves it
            out and lists it in ``failures``.
        batch_size: images per forward pass when computing.
        device: where to compute.
        chunk: images decoded and stored at a time.
        store_dir: the store folder (default :func:`default_store_dir`).
        say: hears of damaged entries (each one is recomputed).
        widths: summary -> block -> the width of its rows, for summaries whose rows are not one
            value per channel (default: the block's channels).
        size: the side of the square crops the backbone runs on (default its input size; a
            companion network runs on the main backbone's crops); part of the entries' key.
    """
    size = size or backbone.input_size
    summaries = dict(summaries or {})
    blocks = {block: backbone.block_channels[block] for block in backbone.block_names}
    names = {
        POOLED: {**blocks, FINAL: backbone.num_features},
        **{summary: {**blocks, **(widths or {}).get(summary, {})} for summary in summaries},
    }
    base = {"backbone": backbone_digest(backbone), "size": size}
    folder = Path(store_dir or default_store_dir()) / f"{backbone.name}-{key_digest(base)[:16]}"
    store = DiskCache(folder, FORMAT, say)
    digests = content_digests(paths)

    def entry(index: int, view: str, summary: str) -> tuple[str, dict[str, object]]:
        key = {**base, "image": digests[index], "view": view, "summary": summary}
        return f"{digests[index]}-{view}-{summary}", key

    found: dict[tuple[int, str, str], dict[str, np.ndarray]] = {}
    for index in range(len(paths)):
        for view in views:
            for summary, expected in names.items():
                name, key = entry(index, view, summary)
                stored = store.load(name, key, _parser(expected))
                if stored is not None:
                    found[index, view, summary] = stored
    missing = [i for i in range(len(paths)) if any((i, v, s) not in found for v in views for s in names)]
    failures: list[DecodeFailure] = []
    if missing:
        backbone = backbone.to(device).eval()
    for start in range(0, len(missing), chunk):
        part = missing[start : start + chunk]
        if images is not None:
            decoded, kept = images[part], list(part)
        else:
            result = decode_all([paths[i] for i in part], size, on_error=on_error)
            failures += [DecodeFailure(part[f.index], f.path, f.reason) for f in result.failures]
            decoded, kept = result.images, [part[k] for k in result.kept]
        for view in views:
            rows = [r for r, i in enumerate(kept) if any((i, view, s) not in found for s in names)]
            if not rows:
                continue
            description = f"block features, {view} view (images {start + 1}-{start + len(part)} of {len(missing)})"
            computed = _compute(backbone, decoded[rows], view, summaries, batch_size, device, description)
            for position, row in enumerate(rows):
                index = kept[row]
                for summary, by_name in computed.items():
                    arrays = {name: values[position] for name, values in by_name.items()}
                    store.save(*entry(index, view, summary), _to_bytes(arrays, names[summary]))
                    found[index, view, summary] = arrays
    kept_all = tuple(i for i in range(len(paths)) if all((i, v, s) in found for v in views for s in names))
    if not kept_all:
        return BlockFeatures((), {}, tuple(failures))

    def stacked(view: str, summary: str) -> dict[str, torch.Tensor]:
        return {
            name: torch.from_numpy(np.stack([found[i, view, summary][name] for i in kept_all]))
            for name in names[summary]
        }

    values = {view: {summary: stacked(view, summary) for summary in names} for view in views}
    return BlockFeatures(kept_all, values, tuple(failures))
