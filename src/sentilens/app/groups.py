"""Neuron groups for the use cases: the reference profile to draw against, and profile files.

The image-specific rendering draws each group relative to a reference profile (see
:mod:`sentilens.explain.reference`).  Which one: a profile file given by the user; else the
profile shipped for the backbone when it was made with the same weights up to the tap (the
default model's ImageNet inception_v3: all of Twitter I, three agree); else the mean of the
images at hand, when there are at least two.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sentilens.data import LabelledImages
from sentilens.explain import ProfileError, ReferenceProfile, matching_profile, profile_from, save_profiles
from sentilens.explain.channel_cache import weights_digest
from sentilens.models.backbones import Backbone
from sentilens.selection.evidence import evidence_features
from sentilens.utils.progress import Say, quiet

#: The block whose neuron groups the demo and ``SentimentClassifier.groups`` show by default.
DEFAULT_GROUP_TAP = "5b"


def reference_for(
    backbone: Backbone,
    tap: str,
    weights: np.ndarray,
    reference: str | Path | None = None,
    labels: Sequence[int] | None = None,
    class_names: Sequence[str] = (),
) -> ReferenceProfile:
    """The reference profile of ``tap`` for images whose normalised group weights are ``weights``.

    Args:
        reference: a profile file (``sentilens explain reference``); None tries the shipped one.
        labels: the images' labels, so that a profile made from them has class means.
    """
    found = matching_profile(backbone, tap, reference)
    if found is not None:
        return found
    if reference is not None:
        raise ProfileError(f"{reference} has no profile of {tap} made with this backbone's weights")
    if len(weights) < 2:
        raise ProfileError(
            f"no shipped reference profile fits these {backbone.name} weights at {tap}, and one image cannot be "
            "its own reference: give more images or a profile file (sentilens explain reference)"
        )
    return profile_from(tap, weights, labels=labels, class_names=class_names, source=f"the {len(weights)} images given")


def write_reference(
    backbone: Backbone, dataset: LabelledImages, out: str | Path, taps: Sequence[str] | None = None, say: Say = quiet
) -> Path:
    """Compute the reference profile of every tap (default all) over ``dataset`` and write it to ``out``."""
    taps = tuple(taps) if taps is not None else backbone.tap_names
    usable, features, skipped = evidence_features(backbone, dataset, taps, say=say)
    for failure in skipped:
        say(f"skipped {failure.reason}")
    source = f"{usable.name} ({len(usable)} images)"
    profiles = {
        tap: profile_from(
            tap,
            features.factors[tap],
            features.pooled[tap],
            usable.labels,
            usable.class_names,
            source,
            weights_digest(backbone, tap),
        )
        for tap in taps
    }
    return save_profiles(out, profiles)
