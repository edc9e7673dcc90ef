"""Training: the config, per-view caches of frozen blocks and the loop for every mode.

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.training.companion_fit import COMPANION_CS, ReadOut, companion_features, fit_read_out
    from sentilens.training.config import MODES, TrainConfig, TrainingMode
    from sentilens.training.frozen_pass import FrozenOutputs, run_frozen_pass
    from sentilens.training.heads_fit import HeadsJob, fit_heads
    from sentilens.training.prepare import prepare_cache
    from sentilens.training.trainer import boundary_stage, fit, predict_cached, resolve_device

__all__ = [
    "COMPANION_CS",
    "ReadOut",
    "companion_features",
    "fit_read_out",
    "MODES",
    "TrainConfig",
    "TrainingMode",
    "FrozenOutputs",
    "boundary_stage",
    "run_frozen_pass",
    "fit",
    "fit_heads",
    "HeadsJob",
    "predict_cached",
    "prepare_cache",
    "resolve_device",
]

lazy_face(__name__)
