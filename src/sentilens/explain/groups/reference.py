"""Reference profiles: a block's typical neuron group over a set of images, to say what is specific.

The rank-1 channel weights ``v`` of an image (eq. 4, scaled to sum to 1) are dominated by each
channel's typical activation level: two unrelated photos get nearly the same ``v``, and eq. (5)
draws nearly the same picture for both.  What sets an image apart is ``v`` *relative to* the
typical ``v``: a :class:`ReferenceProfile` holds the per-channel mean and standard deviation of
``v`` over a reference set of images (and per class when the set is labelled), plus the mean
pooled activation of each channel (for the spatial grid), and where the group usually fires: the
mean and standard deviation over the set of each image's ``U`` (scaled to mean 1) at the
block's grid, against which :meth:`~sentilens.explain.NeuronGroups.where` draws where an image's
group fires *more than usual* (padding and the photographer's framing make every image's group
fire more at the border or the centre; that shared part says nothing about the image).

Profiles come from the images a command is given (``inspect`` uses its probe sample) or from a
file: the package ships one for ``inception_v3`` with ImageNet weights, computed on all 1,269
Twitter I images (three agree) and used when the backbone's weights up to the block match it.
:func:`reference_for` makes that choice.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from sentilens.explain.channel_cache import weights_digest
from sentilens.explain.groups.nmf import normalise, unit_mean
from sentilens.models.backbones import Backbone
from sentilens.utils.atomic import atomic_path
from sentilens.utils.errors import InvalidArgumentError, SentilensError


class ProfileError(SentilensError, ValueError):
    """No usable reference profile (too few images, or one made for other weights)."""


@dataclass(frozen=True)
class ReferenceProfile:
    """The typical rank-1 neuron group of one block over a reference set.

    Attributes:
        block: the block (block).
        mean: ``(C,)`` mean of the images' normalised channel weights ``v``.
        spread: ``(C,)`` their standard deviation, floored at a small share of the median so that
            channels that never vary do not divide by zero.
        activation: ``(C,)`` mean pooled activation of each channel (None: not recorded).
        class_means: ``(classes, C)`` mean ``v`` per class, or None for an unlabelled set.
        class_names: the names of those classes.
        images: how many images the profile averages.
        source: where the images came from, for the page.
        weights: digest of the backbone's weights up to the block (empty: not recorded).
        where_mean: ``(m, n)`` mean over the set of where the group fires (each image's ``U``
            scaled to mean 1 over its positions), at the block's grid (None: not recorded).
        where_spread: ``(m, n)`` their standard deviation, floored like ``spread``.
    """

    block: str
    mean: np.ndarray
    spread: np.ndarray
    activation: np.ndarray | None
    class_means: np.ndarray | None
    class_names: tuple[str, ...]
    images: int
    source: str
    weights: str = ""
    where_mean: np.ndarray | None = None
    where_spread: np.ndarray | None = None

    @property
    def usual_where(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(where_mean, where_spread)``, or None when the profile has no spatial record."""
        if self.where_mean is None or self.where_spread is None:
            return None
        return self.where_mean, self.where_spread

    def relative(self, weights: np.ndarray) -> np.ndarray:
        """Normalised channel weights ``(..., C)`` in units of the reference: ``(v - mean) / spread``.

        This is the image-specific group descriptor: positive where a channel takes a larger
        share of the image's group than it typically does.
        """
        values = np.asarray(weights, dtype=np.float64)
        if values.shape[-1] != self.mean.shape[0]:
            raise InvalidArgumentError(
                f"weights over {values.shape[-1]} channels for a {self.block} profile over {self.mean.shape[0]}"
            )
        relative: np.ndarray = ((values - self.mean) / self.spread).astype(np.float32)
        return relative


def _floored_spread(values: np.ndarray) -> np.ndarray:
    """Standard deviation over the first axis, floored at 5 % of its median (and 1e-8)."""
    spread = values.std(axis=0, ddof=1)
    floored: np.ndarray = np.maximum(spread, max(float(np.median(spread)) * 0.05, 1e-8))
    return floored


def where_statistics(where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and floored standard deviation ``(m, n)`` of at least two images' ``(N, m, n)`` ``U``
    maps, each scaled here to mean 1 over its positions (:func:`~sentilens.explain.groups.nmf.unit_mean`)."""
    maps = np.asarray(where, dtype=np.float64)
    if maps.ndim != 3 or len(maps) < 2:
        raise ProfileError(f"where a group usually fires needs (N >= 2, m, n) maps, got shape {maps.shape}")
    scaled = unit_mean(maps)
    return scaled.mean(axis=0).astype(np.float32), _floored_spread(scaled).astype(np.float32)


def profile_from(
    block: str,
    factors: np.ndarray,
    pooled: np.ndarray | None = None,
    labels: Sequence[int] | None = None,
    class_names: Sequence[str] = (),
    source: str = "",
    weights: str = "",
    where: np.ndarray | None = None,
) -> ReferenceProfile:
    """A profile from ``(N, C)`` rank-1 channel weights (normalised here) and, optionally, pooled
    activations of N images; with ``labels``, also the mean weights of each of ``class_names``.
    ``weights`` records the digest of the backbone weights they came from.  ``where``: ``(M, m,
    n)`` maps of where the rank-1 group of M images fires (they may be other images than the N,
    e.g. all but the shown ones), for :meth:`ReferenceProfile.usual_where`."""
    factors = normalise(factors).astype(np.float64)
    if len(factors) < 2:
        raise ProfileError(f"a reference profile needs at least 2 images, got {len(factors)}")
    usual = where_statistics(where) if where is not None else (None, None)
    class_means = None
    if labels is not None:
        label_array = np.asarray(labels)
        present = [c for c in range(len(class_names)) if (label_array == c).any()]
        if len(present) == len(class_names) and class_names:
            class_means = np.stack([factors[label_array == c].mean(axis=0) for c in present]).astype(np.float32)
    return ReferenceProfile(
        block=block,
        mean=factors.mean(axis=0).astype(np.float32),
        spread=_floored_spread(factors).astype(np.float32),
        activation=None if pooled is None else np.asarray(pooled, dtype=np.float64).mean(axis=0).astype(np.float32),
        class_means=class_means,
        class_names=tuple(class_names) if class_means is not None else (),
        images=len(factors),
        source=source or f"{len(factors)} images",
        weights=weights,
        where_mean=usual[0],
        where_spread=usual[1],
    )


def save_profiles(path: str | Path, profiles: Mapping[str, ReferenceProfile]) -> Path:
    """Write profiles (one per block) to one ``.npz`` file, atomically."""
    arrays: dict[str, Any] = {}
    for block, p in profiles.items():
        arrays.update({f"{block}/mean": p.mean, f"{block}/spread": p.spread})
        if p.activation is not None:
            arrays[f"{block}/activation"] = p.activation
        arrays[f"{block}/meta"] = np.array([p.source, p.weights, str(p.images), *p.class_names])
        if p.class_means is not None:
            arrays[f"{block}/class_means"] = p.class_means
        if p.usual_where is not None:
            arrays[f"{block}/where_mean"], arrays[f"{block}/where_spread"] = p.usual_where
    path = Path(path)
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        np.savez(stream, **arrays)
    return path


def load_profiles(path: str | Path) -> dict[str, ReferenceProfile]:
    """Read a file written by :func:`save_profiles`."""
    try:
        with np.load(path) as stored:
            blocks = sorted({name.split("/")[0] for name in stored.files})
            profiles = {}
            for block in blocks:
                source, weights, images, *names = (str(v) for v in stored[f"{block}/meta"])
                profiles[block] = ReferenceProfile(
                    block=block,
                    mean=stored[f"{block}/mean"],
                    spread=stored[f"{block}/spread"],
                    activation=stored[f"{block}/activation"] if f"{block}/activation" in stored.files else None,
                    class_means=stored[f"{block}/class_means"] if f"{block}/class_means" in stored.files else None,
                    class_names=tuple(names),
                    images=int(images),
                    source=source,
                    weights=weights,
                    where_mean=stored.get(f"{block}/where_mean"),
                    where_spread=stored.get(f"{block}/where_spread"),
                )
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ProfileError(f"{path}: not a reference-profile file ({error})") from None
    return profiles


def shipped_profile_path(backbone: Backbone) -> Path:
    """Where the package keeps the profile of ``backbone`` (it may not exist)."""
    return Path(str(resources.files("sentilens") / "assets" / f"reference-{backbone.name}.npz"))


def matching_profile(backbone: Backbone, block: str, path: str | Path | None = None) -> ReferenceProfile | None:
    """The profile of ``block`` from ``path`` (default: the shipped one) if it was made with the
    backbone's present weights up to ``block``; else None."""
    path = Path(path) if path is not None else shipped_profile_path(backbone)
    if not path.is_file():
        return None
    profile = load_profiles(path).get(block)
    if profile is None or profile.weights != weights_digest(backbone, block):
        return None
    return profile


def reference_for(
    backbone: Backbone,
    block: str,
    weights: np.ndarray,
    reference: str | Path | None = None,
    labels: Sequence[int] | None = None,
    class_names: Sequence[str] = (),
) -> ReferenceProfile:
    """The reference profile of ``block`` for images whose normalised rank-1 weights are ``weights`` ``(N, C)``.

    Which one: the profile file ``reference`` (``sentilens explain reference``), which must fit
    the backbone's weights; else the shipped profile when it was made with the same weights up to
    the block (the default model's ImageNet inception_v3: all of Twitter I, three agree); else the
    mean of the images at hand, when there are at least two (with ``labels``, with the mean of
    each of ``class_names`` too).
    """
    found = matching_profile(backbone, block, reference)
    if found is not None:
        return found
    if reference is not None:
        raise ProfileError(f"{reference} has no profile of {block} made with this backbone's weights")
    if len(weights) < 2:
        raise ProfileError(
            f"no shipped reference profile fits these {backbone.name} weights at {block}, and one image cannot be "
            "its own reference: give more images or a profile file (sentilens explain reference)"
        )
    return profile_from(
        block, weights, labels=labels, class_names=class_names, source=f"the {len(weights)} images given"
    )
