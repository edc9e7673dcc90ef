"""How much an image's neuron group drives the verdict: remove it and watch the fused probability.

At a block, an image's rank-1 neuron group (eq. 4) is ``U v``: ``v`` a direction in channel space,
``U`` where it is active.  Removing the group means taking that component out of the block's map,
``B' = max(B - U v, 0)`` (the clamp keeps the map a ReLU output, as every layer after the block
expects), and running the model *from the block on* (later blocks, the auxiliary heads behind the
block and the main head; heads before the block read maps that do not change) to the fused
probability of paper eq. (4) (:meth:`~sentilens.models.SentimentModel.fuse`).  The change is
``|p' - p|`` of the class the model predicts on the untouched image.

A large change alone says little: removing *any* component of that size moves the verdict.  So the
group is tested against random groups, in the manner of TCAV's random concepts (Kim et al.,
"Interpretability Beyond Feature Attribution", 2018): ``K`` random non-negative directions ``r``
(absolute values of Gaussian draws, so that, like a group, they take activation away) scaled to the
norm of ``v``, removed the same way, ``max(B - U r, 0)``.  An image's p-value is the share of random
directions that change the verdict at least as much as its group, ``(1 + #{r: change_r >= change_v})
/ (K + 1)`` (the permutation-test convention: never 0).  A block's p-value combines its images:
if a group were just one more random direction, each image's p-value would be uniform on
``1/(K+1), ..., 1`` and independent of the others', so the block's p-value is the exact probability
that the mean of ``N`` such values is at most the observed mean.  An image alone cannot go below
``1 / (K + 1)``, but a block of ``N`` images can (``(K + 1)^-N`` at the least), so a few random
directions per image are enough for a block's test.

Every change is measured by running the model from the block on: ``K + 1`` passes of the part of
the network above the block per image and block.  (A first-order estimate from one backward pass
was tried and did not reproduce the measured changes: the clamp of the removal, which the linear
estimate ignores, dominates for random directions; BENCHMARKS.md.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sentilens.explain.groups.nmf import factorise
from sentilens.models import SentimentModel
from sentilens.utils.errors import InvalidArgumentError

#: Random directions per image when the caller does not say: 20 passes from the block on per image
#: and block; an image's p-value goes down to 1/20, a block's of N images to 20^-N.
DEFAULT_RANDOM_DIRECTIONS = 19


@dataclass
class GroupImportance:
    """The effect of removing each image's neuron group at one block, against random directions.

    Attributes:
        block: the block.
        probability: ``(N,)`` fused probability of each image's predicted class, untouched.
        group_change: ``(N,)`` ``|p' - p|`` when the image's group is removed.
        random_change: ``(N, K)`` the same for ``K`` random directions of the group's norm.
    """

    block: str
    probability: np.ndarray
    group_change: np.ndarray
    random_change: np.ndarray

    @property
    def p_values(self) -> np.ndarray:
        """``(N,)`` share of random directions that change an image's verdict at least as much as its group."""
        draws = self.random_change.shape[1]
        beaten = (self.random_change >= self.group_change[:, None]).sum(axis=1)
        values: np.ndarray = (1 + beaten) / (draws + 1)
        return values

    @property
    def mean_change(self) -> float:
        """Mean change over the images when each one's group is removed."""
        return float(self.group_change.mean())

    @property
    def random_mean_change(self) -> float:
        """Mean change over the images and the random directions."""
        return float(self.random_change.mean())

    @property
    def p_value(self) -> float:
        """The block's p-value: the probability, were every image's group one more random direction,
        that the mean of the images' p-values is at most the observed mean (see the module docstring)."""
        draws = self.random_change.shape[1]
        places = (self.random_change >= self.group_change[:, None]).sum(axis=1)  # 0 .. K
        one = np.full(draws + 1, 1.0 / (draws + 1))
        total = np.ones(1)
        for _ in places:  # the distribution of the sum of N uniform places
            total = np.convolve(total, one)
        return float(min(total[: int(places.sum()) + 1].sum(), 1.0))


def random_directions(norms: np.ndarray, channels: int, count: int, generator: np.random.Generator) -> np.ndarray:
    """``(N, count, channels)`` non-negative random directions, each scaled to its row's ``norms[i]``."""
    draws = np.abs(generator.standard_normal((len(norms), count, channels)))
    scaled: np.ndarray = draws / np.linalg.norm(draws, axis=2, keepdims=True) * np.asarray(norms)[:, None, None]
    return scaled


@torch.no_grad()
def fused_from_block(
    model: SentimentModel,
    block: str,
    maps: torch.Tensor,
    earlier: dict[str, torch.Tensor] | None = None,
    companion: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fused class probabilities ``(N, classes)`` from the block's maps ``(N, C, m, n)`` on.

    ``earlier`` holds the pooled maps ``(1 or N, C)`` of the model's auxiliary-head blocks that
    run before ``block`` (they do not depend on ``maps``); a row of one is used for every map.
    ``companion``: the companion network's logits ``(1 or N, classes)`` of the image, for a model
    that has one (its vote does not depend on the backbone's maps).
    """
    backbone = model.backbone
    here = backbone.stage_index(block)
    later_heads = [b for b in model.blocks if backbone.stage_index(b) > here]
    following = backbone.stage_names[here + 1 :]
    if following:
        out = backbone(maps, blocks=later_heads, start=following[0])
        final, later = out.final, out.blocks
    else:
        final, later = maps, {}
    features = {name: values.expand(len(maps), -1) for name, values in (earlier or {}).items()}
    features.update(later)
    if block in model.blocks:
        features[block] = maps
    if companion is not None:
        companion = companion.expand(len(maps), -1)
    return model.fuse(model.heads_forward(final, features, companion))


@torch.no_grad()
def group_importance(
    model: SentimentModel,
    images: torch.Tensor,
    block: str,
    random_count: int = DEFAULT_RANDOM_DIRECTIONS,
    seed: int = 0,
    batch_size: int = 16,
    directions: np.ndarray | None = None,
) -> GroupImportance:
    """Remove each image's rank-1 neuron group at ``block`` and ``random_count`` random directions
    of the same norm; measure the change of the fused probability of the predicted class.

    Args:
        model: the sentiment model whose verdict is explained (put in eval mode).
        images: ``(N, 3, S, S)`` in [0, 1] at the backbone's input size.
        block: a block of the model's backbone.
        random_count: random directions per image (at least 1).
        seed: seeds the random directions (and NMF).
        batch_size: perturbed maps per forward pass from the block on.
        directions: ``(N, C)`` directions to remove instead of each image's NMF group ``v`` (its
            ``U`` is still the NMF's); None: the groups.
    """
    backbone = model.eval().backbone
    backbone.check_blocks([block])
    if random_count < 1:
        raise InvalidArgumentError(f"the test needs at least one random direction, got {random_count}")
    here = backbone.stage_index(block)
    earlier_heads = [b for b in model.blocks if backbone.stage_index(b) < here]
    generator = np.random.default_rng(seed)
    probability, group_change, random_change = [], [], []
    for position, image in enumerate(images):
        out = backbone(backbone.normalize(image[None]), blocks=[*earlier_heads, block], stop=block)
        earlier = {b: out.blocks[b].mean(dim=(2, 3)) for b in earlier_heads}
        companion = model.companion(image[None]) if model.companion is not None else None
        activation = out.blocks[block][0].float()
        groups = factorise(activation, 1, seed)
        where = torch.as_tensor(groups.spatial[0], dtype=torch.float32)
        own = groups.channel_weights[0] if directions is None else np.asarray(directions[position], dtype=np.float64)
        if own.shape != (activation.shape[0],):
            raise InvalidArgumentError(f"a direction of shape {own.shape} for {activation.shape[0]} channels")
        others = random_directions(np.array([np.linalg.norm(own)]), len(own), random_count, generator)[0]
        chosen = np.concatenate([own[None], others])
        removed = torch.einsum("kc,mn->kcmn", torch.as_tensor(chosen, dtype=torch.float32), where)
        base = fused_from_block(model, block, activation[None], earlier, companion)[0]
        predicted = int(base.argmax())
        changed = torch.cat(
            [
                fused_from_block(model, block, (activation[None] - part).clamp_min(0), earlier, companion)[:, predicted]
                for part in removed.split(batch_size)
            ]
        )
        change = (changed - base[predicted]).abs().numpy()
        probability.append(float(base[predicted]))
        group_change.append(float(change[0]))
        random_change.append(change[1:])
    return GroupImportance(block, np.asarray(probability), np.asarray(group_change), np.stack(random_change))


def blocks_importance(
    model: SentimentModel,
    images: torch.Tensor,
    blocks: Sequence[str],
    random_count: int = DEFAULT_RANDOM_DIRECTIONS,
    seed: int = 0,
) -> dict[str, GroupImportance]:
    """The measured group importance (:func:`group_importance`) of the same images at each of ``blocks``."""
    return {block: group_importance(model, images, block, random_count, seed) for block in blocks}
