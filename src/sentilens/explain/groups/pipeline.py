"""The neuron groups of some images at one block, in one call: what every use case asks for.

:func:`explain_groups` runs the whole chain of paper eq. (4)-(5): each image's map at the block
is factorised by NMF (:func:`~sentilens.explain.groups.factorise`), the channel weights are
normalised, where each group fires is drawn relative to where groups usually fire (when the
reference profile records it), the reference profile is chosen (:func:`~sentilens.explain.groups.reference_for`, or
the one given), and the groups, with the class contrast when asked for, are drawn
(:func:`~sentilens.explain.groups.draw_groups`).  It returns plain data; writing pictures, pages
and files is the caller's part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import torch

from sentilens.explain.activation_max import AscentSettings
from sentilens.explain.choices import GroupRendering
from sentilens.explain.groups.nmf import NeuronGroups, factorise
from sentilens.explain.groups.reference import ProfileError, ReferenceProfile, reference_for
from sentilens.explain.groups.render import draw_groups
from sentilens.explain.groups.where import usual_for
from sentilens.explain.spatial import image_activation
from sentilens.models.backbones import Backbone
from sentilens.utils.errors import InvalidArgumentError

#: The block whose neuron groups the demo and ``SentimentClassifier.groups`` show by default.
DEFAULT_GROUP_BLOCK = "5b"


class ContrastSource(StrEnum):
    """Which class means the class contrast draws."""

    none = "none"  # no class contrast
    reference = "reference"  # the reference profile's class means (its set's classes, when it has them)
    images = "images"  # the mean rank-1 weights of each class of the labelled images given


@dataclass
class GroupsResult:
    """The neuron groups of N images at one block, ``r`` groups each.

    Attributes:
        block: the block.
        rendering: how the pictures were drawn.
        groups: each image's factorisation (``U`` as ``spatial``, ``V``, relative error,
            whether NMF converged).
        weights: ``(N, r, C)`` channel weights, each group's row summing to 1.
        where: ``(N, r, S, S)`` in [0, 1] at the backbone's input size: where each group fires
            more than usual when the reference profile records where groups usually fire at the
            block (``unusual``), else where it fires.
        pictures: ``(N, r, 3, s, s)`` in [0, 1]: what each group responds to.
        reference: the reference profile the pictures were drawn against (``specific``) and the
            contrast may come from.
        contrast_labels: captions of the contrast pictures (empty: no contrast).
        contrast: ``(K, 3, s, s)`` in [0, 1].
    """

    block: str
    rendering: GroupRendering
    groups: list[NeuronGroups]
    weights: np.ndarray
    where: np.ndarray
    pictures: torch.Tensor
    reference: ReferenceProfile
    contrast_labels: list[str]
    contrast: torch.Tensor
    unusual: bool = False

    @property
    def relative_errors(self) -> list[float]:
        """Each image's ``||B - U V||_F / ||B||_F``."""
        return [g.relative_error for g in self.groups]


def _class_means(first: np.ndarray, labels: Sequence[int] | None, count: int) -> np.ndarray:
    """``(count, C)`` mean rank-1 weights of each class of labelled images."""
    if labels is None or len(labels) != len(first):
        raise InvalidArgumentError(f"the contrast of the images given needs one label per image ({len(first)})")
    label_array = np.asarray(labels)
    return np.stack([first[label_array == c].mean(axis=0) for c in range(count)])


def explain_groups(
    backbone: Backbone,
    images: torch.Tensor,
    block: str,
    *,
    maps: torch.Tensor | Sequence[torch.Tensor] | None = None,
    rank: int = 1,
    seed: int = 0,
    rendering: GroupRendering | str = GroupRendering.specific,
    settings: AscentSettings | None = None,
    reference: ReferenceProfile | str | Path | None = None,
    labels: Sequence[int] | None = None,
    class_names: tuple[str, ...] = ("negative", "positive"),
    contrast: ContrastSource | str = ContrastSource.none,
    cache_dir: str | Path | None = None,
) -> GroupsResult:
    """Factorise, normalise, choose the reference and draw the ``rank`` neuron groups of ``images``.

    Args:
        backbone: the network whose block is explained.
        images: ``(N, 3, S, S)`` in [0, 1] at the backbone's input size.
        block: the block (a block of ``backbone``).
        maps: the block's maps ``(N, C, m, n)`` of ``images`` when the caller already has them
            (e.g. from one pass over several blocks); None computes them image by image.
        rank: groups per image (the paper: 1).
        seed: seeds NMF's initialisation.
        rendering: ``specific`` (relative to the reference profile) or ``paper`` (eq. 5).
        settings: activation maximisation of the group (``specific``) or channel (``paper``)
            pictures.
        reference: a profile to draw against, a profile file, or None: the shipped profile when
            it fits the backbone's weights, else the images' own mean (at least two images).
        labels: each image's class index: a profile made of the images gets class means, and
            ``contrast="images"`` needs them.
        class_names: the two classes' names (captions; a profile made of the images).
        contrast: ``none``, ``reference`` (the reference set's class means; nothing when it has
            none) or ``images`` (the class means of ``images`` by ``labels``).
        cache_dir: folder of the cached channel and group pictures (None: the default folders).
    """
    backbone.check_blocks([block])
    rendering = GroupRendering(rendering)
    contrast = ContrastSource(contrast)
    activations = [image_activation(backbone, image, block) for image in images] if maps is None else list(maps)
    if len(activations) != len(images):
        raise InvalidArgumentError(f"{len(activations)} maps at {block} for {len(images)} images")
    groups = [factorise(activation, rank, seed) for activation in activations]
    weights = np.stack([g.normalised_weights() for g in groups])
    first = weights[:, 0]  # each image's strongest group: what reference profiles are made of
    if isinstance(reference, ReferenceProfile):
        if reference.block != block:
            raise ProfileError(f"a reference profile of {reference.block} given for the groups at {block}")
        profile = reference
    else:
        profile = reference_for(backbone, block, first, reference, labels, class_names)
    class_means, names = None, class_names
    if contrast == ContrastSource.reference:
        class_means, names = profile.class_means, profile.class_names or class_names
    elif contrast == ContrastSource.images:
        class_means = _class_means(first, labels, len(class_names))
    usual = usual_for(profile, groups)
    drawing = draw_groups(
        backbone,
        block,
        weights.reshape(-1, weights.shape[-1]),
        rendering,
        settings,
        profile,
        class_means,
        names,
        cache_dir,
    )
    return GroupsResult(
        block=block,
        rendering=rendering,
        groups=groups,
        weights=weights,
        where=np.stack([g.where(backbone.input_size, usual) for g in groups]),
        pictures=drawing.pictures.view(len(groups), rank, *drawing.pictures.shape[1:]),
        reference=profile,
        contrast_labels=drawing.contrast_labels,
        contrast=drawing.contrast,
        unusual=usual is not None,
    )
