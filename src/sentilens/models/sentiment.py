"""The paper's model: a backbone, a main classifier and weighted auxiliary heads on chosen blocks.

Training loss = main loss + sum_i w_i * auxiliary loss_i.  Prediction fuses *probabilities*:
``p = (softmax(main) + sum_i w_i softmax(aux_i)) / (1 + sum_i w_i)``.  We fuse probabilities
rather than logits because each head's softmax is a calibrated vote on the same scale, the
result stays a probability that the CLI can print, and one over-confident head cannot swamp the
others through a large logit; the normalisation by ``1 + sum w`` does not change the argmax.

A fused probability is a vote, not yet a calibrated probability: a trained model also carries a
``temperature`` ``T`` (fitted by training on out-of-fold predictions, 1 when none was fitted),
and :meth:`SentimentModel.calibrate` maps the fused (and view-averaged) probabilities ``p`` to
``softmax(log p / T)``, for two classes ``sigmoid(logit(p) / T)``.  ``T > 1`` softens
over-confident votes; the order of the images, and so the argmax and ROC-AUC, do not change.

A model may also hold a :class:`~sentilens.models.companion.Companion`, a second frozen network
with a linear read-out; its probabilities are mixed into the heads' vote with ``companion_weight``
before the temperature: ``(1 - w) * vote + w * softmax(companion)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from sentilens.models.backbones import Backbone
from sentilens.models.companion import Companion
from sentilens.models.heads import DEFAULT_DROPOUT, ClassifierHead
from sentilens.utils.errors import InvalidArgumentError

#: The name under which a companion's vote is reported beside the heads' (``head_probabilities``).
COMPANION = "companion"


@dataclass
class HeadLogits:
    """Logits of the main classifier, of each auxiliary head (by block name) and of the companion
    network (None when the model has none, or when only the heads ran)."""

    main: torch.Tensor
    aux: dict[str, torch.Tensor] = field(default_factory=dict)
    companion: torch.Tensor | None = None

    def apply(self, change: Callable[[torch.Tensor], torch.Tensor]) -> HeadLogits:
        """The same logits with ``change`` applied to every tensor (slicing, moving, casting)."""
        companion = change(self.companion) if self.companion is not None else None
        return HeadLogits(change(self.main), {k: change(v) for k, v in self.aux.items()}, companion)

    def named(self) -> dict[str, torch.Tensor]:
        """Every vote's logits by name: ``main``, the blocks, and :data:`COMPANION` where present."""
        votes = {"main": self.main, **self.aux}
        return votes | ({COMPANION: self.companion} if self.companion is not None else {})


#: The weight of each auxiliary head's vote in training and prediction (the paper's 0.1).
DEFAULT_AUX_WEIGHT = 0.1


def temper(probabilities: torch.Tensor, temperature: float) -> torch.Tensor:
    """Class probabilities ``(N, classes)`` scaled by ``temperature``: ``softmax(log p / T)``
    (unchanged, not copied, for ``T = 1``).  Probabilities are clamped to ``1e-12`` first so that
    a hard 0 stays finite."""
    if not temperature > 0.0:
        raise InvalidArgumentError(f"temperature must be positive, got {temperature!r}")
    if temperature == 1.0:
        return probabilities
    return (probabilities.clamp_min(1e-12).log() / temperature).softmax(dim=1)


def validate_aux_weights(blocks: Sequence[str], aux_weights: Sequence[float]) -> tuple[float, ...]:
    """Check one weight in [0, 1] per block."""
    if len(aux_weights) != len(blocks):
        raise InvalidArgumentError(f"{len(blocks)} blocks but {len(aux_weights)} auxiliary weights")
    bad = [w for w in aux_weights if not 0.0 <= w <= 1.0]
    if bad:
        raise InvalidArgumentError(f"auxiliary weights must lie in [0, 1], got {bad}")
    if len(set(blocks)) != len(blocks):
        raise InvalidArgumentError(f"blocks listed twice: {list(blocks)}")
    return tuple(float(w) for w in aux_weights)


class SentimentModel(nn.Module):
    """Backbone + main head + auxiliary heads that vote with weights.

    Args:
        backbone: a :class:`~sentilens.models.backbones.Backbone`.
        blocks: blocks that get an auxiliary head.
        aux_weights: one weight per block; None means :data:`DEFAULT_AUX_WEIGHT` each.
        num_classes: 2 for negative/positive.
        dropout: dropout rate of every head.
        companion: a second network whose vote is mixed in (see the module docstring), or None.
        companion_weight: the share ``w`` of the companion's probabilities in the fused vote.
        label_smoothing: share of each target's probability spread evenly over the classes in
            every head's cross-entropy (0: hard targets, the paper); a regulariser of the heads.

    ``temperature`` (a plain attribute, not a tensor of the state dict; 1.0 until training or a
    checkpoint sets it) is the probability calibration that :meth:`calibrate` applies.
    """

    def __init__(
        self,
        backbone: Backbone,
        blocks: Sequence[str] = (),
        aux_weights: Sequence[float] | None = None,
        num_classes: int = 2,
        dropout: float = DEFAULT_DROPOUT,
        label_smoothing: float = 0.0,
        companion: Companion | None = None,
        companion_weight: float = 0.5,
    ) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise InvalidArgumentError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
        if not 0.0 <= companion_weight <= 1.0:
            raise InvalidArgumentError(f"companion_weight must lie in [0, 1], got {companion_weight}")
        backbone.check_blocks(blocks)
        self.backbone = backbone
        self.blocks = tuple(blocks)
        self.aux_weights = validate_aux_weights(
            self.blocks, [DEFAULT_AUX_WEIGHT] * len(self.blocks) if aux_weights is None else aux_weights
        )
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.main_head = ClassifierHead(backbone.num_features, num_classes, dropout)
        self.aux_heads = nn.ModuleDict(
            {block: ClassifierHead(backbone.block_channels[block], num_classes, dropout) for block in self.blocks}
        )
        self.companion = companion
        self.companion_weight = float(companion_weight) if companion is not None else 0.0
        self.temperature = 1.0

    @property
    def vote_names(self) -> tuple[str, ...]:
        """The names of the votes, in the order of :meth:`HeadLogits.named`."""
        return ("main", *self.blocks, *((COMPANION,) if self.companion is not None else ()))

    def forward(self, images: torch.Tensor) -> HeadLogits:
        """Logits of every head (and of the companion) for RGB images in [0, 1] of the backbone's input size."""
        out = self.backbone(self.backbone.normalize(images), blocks=self.blocks)
        companion = self.companion(images) if self.companion is not None else None
        return self.heads_forward(out.final, out.blocks, companion)

    def heads_forward(
        self,
        final: torch.Tensor,
        block_features: Mapping[str, torch.Tensor],
        companion: torch.Tensor | None = None,
    ) -> HeadLogits:
        """Apply the heads to the final map and the block maps (maps or pooled vectors);
        ``companion``: the companion's logits of the same images, passed through."""
        return HeadLogits(
            main=self.main_head(final),
            aux={block: self.aux_heads[block](block_features[block]) for block in self.blocks},
            companion=companion,
        )

    def loss(self, logits: HeadLogits, targets: torch.Tensor) -> torch.Tensor:
        """Main cross-entropy plus each auxiliary cross-entropy times its weight (targets smoothed
        by ``label_smoothing``)."""
        smoothing = self.label_smoothing
        total = F.cross_entropy(logits.main, targets, label_smoothing=smoothing)
        for block, weight in zip(self.blocks, self.aux_weights):
            total = total + weight * F.cross_entropy(logits.aux[block], targets, label_smoothing=smoothing)
        return total

    def heads_vote(self, logits: HeadLogits) -> torch.Tensor:
        """Weighted mean of the heads' class probabilities (main head weight 1): eq. 4 of the paper."""
        vote = logits.main.softmax(dim=1)
        for block, weight in zip(self.blocks, self.aux_weights):
            vote = vote + weight * logits.aux[block].softmax(dim=1)
        return vote / (1.0 + sum(self.aux_weights))

    def fuse(self, logits: HeadLogits) -> torch.Tensor:
        """The model's class probabilities before calibration: the heads' vote, mixed with the
        companion's probabilities when the model has one (which ``logits`` must then carry)."""
        vote = self.heads_vote(logits)
        if self.companion is None:
            return vote
        if logits.companion is None:
            raise InvalidArgumentError("this model has a companion network: fusing needs its logits too")
        weight = self.companion_weight
        return (1.0 - weight) * vote + weight * logits.companion.softmax(dim=1)

    def calibrate(self, probabilities: torch.Tensor) -> torch.Tensor:
        """Fused probabilities (averaged over views, where several) scaled by the model's ``temperature``."""
        return temper(probabilities, self.temperature)

    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        """Calibrated fused class probabilities ``(N, num_classes)`` for images in [0, 1] (eval mode)."""
        was_training = self.training
        self.eval()
        try:
            return self.calibrate(self.fuse(self(images)))
        finally:
            self.train(was_training)
