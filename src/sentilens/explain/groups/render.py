"""How neuron groups are drawn: the image-specific rendering (default) or the paper's eq. (5).

* ``specific``: a group's *direction* relative to a :class:`~sentilens.explain.groups.ReferenceProfile`,
  ``(v - mean) / spread`` (channels that take a larger share of this group than usual count
  positive, smaller share negative), drawn by activation maximisation
  (:mod:`sentilens.explain.groups.ascent`).  Class averages use the class's mean ``v``; the class
  contrast adds the difference of the two class directions, in both signs ("more in positive",
  "more in negative"), unless the reference's mean lies between the two class means (a reference
  made of those very images, as in ``inspect`` and the shipped profile): then each class average
  already *is* the difference in one sign, and drawing it twice would show the same picture twice.
* ``paper``: eq. (5) exactly, ``S = sum_k P^k v_k / sum_k v_k`` over the cached channel pictures
  of the whole block (:class:`~sentilens.explain.ChannelPictureCache`); class averages draw the
  class's mean ``v`` the same way and the contrast is the pixel difference of the two averages
  (mid-grey: no difference).

BENCHMARKS.md ("Neuron groups a person can read") has the measurements behind the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sentilens.explain.activation_max import AscentSettings
from sentilens.explain.channel_cache import ChannelPictureCache
from sentilens.explain.choices import GroupRendering
from sentilens.explain.groups.ascent import direction_pictures
from sentilens.explain.groups.reference import ProfileError, ReferenceProfile
from sentilens.models.backbones import Backbone
from sentilens.utils.errors import InvalidArgumentError


@dataclass
class GroupDrawing:
    """Pictures of some groups of one block, and of the class contrast when one was asked for.

    Attributes:
        pictures: ``(N, 3, s, s)`` in [0, 1], one per row of the weights given.
        contrast_labels: names of the contrast pictures (empty: no contrast).
        contrast: ``(K, 3, s, s)`` in [0, 1].
    """

    pictures: torch.Tensor
    contrast_labels: list[str]
    contrast: torch.Tensor


def contrast_names(class_names: tuple[str, ...]) -> list[str]:
    """Captions of the contrast pictures of two classes: the two averages, then the difference in
    both signs (left out when the averages already show it)."""
    negative, positive = class_names[:2]
    return [f"{negative} average", f"{positive} average", f"more in {positive}", f"more in {negative}"]


def _same_direction(first: np.ndarray, second: np.ndarray, cosine: float = 0.999) -> bool:
    """Whether two directions point the same way (up to a positive factor)."""
    norms = float(np.linalg.norm(first) * np.linalg.norm(second))
    return norms > 0 and float(first @ second) / norms >= cosine


def draw_groups(
    backbone: Backbone,
    block: str,
    weights: np.ndarray,
    rendering: GroupRendering | str = GroupRendering.specific,
    settings: AscentSettings | None = None,
    profile: ReferenceProfile | None = None,
    class_means: np.ndarray | None = None,
    class_names: tuple[str, ...] = ("negative", "positive"),
    cache_dir: str | Path | None = None,
) -> GroupDrawing:
    """Draw the groups with normalised channel weights ``weights`` ``(N, C)`` at ``block``.

    Args:
        rendering: ``specific`` (needs ``profile``) or ``paper``.
        settings: activation-maximisation settings of the group (``specific``) or channel
            (``paper``) pictures.
        profile: the reference profile of ``block`` (``specific`` draws relative to it).
        class_means: ``(2, C)`` mean normalised weights of the negative and the positive class:
            also draw the class contrast (None: no contrast): the two class averages, and for
            ``specific`` their difference in both signs unless the averages already are it.
        class_names: names of those two classes, for the captions.
        cache_dir: folder of the cached channel and group pictures (None: their default folders
            under ``$SENTILENS_CACHE`` or ``~/.cache/sentilens``).
    """
    rendering = GroupRendering(rendering)
    settings = settings or AscentSettings()
    weights = np.asarray(weights, dtype=np.float32).reshape(-1, backbone.block_channels[block])
    if class_means is not None:
        class_means = np.asarray(class_means, dtype=np.float32)
        if class_means.shape != (2, weights.shape[1]):
            raise InvalidArgumentError(f"class means of shape {class_means.shape} for two classes at {block}")
    labels = contrast_names(class_names) if class_means is not None else []
    if rendering == GroupRendering.paper:
        channels = ChannelPictureCache(cache_dir).block_pictures(backbone, block, settings).pictures
        rows = np.concatenate([weights, class_means]) if class_means is not None else weights
        drawn = torch.einsum(
            "rc,cxyz->rxyz", torch.as_tensor(rows / np.maximum(rows.sum(1, keepdims=True), 1e-12)), channels
        )
        pictures, averages = drawn[: len(weights)], drawn[len(weights) :]
        if class_means is None:
            return GroupDrawing(pictures, [], averages)
        difference = averages[1] - averages[0]
        scale = float(difference.abs().max()) or 1.0
        signed = torch.stack([0.5 + difference / (2 * scale), 0.5 - difference / (2 * scale)])
        return GroupDrawing(pictures, labels, torch.cat([averages, signed]))
    if profile is None:
        raise ProfileError(f"the image-specific rendering at {block} needs a reference profile")
    directions = profile.relative(weights)
    if class_means is not None:
        negative, positive = profile.relative(class_means)
        contrast = [negative, positive]
        difference = positive - negative
        if not (_same_direction(positive, difference) and _same_direction(-negative, difference)):
            contrast += [difference, -difference]
        labels = labels[: len(contrast)]
        directions = np.concatenate([directions, np.stack(contrast)])
    drawn = direction_pictures(backbone, block, directions, settings, cache_dir)
    return GroupDrawing(drawn[: len(weights)], labels, drawn[len(weights) :])
