"""sentilens: interpretable image sentiment classification with Inception networks.

Implements Sheng et al. (2020): an ImageNet Inception backbone fine-tuned for positive/negative
sentiment, with light auxiliary classifiers on chosen blocks that vote in training and prediction.
"""

__version__ = "0.1.0"

from . import samples  # noqa: E402
from .api import SentimentClassifier, load  # noqa: E402  (needs __version__ above for checkpoints)

__all__ = ["SentimentClassifier", "__version__", "load", "samples"]
