"""Data choices that the command line and :class:`~sentilens.runtime.RunSettings` read, in a module
that imports nothing heavy (no torch, no numpy), so that ``sentilens --help`` stays fast.

Each is re-exported where it is used (:mod:`~sentilens.data.decoding`, :mod:`~sentilens.data.images`)
and by the face :mod:`sentilens.data`.
"""

from __future__ import annotations

from enum import StrEnum


class OnError(StrEnum):
    """What to do with an image that cannot be decoded."""

    fail = "fail"  # stop, naming the file
    skip = "skip"  # leave it out and list it with the reason


#: Every view a model can read, all made from the decoded centre crop (so the training caches,
#: the feature store and the predictor build them the same way from one list).
#: ``zoom`` is the central ``ZOOM`` share of the crop, resized back to full size: a second scale.
VIEW_NAMES = ("centre", "mirror", "zoom", "zoom-mirror")
