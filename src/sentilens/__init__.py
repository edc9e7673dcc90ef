"""sentilens: interpretable image sentiment classification with Inception networks.

Implements Sheng et al. (2020): an ImageNet Inception backbone fine-tuned for positive/negative
sentiment, with light auxiliary classifiers on chosen blocks that vote in training and prediction.

The package's face is :func:`load` (a :class:`SentimentClassifier` that predicts and explains)
and :class:`RunSettings` (how its network runs); nothing inside sentilens imports this module,
so its layers stay independent of it.

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.app.classifier import SentimentClassifier, load
    from sentilens.data import sample_photos as samples
    from sentilens.runtime import RunSettings
    from sentilens.utils.version import __version__

__all__ = ["RunSettings", "SentimentClassifier", "__version__", "load", "samples"]

lazy_face(__name__)
