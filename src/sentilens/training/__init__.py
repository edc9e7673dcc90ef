"""Training: the config, per-view caches of frozen blocks and the loop for every mode."""

from sentilens.training.config import MODES, TrainConfig, TrainingMode
from sentilens.training.frozen_pass import FrozenOutputs, run_frozen_pass
from sentilens.training.prepare import prepare_cache
from sentilens.training.trainer import boundary_stage, fit, predict_cached, resolve_device

__all__ = [
    "MODES",
    "TrainConfig",
    "TrainingMode",
    "FrozenOutputs",
    "boundary_stage",
    "run_frozen_pass",
    "fit",
    "predict_cached",
    "prepare_cache",
    "resolve_device",
]
