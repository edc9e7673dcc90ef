"""Neuron-group visualisation (paper eq. 4-5): NMF of a block's activations, groups drawn as pictures.

The block's map ``B`` (``m n`` positions x ``t`` channels, non-negative because every Inception
block ends in ReLUs) is factorised ``B ~ U V`` with scikit-learn's NMF; ``U`` (``m n x r``) says
where each group is active and ``V`` (``r x t``) which channels form it.  A group's picture is
``S = sum_k P^k v_k`` over the channel pictures, divided by ``sum_k v_k`` so it stays in [0, 1].
The paper uses ``r = 1`` (one group per image); ``r > 1`` gives one picture per group, ordered
by how much of the activation each group explains.

scikit-learn stops NMF at ``max_iter`` with a ``ConvergenceWarning``; :func:`factorise` keeps
the warning out of the terminal and records it in :attr:`NeuronGroups.converged`, so that a
command can report all such maps in one line (the relative error says how good the fit is).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning

from sentilens.explain.errors import RankError, check_rank
from sentilens.utils.errors import InvalidArgumentError


def normalise(weights: np.ndarray) -> np.ndarray:
    """Rows of non-negative channel weights scaled to sum to 1 (all-zero rows stay zero)."""
    values = np.asarray(weights, dtype=np.float64)
    totals = values.sum(axis=-1, keepdims=True)
    scaled: np.ndarray = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0).astype(np.float32)
    return scaled


@dataclass
class NeuronGroups:
    """The factorisation of one image's block map.

    Attributes:
        spatial: ``U`` as maps ``(r, m, n)``: where each group fires.
        channel_weights: ``V`` ``(r, t)``: each group's channel weights (non-negative).
        relative_error: ``||B - U V||_F / ||B||_F``.
        converged: False when NMF stopped at its iteration limit.
    """

    spatial: np.ndarray
    channel_weights: np.ndarray
    relative_error: float
    converged: bool = True

    def normalised_weights(self) -> np.ndarray:
        """``V`` with each group's row scaled to sum to 1: which channels make up the group."""
        return normalise(self.channel_weights)

    def where(self, side: int, usual: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """``U`` as ``(r, side, side)`` maps in [0, 1] (bilinear, each scaled by its maximum):
        where on the image each group fires.

        With ``usual``, the ``(mean, spread)`` ``(m, n)`` of where groups fire over a reference set
        (:meth:`~sentilens.explain.ReferenceProfile.usual_where`), where each group fires *more
        than usual*: :func:`unusual_where` of ``U`` at the block's grid, upsampled, and scaled so
        that the top 10 % of the places above usual are at full brightness (a group that fires as
        usual: all zero).
        """
        spatial = np.asarray(self.spatial, dtype=np.float64)
        if usual is not None:
            spatial = unusual_where(spatial, *usual)
        maps = torch.as_tensor(spatial, dtype=torch.float32)[None]
        up = F.interpolate(maps, size=(side, side), mode="bilinear", align_corners=False)[0].clamp_min(0)
        peaks = up.flatten(1).amax(dim=1)
        if usual is not None:
            # A few places far above usual would leave the rest of the map too faint to see: full
            # brightness from the 90th percentile of the places above usual on.
            peaks = torch.stack([m[m > 0].quantile(SATURATION) if (m > 0).any() else m.max() for m in up.flatten(1)])
        peaks = peaks.view(-1, 1, 1)
        scaled = torch.where(peaks > 0, up / peaks.clamp_min(1e-12), torch.zeros_like(up)).clamp(0, 1)
        result: np.ndarray = scaled.numpy()
        return result


#: The share of the places above usual drawn fainter than full brightness (``where`` with ``usual``).
SATURATION = 0.9
#: How far above usual, in spreads, a position must be to count (below: float32 rounding of the
#: stored statistics and the scaling, and nothing a heat map could show).
USUAL_TOLERANCE = 1e-3


def unit_mean(maps: np.ndarray) -> np.ndarray:
    """Maps ``(N, m, n)`` each scaled to mean 1 over its positions (all-zero maps stay zero)."""
    values = np.asarray(maps, dtype=np.float64)
    means = values.reshape(len(values), -1).mean(axis=1)
    scaled: np.ndarray = values / np.where(means > 0, means, 1.0)[:, None, None]
    return scaled


def unusual_where(spatial: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """How far above the usual each group fires at each position: ``max((u - mean) / spread, 0)``
    for maps ``(r, m, n)``, each ``u`` scaled to mean 1 over the positions first (as the reference's
    maps were, :func:`~sentilens.explain.where_statistics`), so only how the activity is spread
    over the image counts, not how strong it is.

    A group that fires as usual (``u`` proportional to the mean) gives an all-zero map (values up to
    :data:`USUAL_TOLERANCE` spreads count as usual).
    BENCHMARKS.md ("Where a group fires more than usual") compares this with the raw ``U``.
    """
    maps = np.asarray(spatial, dtype=np.float64)
    if maps.shape[1:] != np.shape(mean) or np.shape(mean) != np.shape(spread):
        raise InvalidArgumentError(
            f"where maps of grid {maps.shape[1:]} against a usual map of grid {np.shape(mean)} / {np.shape(spread)}"
        )
    scaled = unit_mean(maps)
    z = (scaled - mean) / spread
    above: np.ndarray = np.where(z > USUAL_TOLERANCE, z, 0.0)
    return above


def factorise(activation: torch.Tensor | np.ndarray, rank: int = 1, seed: int = 0, max_iter: int = 500) -> NeuronGroups:
    """Eq. (4): NMF of a block map ``(t, m, n)`` into ``rank`` neuron groups."""
    check_rank(rank)
    array = activation.detach().cpu().numpy() if isinstance(activation, torch.Tensor) else np.asarray(activation)
    channels, rows, columns = array.shape
    if rank > min(channels, rows * columns):
        raise RankError(f"r = {rank} exceeds the map's rank bound min(t, m n) = {min(channels, rows * columns)}")
    matrix = np.maximum(array.reshape(channels, rows * columns).T.astype(np.float64), 0.0)
    norm = float(np.linalg.norm(matrix))
    if norm == 0.0:
        return NeuronGroups(np.zeros((rank, rows, columns)), np.zeros((rank, channels)), 0.0)
    model = NMF(n_components=rank, init="nndsvda", random_state=seed, max_iter=max_iter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        u = model.fit_transform(matrix)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    v = model.components_
    order = np.argsort(-(u.sum(axis=0) * v.sum(axis=1)))
    u, v = u[:, order], v[order]
    error = float(np.linalg.norm(matrix - u @ v)) / norm
    return NeuronGroups(u.T.reshape(rank, rows, columns), v, error, converged)


def convergence_note(groups: Sequence[NeuronGroups], max_iter: int = 500) -> str | None:
    """One line about the factorisations that hit the iteration limit, or None if all converged."""
    stopped = [g for g in groups if not g.converged]
    if not stopped:
        return None
    worst = max(g.relative_error for g in stopped)
    return (
        f"NMF reached its {max_iter}-iteration limit on {len(stopped)} of {len(groups)} maps "
        f"(relative error up to {worst:.3f}); their groups are drawn as found"
    )


def group_pictures(pictures: torch.Tensor, groups: NeuronGroups) -> torch.Tensor:
    """Eq. (5): one picture ``(r, 3, s, s)`` per group, the ``v``-weighted mean of channel pictures."""
    weights = torch.as_tensor(groups.channel_weights, dtype=torch.float32)
    if weights.shape[1] != pictures.shape[0]:
        raise InvalidArgumentError(f"{pictures.shape[0]} channel pictures for groups over {weights.shape[1]} channels")
    weights = weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.einsum("rc,cxyz->rxyz", weights, pictures.float())
