"""Training: the config, per-view caches of frozen blocks, the loop for every mode, and checkpoints."""

from sentilens.training.cache import ViewCache, build_view_cache
from sentilens.training.checkpoint import CheckpointError, LoadedCheckpoint, load_checkpoint, save_checkpoint
from sentilens.training.config import MODES, TrainConfig, TrainingMode
from sentilens.training.prepare import prepare_cache
from sentilens.training.trainer import boundary_stage, build_model, fit, predict_cached, resolve_device

__all__ = [
    "MODES",
    "CheckpointError",
    "LoadedCheckpoint",
    "TrainConfig",
    "TrainingMode",
    "ViewCache",
    "boundary_stage",
    "build_model",
    "build_view_cache",
    "fit",
    "load_checkpoint",
    "predict_cached",
    "prepare_cache",
    "resolve_device",
    "save_checkpoint",
]
