"""How a trained network runs fastest on this machine, and classifying files with it.

``choice``: the runtime and precision (``auto`` reads the CPU's flags); ``torch_backend``:
channels-last, batch-norm folding, bfloat16 autocast, TorchInductor compilation;
``openvino_backend``: the network converted to OpenVINO, float32 or NNCF int8, cached on disk
(a ``DiskCache``); ``predictor``: batched classification of image files with decoding in loader
processes.
"""

from sentilens.runtime.choice import Precision, Runtime, RuntimeChoice, RuntimeUnavailableError, choose_runtime
from sentilens.runtime.predictor import Prediction, Predictor, Skipped, predict_paths
from sentilens.runtime.torch_backend import resolve_precision

__all__ = [
    "Precision",
    "Prediction",
    "Predictor",
    "Runtime",
    "RuntimeChoice",
    "RuntimeUnavailableError",
    "Skipped",
    "choose_runtime",
    "predict_paths",
    "resolve_precision",
]
