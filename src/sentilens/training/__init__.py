"""Training: the config, per-view caches of frozen blocks, and the loop for every mode."""

from .cache import ViewCache, build_view_cache
from .config import MODES, TrainConfig
from .trainer import boundary_stage, build_model, fit, predict_cached, resolve_device

__all__ = [
    "MODES",
    "TrainConfig",
    "ViewCache",
    "boundary_stage",
    "build_model",
    "build_view_cache",
    "fit",
    "predict_cached",
    "resolve_device",
]
