"""A training config from a JSON file and command-line overrides (one rule for every command)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentilens.models import backbone_spec
from sentilens.training import TrainConfig


def parse_blocks(text: str) -> list[str]:
    """``"6b,6c"`` to ``["6b", "6c"]``; ``"none"`` to no blocks."""
    if text.strip().lower() == "none":
        return []
    return [block.strip() for block in text.split(",") if block.strip()]


def config_from_options(
    config_file: str | Path | None = None,
    blocks: str | None = None,
    aux_weight: float | None = None,
    predict_views: str | None = None,
    train_views: str | None = None,
    **options: Any,
) -> TrainConfig:
    """``config_file`` (or the defaults), overridden by every option that is not None.

    ``blocks`` is a comma-separated list (``"none"`` for no auxiliary heads); ``aux_weight`` is the
    weight of every head, on the given blocks or, when none are named, on the backbone's default blocks.
    ``predict_views`` and ``train_views`` are comma-separated view names.
    """
    base = TrainConfig.from_file(config_file).to_dict() if config_file else {}
    for key, text in (("predict_views", predict_views), ("train_views", train_views)):
        if text is not None:
            base[key] = [view.strip() for view in text.split(",") if view.strip()]
    if blocks is not None:
        base["blocks"] = parse_blocks(blocks)
    base.update({key: value for key, value in options.items() if value is not None})
    if str(base.get("companion", "")).lower() == "none":  # --companion none: the heads alone
        base["companion"] = None
    if aux_weight is not None and base.get("blocks") is not None:
        base["aux_weights"] = [aux_weight] * len(base["blocks"])
    config = TrainConfig.from_dict(base)
    if aux_weight is not None and config.blocks is None:
        config.blocks = backbone_spec(config.backbone).default_aux_blocks
        config.aux_weights = (aux_weight,) * len(config.blocks)
    return config
