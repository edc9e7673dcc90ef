"""The frozen part of a training run, computed once: pooled features or cached block outputs.

In frozen mode the pooled features of every block come from the on-disk feature store
(:mod:`sentilens.training.feature_store`); in fine-tuning mode the blocks below the first
trainable one run once per view (:mod:`sentilens.training.frozen_pass`).
"""

from __future__ import annotations

import torch

from sentilens.data import LabelledImages
from sentilens.data.decoding import decode_all
from sentilens.models import build_model
from sentilens.training.config import TrainConfig
from sentilens.training.feature_store import POOLED, block_features
from sentilens.training.frozen_pass import VIEWS, FrozenOutputs, run_frozen_pass
from sentilens.training.trainer import boundary_stage, resolve_device


def prepare_cache(dataset: LabelledImages, config: TrainConfig, images: torch.Tensor | None = None) -> FrozenOutputs:
    """Run the frozen blocks once per view; ``images`` are the decoded crops if already at hand.

    In frozen mode the pooled features come from the on-disk feature store when this backbone
    has seen these image files before (see :mod:`sentilens.training.feature_store`).
    """
    template = build_model(config.architecture)
    size = template.backbone.input_size
    boundary = boundary_stage(config, template)
    device = resolve_device(config.device)
    if boundary is None:
        views = (*VIEWS, *(v for v in config.views if v not in VIEWS))
        stored = block_features(
            template.backbone, dataset.paths, views, images=images, batch_size=config.batch_size, device=device
        )
        return FrozenOutputs(None, {}, {view: stored.values[view][POOLED] for view in views})
    if images is None:
        images = decode_all(dataset.paths, size).images
    dtype = torch.bfloat16 if config.cache_dtype == "bfloat16" else torch.float32
    return run_frozen_pass(
        template.backbone,
        images,
        template.blocks,
        boundary,
        batch_size=config.batch_size,
        device=device,
        dtype=dtype,
        recompute=config.frozen_blocks == "recompute",
    )
