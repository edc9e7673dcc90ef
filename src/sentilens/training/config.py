"""Every setting of a training run in one validated, serialisable object."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from sentilens.data.choices import VIEW_NAMES
from sentilens.models import (
    DEFAULT_BACKBONE,
    DEFAULT_DROPOUT,
    DEFAULT_WEIGHTS,
    Architecture,
    backbone_class,
    upgrade_block_key,
)
from sentilens.utils.errors import InvalidArgumentError

#: Views a fine-tuning cache holds (the block inputs of more views would not fit in memory).
FINETUNE_VIEWS = ("centre", "mirror")


class TrainingMode(StrEnum):
    """What learns: only the heads on fixed features, or the heads and (some) backbone blocks."""

    frozen = "frozen"
    finetune = "finetune"


MODES = tuple(TrainingMode)


@dataclass
class TrainConfig:
    """How to build and train a :class:`~sentilens.models.SentimentModel`.

    The fields that say how to build the model are those of :class:`~sentilens.models.Architecture`
    under the same names (:attr:`architecture` collects them), so that a checkpoint stores this
    config as one plain dict from which the models layer rebuilds the model.

    Attributes:
        backbone: registry name (``inception_v3`` or ``googlenet``).
        weights: ``imagenet``, ``none`` or a state-dict file for the backbone.
        blocks: blocks with auxiliary heads; None means the backbone's default blocks.
        aux_weights: one weight per block; None means ``DEFAULT_AUX_WEIGHT`` (0.1, the paper) each.
        mode: ``frozen`` (backbone fixed: pooled features are computed once per image view and
            only the heads learn) or ``finetune`` (blocks from ``trainable_from`` upward learn).
        trainable_from: first trainable block in ``finetune`` mode; None fine-tunes the whole
            backbone (the paper).  Blocks below it run once per image view and are cached.
        epochs: passes over the training images; None picks 40 for frozen, 10 for finetune.
        batch_size: images per optimisation step.
        lr: AdamW learning rate of the heads.
        backbone_lr_scale: the backbone's learning rate is ``lr * backbone_lr_scale``.
        weight_decay: AdamW weight decay.
        dropout: dropout rate of every head.
        label_smoothing: label smoothing of every head's cross-entropy, in [0, 1) (0: hard
            targets, the paper).
        seed: seeds initialisation, shuffling and flips.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        cache_dtype: storage type of cached intermediate maps (``float32`` or ``bfloat16``).
        predict_views: views whose fused probabilities are averaged at prediction time.
        train_views: views a training sample is drawn from, uniformly (the default, centre and
            mirror, is the paper's random flip); views beyond those need ``mode="frozen"``.
        precision: ``fp32``, or ``bf16`` to run the backbone under bfloat16 autocast.
        frozen_blocks: ``cache`` (run blocks below the trainable ones once per image view) or
            ``recompute`` (run them again in every step: same results, slower; a baseline).
        companion: a second frozen ImageNet network (``efficientnet_lite0``) whose logistic
            read-out, fitted after the heads, votes beside them (the shipped recipe); None: the
            heads alone (the paper).
        companion_weight: the companion's share of the fused probabilities (0.5: the two votes
            averaged, as measured).
    """

    backbone: str = DEFAULT_BACKBONE
    weights: str = DEFAULT_WEIGHTS
    blocks: tuple[str, ...] | None = None
    aux_weights: tuple[float, ...] | None = None
    mode: str = "frozen"
    trainable_from: str | None = None
    epochs: int | None = None
    batch_size: int = 32
    lr: float = 1e-3
    backbone_lr_scale: float = 0.1
    weight_decay: float = 1e-4
    dropout: float = DEFAULT_DROPOUT
    label_smoothing: float = 0.0
    seed: int = 0
    device: str = "auto"
    cache_dtype: str = "float32"
    predict_views: tuple[str, ...] = field(default=("centre", "mirror"))
    train_views: tuple[str, ...] = field(default=("centre", "mirror"))
    precision: str = "fp32"
    frozen_blocks: str = "cache"
    companion: str | None = None
    companion_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.blocks is not None:
            self.blocks = tuple(self.blocks)
        if self.aux_weights is not None:
            self.aux_weights = tuple(float(w) for w in self.aux_weights)
        self.predict_views = tuple(self.predict_views)
        if self.mode not in MODES:
            raise InvalidArgumentError(f"mode must be one of {', '.join(TrainingMode)}, got {self.mode!r}")
        if self.mode == "frozen" and self.trainable_from is not None:
            raise InvalidArgumentError("trainable_from applies to mode 'finetune' only")
        for name in ("batch_size",):
            if getattr(self, name) < 1:
                raise InvalidArgumentError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.epochs is not None and self.epochs < 1:
            raise InvalidArgumentError(f"epochs must be at least 1, got {self.epochs}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise InvalidArgumentError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.lr <= 0:
            raise InvalidArgumentError(f"lr must be positive, got {self.lr}")
        if self.cache_dtype not in ("float32", "bfloat16"):
            raise InvalidArgumentError(f"cache_dtype must be float32 or bfloat16, got {self.cache_dtype!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise InvalidArgumentError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.precision not in ("fp32", "bf16"):
            raise InvalidArgumentError(f"precision must be fp32 or bf16, got {self.precision!r}")
        if self.frozen_blocks not in ("cache", "recompute"):
            raise InvalidArgumentError(f"frozen_blocks must be cache or recompute, got {self.frozen_blocks!r}")
        if self.companion is not None:
            backbone_class(self.companion)  # refuses an unknown name, listing the known ones
        if not 0.0 <= self.companion_weight <= 1.0:
            raise InvalidArgumentError(f"companion_weight must lie in [0, 1], got {self.companion_weight}")
        self.train_views = tuple(self.train_views)
        for name in ("predict_views", "train_views"):
            views = getattr(self, name)
            allowed = VIEW_NAMES if self.mode == "frozen" else FINETUNE_VIEWS
            if not views or set(views) - set(allowed) or len(set(views)) != len(views):
                raise InvalidArgumentError(
                    f"{name} must name distinct views among {', '.join(allowed)} in mode {self.mode}, got {views}"
                )

    @property
    def architecture(self) -> Architecture:
        """The fields that say how to build the model (backbone, weights, blocks, dropout, seed...)."""
        return Architecture.from_dict(self.to_dict())

    @property
    def views(self) -> tuple[str, ...]:
        """Every view training or prediction reads, in :data:`VIEW_NAMES` order."""
        return tuple(v for v in VIEW_NAMES if v in self.train_views or v in self.predict_views)

    @property
    def num_epochs(self) -> int:
        if self.epochs is not None:
            return self.epochs
        return 40 if self.mode == "frozen" else 10

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The config of ``data`` (as :meth:`to_dict` writes it; files written before the rename
        of "tap" to "block" hold the auxiliary blocks under ``taps``, read as ``blocks``)."""
        data = upgrade_block_key(data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgumentError(
                f"unknown config key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a JSON config (as written by :meth:`to_dict` or the inspect report)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise InvalidArgumentError(f"cannot read config {path}: {error}") from error
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"{path}: a config is a JSON object")
        return cls.from_dict(data)
