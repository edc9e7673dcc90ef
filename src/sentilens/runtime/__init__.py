"""How a trained network runs fastest on this machine, and classifying files with it.

``torch_backend``: precision choice, channels-last, batch-norm folding, TorchInductor compilation;
``predictor``: batched classification of image files with decoding in loader processes.
"""

from sentilens.runtime.predictor import Prediction, Predictor, Skipped, predict_paths
from sentilens.runtime.torch_backend import Precision, resolve_precision

__all__ = ["Precision", "Prediction", "Predictor", "Skipped", "predict_paths", "resolve_precision"]
