"""Neuron-group visualisation (paper eq. 4-5): NMF of a tap's activations, groups drawn as pictures.

The tap's map ``B`` (``m n`` positions x ``t`` channels, non-negative because every Inception
block ends in ReLUs) is factorised ``B ~ U V`` with scikit-learn's NMF; ``U`` (``m n x r``) says
where each group is active and ``V`` (``r x t``) which channels form it.  A group's picture is
``S = sum_k P^k v_k`` over the channel pictures, divided by ``sum_k v_k`` so it stays in [0, 1].
The paper uses ``r = 1`` (one group per image); ``r > 1`` gives one picture per group, ordered
by how much of the activation each group explains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import NMF

from sentilens.explain.errors import RankError, check_rank
from sentilens.utils.errors import InvalidArgumentError


@dataclass
class NeuronGroups:
    """The factorisation of one image's tap map.

    Attributes:
        spatial: ``U`` as maps ``(r, m, n)``: where each group fires.
        channel_weights: ``V`` ``(r, t)``: each group's channel weights (non-negative).
        relative_error: ``||B - U V||_F / ||B||_F``.
    """

    spatial: np.ndarray
    channel_weights: np.ndarray
    relative_error: float


def factorise(activation: torch.Tensor | np.ndarray, rank: int = 1, seed: int = 0, max_iter: int = 500) -> NeuronGroups:
    """Eq. (4): NMF of a tap map ``(t, m, n)`` into ``rank`` neuron groups."""
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
    u = model.fit_transform(matrix)
    v = model.components_
    order = np.argsort(-(u.sum(axis=0) * v.sum(axis=1)))
    u, v = u[:, order], v[order]
    error = float(np.linalg.norm(matrix - u @ v)) / norm
    return NeuronGroups(u.T.reshape(rank, rows, columns), v, error)


def group_pictures(pictures: torch.Tensor, groups: NeuronGroups) -> torch.Tensor:
    """Eq. (5): one picture ``(r, 3, s, s)`` per group, the ``v``-weighted mean of channel pictures."""
    weights = torch.as_tensor(groups.channel_weights, dtype=torch.float32)
    if weights.shape[1] != pictures.shape[0]:
        raise InvalidArgumentError(f"{pictures.shape[0]} channel pictures for groups over {weights.shape[1]} channels")
    weights = weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.einsum("rc,cxyz->rxyz", weights, pictures.float())
