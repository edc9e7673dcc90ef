"""Train a model on cached views (frozen or fine-tuning).

The schedule, which the paper leaves open: AdamW, heads at ``lr`` and backbone blocks at
``lr * backbone_lr_scale``, cosine decay over all steps, batch norm kept in inference mode
(its ImageNet statistics are better than those of batches of 32 sentiment images), a random
horizontal flip per sample (the mirror view; more views with ``train_views``), and prediction
averaged over ``predict_views``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from sentilens.data.images import to_unit_range
from sentilens.models import HeadLogits, SentimentModel
from sentilens.runtime.torch_backend import autocast
from sentilens.training.config import TrainConfig
from sentilens.training.frozen_pass import FINAL, FrozenOutputs, run_frozen
from sentilens.training.heads_fit import HeadsJob, fit_heads, one_thread
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.progress import track


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when available."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError("device 'cuda' requested but CUDA is not available")
    return torch.device(device)


def boundary_stage(config: TrainConfig, model: SentimentModel) -> str | None:
    """First trainable backbone stage; None when the backbone is frozen."""
    if config.mode == "frozen":
        return None
    if config.trainable_from is None:
        return model.backbone.stage_names[0]
    model.backbone.check_blocks([config.trainable_from])
    return config.trainable_from


def trainable_stages(model: SentimentModel, boundary: str | None) -> list[str]:
    names = model.backbone.stage_names
    return [] if boundary is None else names[names.index(boundary) :]


def forward_cached(
    model: SentimentModel,
    boundary: str | None,
    inputs: torch.Tensor | None,
    pooled: dict[str, torch.Tensor],
    recompute: bool = False,
) -> HeadLogits:
    """Heads' logits from cached inputs: run only the stages from ``boundary`` upward.

    With ``recompute`` the inputs are uint8 images and the frozen stages run first, without
    gradients, exactly as :func:`~sentilens.training.frozen_pass.run_frozen_pass` runs them.
    """
    if recompute:
        assert inputs is not None
        inputs, frozen = run_frozen(model.backbone, inputs, model.blocks, boundary)
        pooled = {**pooled, **frozen}
    if boundary is None:
        return model.heads_forward(pooled[FINAL], pooled)
    assert inputs is not None
    backbone = model.backbone
    x = backbone.normalize(to_unit_range(inputs)) if inputs.dtype == torch.uint8 else inputs.float()
    live = [t for t in model.blocks if t not in pooled]
    out = backbone(x, blocks=live, start=boundary)
    return model.heads_forward(out.final, {**pooled, **out.blocks})


def draw_views(count: int, n_views: int, generator: torch.Generator) -> torch.Tensor:
    """A random view index in ``[0, n_views)`` per sample, uniform.

    Drawn as ``n_views - 1 - floor(u * n_views)`` from one uniform ``u`` per sample, so that with
    the two default views (centre, mirror) a sample is mirrored exactly when ``u < 0.5``, the
    draw of earlier versions: the default recipe's models are unchanged.
    """
    uniform = torch.rand(count, generator=generator)
    return (n_views - 1 - (uniform * n_views).floor().long()).clamp_(0, n_views - 1)


def _set_train_mode(model: SentimentModel) -> None:
    model.train()
    for module in model.backbone.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def fit(
    model: SentimentModel,
    cache: FrozenOutputs,
    indices: Sequence[int],
    labels: npt.ArrayLike,
    config: TrainConfig,
    description: str = "training",
    seed: int | None = None,
) -> list[float]:
    """Train ``model`` on the cached samples ``indices``; return the mean loss of each epoch.

    ``seed`` (default ``config.seed``) seeds the batch order, the views drawn and dropout.  On a
    frozen cache of pooled features only the heads learn, by :func:`fit_heads`; otherwise
    trainable blocks run in every step, in the loop here.
    """
    device = resolve_device(config.device)
    seed = config.seed if seed is None else seed
    if cache.boundary is None and not cache.recompute:
        model.to(device)
        return fit_heads([HeadsJob(model, indices, labels, seed)], cache, config, description)[0]
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    boundary = cache.boundary
    stages = trainable_stages(model, boundary)
    for name, stage in model.backbone.stages.items():
        stage.requires_grad_(name in stages)
    model.to(device)
    cache = cache.only((*model.blocks, FINAL), config.train_views).to(device)
    backbone_params = [p for name in stages for p in model.backbone.stages[name].parameters()]
    head_params = [*model.main_head.parameters(), *model.aux_heads.parameters()]
    groups = [{"params": head_params, "lr": config.lr}]
    if backbone_params:
        groups.append({"params": backbone_params, "lr": config.lr * config.backbone_lr_scale})
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    index_tensor = torch.as_tensor(list(indices))
    label_tensor = torch.as_tensor(np.asarray(labels))
    steps_per_epoch = -(-len(index_tensor) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.num_epochs * steps_per_epoch)
    epoch_losses: list[float] = []
    for _ in track(range(config.num_epochs), total=config.num_epochs, description=description):
        _set_train_mode(model)
        order = torch.randperm(len(index_tensor), generator=generator)
        total, count = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            picks = draw_views(len(batch), len(config.train_views), generator)
            inputs, pooled = cache.select(picks.to(device), index_tensor[batch].to(device), config.train_views)
            targets = label_tensor[batch].to(device)
            with autocast(config.precision, device):
                logits = forward_cached(model, boundary, inputs, pooled, cache.recompute)
            loss = model.loss(logits.apply(torch.Tensor.float), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(batch)
            count += len(batch)
        epoch_losses.append(total / count)
    model.eval()
    return epoch_losses


@torch.no_grad()
def predict_cached(
    model: SentimentModel,
    cache: FrozenOutputs,
    indices: Sequence[int],
    views: Sequence[str] = ("centre", "mirror"),
    batch_size: int = 64,
    precision: str = "fp32",
) -> np.ndarray:
    """The heads' vote ``(len(indices), num_classes)`` averaged over ``views`` (on one thread
    from a frozen cache of pooled features: only the heads run).  This is the model's fused
    probability unless it has a companion network, whose vote the caller mixes in
    (:class:`~sentilens.evaluation.companion.WithCompanion`): the cache holds the backbone's features only."""
    device = next(model.parameters()).device
    model.eval()
    index_tensor = torch.as_tensor(list(indices))
    result = torch.zeros((len(index_tensor), model.num_classes))
    heads_only = cache.boundary is None and not cache.recompute
    with one_thread() if heads_only else nullcontext():
        for view in views:
            for start in range(0, len(index_tensor), batch_size):
                batch = index_tensor[start : start + batch_size]
                inputs, pooled = cache.view(view, batch)
                inputs = inputs.to(device) if inputs is not None else None
                pooled = {k: v.to(device) for k, v in pooled.items()}
                with autocast(precision, device):
                    logits = forward_cached(model, cache.boundary, inputs, pooled, cache.recompute)
                probs = model.heads_vote(logits.apply(torch.Tensor.float))
                result[start : start + len(batch)] += probs.float().cpu()
    return (result / len(views)).numpy()
