"""The neuron group's "where" map as a map to measure: where each image's rank-1 group fires.

The pages draw, per image and block, where its strongest neuron group fires more than it usually
does (:meth:`~sentilens.explain.NeuronGroups.where` against the reference profile's usual map).
:func:`where_maps` computes exactly those maps without drawing the group pictures, and
:func:`where_explainer` wraps them for :func:`~sentilens.explain.measure_faithfulness`, so the
"where" row of ``demo`` and ``inspect`` can be scored like a class activation map.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sentilens.explain.faithfulness import Explainer
from sentilens.explain.groups.nmf import NeuronGroups, factorise
from sentilens.explain.groups.reference import ReferenceProfile, reference_for
from sentilens.explain.spatial import image_activation
from sentilens.models.backbones import Backbone


def usual_for(profile: ReferenceProfile, groups: Sequence[NeuronGroups]) -> tuple[np.ndarray, np.ndarray] | None:
    """The profile's usual "where" ``(mean, spread)`` when it was made at the groups' grid, else None
    (a profile made at another input size: its grid does not fit, and the raw ``U`` is drawn)."""
    usual = profile.usual_where
    if usual is None or not groups or usual[0].shape != tuple(groups[0].spatial.shape[1:]):
        return None
    return usual


def where_maps(
    backbone: Backbone,
    images: torch.Tensor,
    block: str,
    reference: ReferenceProfile | None = None,
    seed: int = 0,
) -> np.ndarray:
    """``(N, S, S)``: where each image's rank-1 group at ``block`` fires, as the pages draw it.

    With a ``reference`` profile (or the shipped one, when it fits the backbone's weights) that
    knows where groups usually fire, the map is where the group fires *more than usual*; otherwise
    the group's own spatial factor ``U``.  ``images`` are ``(N, 3, S, S)`` in [0, 1].
    """
    backbone.check_blocks([block])
    groups = [factorise(image_activation(backbone, image, block), 1, seed) for image in images]
    if reference is None:
        first = np.stack([group.normalised_weights()[0] for group in groups])
        reference = reference_for(backbone, block, first)
    usual = usual_for(reference, groups)
    return np.stack([group.where(backbone.input_size, usual)[0] for group in groups])


def where_explainer(
    backbone: Backbone, block: str, reference: ReferenceProfile | None = None, seed: int = 0
) -> Explainer:
    """The "where" map at ``block`` as an :class:`~sentilens.explain.Explainer` (grid: the block's)."""
    side = backbone.input_size
    with torch.no_grad():
        grid = tuple(image_activation(backbone, torch.zeros((3, side, side)), block).shape[-2:])
    return Explainer(
        f"where {block}",
        lambda images: where_maps(backbone, images, block, reference, seed),
        (int(grid[0]), int(grid[1])),
    )
