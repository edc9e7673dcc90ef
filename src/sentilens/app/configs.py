"""A training config from a JSON file and command-line overrides (one rule for every command)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentilens.models import backbone_spec
from sentilens.training import TrainConfig


def parse_taps(text: str) -> list[str]:
    """``"6b,6c"`` to ``["6b", "6c"]``; ``"none"`` to no taps."""
    if text.strip().lower() == "none":
        return []
    return [tap.strip() for tap in text.split(",") if tap.strip()]


def config_from_options(
    config_file: str | Path | None = None,
    taps: str | None = None,
    aux_weight: float | None = None,
    predict_views: str | None = None,
    train_views: str | None = None,
    **options: Any,
) -> TrainConfig:
    """``config_file`` (or the defaults), overridden by every option that is not None.

    ``taps`` is a comma-separated list (``"none"`` for no auxiliary heads); ``aux_weight`` is the
    weight of every head, on the given taps or, when none are named, on the backbone's default taps.
    ``predict_views`` and ``train_views`` are comma-separated view names.
    """
    base = TrainConfig.from_file(config_file).to_dict() if config_file else {}
    for key, text in (("predict_views", predict_views), ("train_views", train_views)):
        if text is not None:
            base[key] = [view.strip() for view in text.split(",") if view.strip()]
    if taps is not None:
        base["taps"] = parse_taps(taps)
    base.update({key: value for key, value in options.items() if value is not None})
    if aux_weight is not None and base.get("taps") is not None:
        base["aux_weights"] = [aux_weight] * len(base["taps"])
    config = TrainConfig.from_dict(base)
    if aux_weight is not None and config.taps is None:
        config.taps = backbone_spec(config.backbone).default_aux_blocks
        config.aux_weights = (aux_weight,) * len(config.taps)
    return config
