"""An on-disk store of per-image :class:`~sentilens.selection.evidence.TapFeatures`: the backbone
runs once per (weights, taps, image), so a second ``inspect`` or ``suggest-layers`` on the same
images, or on a sample that overlaps an earlier one, skips decoding and the forward pass.

Entries live under ``$SENTILENS_CACHE/tap-features/<backbone>-<key>/<image sha256>.npz``
(default ``~/.cache/sentilens``); the key digests the backbone's tensors (as the feature store
does), its input size and the taps.  Files are written atomically; a damaged entry is recomputed.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sentilens.data import ImageDecodeError, LabelledImages
from sentilens.data.folds import content_digests
from sentilens.data.store import DecodeFailure, OnError, decode_all
from sentilens.models.backbones import Backbone
from sentilens.selection.evidence import TapFeatures, collect_tap_features
from sentilens.training.feature_store import backbone_digest
from sentilens.utils.atomic import atomic_path
from sentilens.utils.cache import cache_root
from sentilens.utils.hashing import json_digest
from sentilens.utils.progress import track


def default_store_dir() -> Path:
    """``$SENTILENS_CACHE/tap-features``, else ``~/.cache/sentilens/tap-features``."""
    return cache_root("tap-features")


def entry_folder(backbone: Backbone, taps: Sequence[str], store_dir: str | Path | None = None) -> Path:
    """The folder holding one file per image for this backbone (weights and input size) and taps."""
    key = json_digest({"backbone": backbone_digest(backbone), "size": backbone.input_size, "taps": list(taps)})
    return Path(store_dir or default_store_dir()) / f"{backbone.name}-{key[:24]}"


def _load(path: Path, taps: Sequence[str]) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as stored:
            return {name: stored[name] for t in taps for name in (f"pooled-{t}", f"factors-{t}")}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def load_or_collect(
    backbone: Backbone,
    dataset: LabelledImages,
    taps: Sequence[str] | None = None,
    store_dir: str | Path | None = None,
    chunk: int = 64,
) -> tuple[LabelledImages, TapFeatures, tuple[DecodeFailure, ...]]:
    """Pooled maps and rank-1 NMF factors of ``taps`` (default all) for the images of ``dataset``
    that decode: stored images are read, the others decoded, computed and stored ``chunk`` images
    at a time (an interrupted run keeps what it finished).

    Returns the images that decoded (as a dataset, in the original order), their features and the
    decoding failures (indices into ``dataset``).
    """
    taps = tuple(taps) if taps is not None else backbone.tap_names
    backbone.check_taps(taps)
    folder = entry_folder(backbone, taps, store_dir)
    digests = content_digests(dataset.paths)
    entries = {i: _load(folder / f"{d}.npz", taps) for i, d in enumerate(digests)}
    missing = [i for i, entry in entries.items() if entry is None]
    failures: list[DecodeFailure] = []
    chunks = [missing[start : start + chunk] for start in range(0, len(missing), chunk)]
    for part in track(chunks, total=len(chunks), description=f"tap features ({len(missing)} images)"):
        decoded = decode_all([dataset.paths[i] for i in part], backbone.input_size, on_error=OnError.skip)
        failures += [DecodeFailure(part[f.index], f.path, f.reason) for f in decoded.failures]
        if not decoded.kept:
            continue
        computed = collect_tap_features(backbone, decoded.images, taps)
        for row, position in enumerate(decoded.kept):
            index = part[position]
            arrays = {f"pooled-{t}": computed.pooled[t][row] for t in taps}
            arrays.update({f"factors-{t}": computed.factors[t][row] for t in taps})
            entries[index] = arrays
            with atomic_path(folder / f"{digests[index]}.npz") as temporary, open(temporary, "wb") as stream:
                np.savez(stream, **arrays)
    found = {i: entry for i, entry in entries.items() if entry is not None}
    if not found:
        first = failures[0].reason if failures else "no images"
        raise ImageDecodeError(f"{dataset.name}: none of the {len(dataset)} images could be decoded (first: {first})")
    kept = sorted(found)
    features = TapFeatures(
        pooled={t: np.stack([found[i][f"pooled-{t}"] for i in kept]) for t in taps},
        factors={t: np.stack([found[i][f"factors-{t}"] for i in kept]) for t in taps},
    )
    return (dataset if len(kept) == len(dataset) else dataset.subset(kept)), features, tuple(failures)
