"""Datasets (Twitter I, folder, CSV), image decoding and views, and fold splitting."""

from sentilens.data.decoding import OnError, decode_dataset, load_or_reason
from sentilens.data.folds import Fold, content_digests, content_groups, grouped_stratified_folds, make_folds
from sentilens.data.images import VIEW_NAMES, ImageDecodeError, decode_image, load_view, to_unit_range, views_of
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
