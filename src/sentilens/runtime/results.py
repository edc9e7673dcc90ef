"""What classifying a file gives: a :class:`Prediction`, or a :class:`Skipped` input with the reason.

Plain data in a module that imports nothing heavy, shared by the predictor and the torch-free
shortcut (:mod:`~sentilens.runtime.shortcut`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Prediction:
    """The fused verdict for one image, and each head's probability of the positive class.

    Attributes:
        path: the image file.
        label: predicted class name.
        probability: calibrated fused probability of the predicted class (see ``SentimentModel.calibrate``).
        positive_probability: calibrated fused probability of class index 1 ("positive").
        head_probabilities: positive-class probability of each head (``main`` and the blocks).
    """

    path: Path
    label: str
    probability: float
    positive_probability: float
    head_probabilities: dict[str, float] = field(default_factory=dict)


@dataclass
class Skipped:
    """An input that was not classified, and why."""

    path: Path
    reason: str
