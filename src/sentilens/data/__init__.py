"""Datasets (Twitter I, folder, CSV), image decoding and views, and fold splitting.

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.data.choices import VIEW_NAMES, OnError
    from sentilens.data.decoding import decode_dataset, load_or_reason
    from sentilens.data.folds import Fold, content_digests, content_groups, grouped_stratified_folds, make_folds
    from sentilens.data.images import ImageDecodeError, decode_image, load_view, to_unit_range, views_of
    from sentilens.data.labelled import SENTIMENT_CLASSES, DataError, LabelledImages
    from sentilens.data.sample_photos import sample_images
    from sentilens.data.sources import (
        LISTING_SUFFIXES,
        TWITTER_SUBSETS,
        expand_inputs,
        find_images,
        load_csv,
        load_dataset,
        load_folder,
        load_twitter,
        read_listing,
    )

__all__ = [
    "OnError",
    "decode_dataset",
    "load_or_reason",
    "sample_images",
    "DataError",
    "Fold",
    "ImageDecodeError",
    "LabelledImages",
    "SENTIMENT_CLASSES",
    "TWITTER_SUBSETS",
    "content_digests",
    "content_groups",
    "decode_image",
    "expand_inputs",
    "find_images",
    "LISTING_SUFFIXES",
    "read_listing",
    "grouped_stratified_folds",
    "load_csv",
    "load_dataset",
    "load_folder",
    "load_twitter",
    "load_view",
    "make_folds",
    "to_unit_range",
    "views_of",
    "VIEW_NAMES",
]

lazy_face(__name__)
