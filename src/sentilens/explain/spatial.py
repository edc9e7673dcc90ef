"""Spatial-location visualisation (paper eq. 3): what the network sees at each place of an image.

For one image and one block with an ``m x n`` map of ``t`` channels, the cell at ``(i, j)`` is
``q_ij = sum_k P^k w^k_ij``: the channel pictures ``P^k`` weighted by the activations at that
position.  We divide by ``sum_k w^k_ij`` so each cell is a weighted *mean* of pictures and stays
a displayable image in [0, 1]; cells where every channel is silent are left black.  Cells are
laid out in the map's own row/column order, so the grid lines up with the image.

Over all channels (the ``paper`` rendering) every cell is a mean of hundreds of pictures and
comes out nearly the same grey whatever the weights.  The default ``strongest`` rendering keeps,
per cell, only the ``k`` channels most active there *relative to their typical level* (each
channel's activation divided by its mean over a reference set, when one is given), so a cell
shows what is particular to that place.  BENCHMARKS.md has the measurements.
"""

from __future__ import annotations

import torch

from sentilens.explain.activation_max import block_activations
from sentilens.models.backbones import Backbone
from sentilens.utils.errors import InvalidArgumentError

#: Channels per cell of the ``strongest`` rendering.
STRONGEST_K = 3


@torch.no_grad()
def image_activation(backbone: Backbone, image01: torch.Tensor, block: str) -> torch.Tensor:
    """The block's map ``(C, m, n)`` for one image ``(3, S, S)`` in [0, 1]."""
    backbone.eval()
    return block_activations(backbone, image01.unsqueeze(0), block)[0]


def spatial_cells(
    pictures: torch.Tensor,
    activation: torch.Tensor,
    top_k: int | None = None,
    typical: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. (3): one picture per map position, shape ``(m, n, 3, s, s)``.

    Args:
        pictures: channel pictures ``(C, 3, s, s)`` in [0, 1], one per channel of the block.
        activation: the block's map ``(C, m, n)`` for one image (non-negative).
        top_k: keep only each position's ``top_k`` strongest channels (None: all, as in eq. 3);
            fewer channels give less washed-out cells.
        typical: ``(C,)`` each channel's typical activation (e.g. its mean over a reference set);
            when given, weights are activations divided by it, so a channel counts by how much
            more active it is here than usual.
    """
    if pictures.shape[0] != activation.shape[0]:
        raise InvalidArgumentError(
            f"{pictures.shape[0]} channel pictures for a map with {activation.shape[0]} channels"
        )
    weights = activation.clamp_min(0).flatten(1).T  # (m n, C)
    if typical is not None:
        weights = weights / typical.float().clamp_min(1e-6 * float(typical.max().clamp_min(1e-12)))
    if top_k is not None:
        if top_k < 1:
            raise InvalidArgumentError(f"top_k must be at least 1, got {top_k}")
        threshold = weights.topk(min(top_k, weights.shape[1]), dim=1).values[:, -1:]
        weights = torch.where(weights >= threshold, weights, torch.zeros_like(weights))
    totals = weights.sum(dim=1, keepdim=True)
    weights = torch.where(totals > 0, weights / totals.clamp_min(1e-12), weights)
    cells = torch.einsum("pc,cxyz->pxyz", weights, pictures.float())
    return cells.view(activation.shape[1], activation.shape[2], *pictures.shape[1:])


def tile(cells: torch.Tensor, gap: int = 1) -> torch.Tensor:
    """Lay cells ``(m, n, 3, s, s)`` out as one image ``(3, m (s + gap) - gap, n (s + gap) - gap)``."""
    rows, columns, channels, side, _ = cells.shape
    step = side + gap
    canvas = torch.ones((channels, rows * step - gap, columns * step - gap))
    for i in range(rows):
        for j in range(columns):
            canvas[:, i * step : i * step + side, j * step : j * step + side] = cells[i, j]
    return canvas
