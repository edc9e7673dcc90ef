"""How a trained network runs fastest on this machine, and classifying files with it.

``choice``: the runtime and precision (``auto`` reads the CPU's flags); ``torch_backend``:
channels-last, batch-norm folding, bfloat16 autocast, TorchInductor compilation;
``openvino_backend``: the network converted to OpenVINO, float32 or NNCF int8, cached on disk
(a ``DiskCache``); ``settings``: :class:`RunSettings`, how a network runs, the one value every
caller builds; ``predictor``: batched classification of image files with decode threads.

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.runtime.choice import Precision, Runtime, RuntimeChoice, RuntimeUnavailableError, choose_runtime
    from sentilens.runtime.predictor import Predictor, image_batches
    from sentilens.runtime.results import Prediction, Skipped
    from sentilens.runtime.settings import DEFAULT_VIEWS, RunSettings, parse_views
    from sentilens.runtime.shortcut import predict_by_shortcut, remember_network
    from sentilens.runtime.torch_backend import resolve_precision

__all__ = [
    "DEFAULT_VIEWS",
    "Precision",
    "Prediction",
    "Predictor",
    "RunSettings",
    "Runtime",
    "RuntimeChoice",
    "RuntimeUnavailableError",
    "Skipped",
    "choose_runtime",
    "image_batches",
    "parse_views",
    "predict_by_shortcut",
    "remember_network",
    "resolve_precision",
]

lazy_face(__name__)
