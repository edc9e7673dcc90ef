"""Datasets (Twitter I, folder, CSV), image decoding and views, and fold splitting."""

from .folds import Fold, content_groups, grouped_stratified_folds
from .images import ImageDecodeError, decode_image, load_view, to_unit_range, views_of
from .samples import SENTIMENT_CLASSES, DataError, LabelledImages
from .sources import TWITTER_SUBSETS, load_csv, load_dataset, load_folder, load_twitter

__all__ = [
    "DataError",
    "Fold",
    "ImageDecodeError",
    "LabelledImages",
    "SENTIMENT_CLASSES",
    "TWITTER_SUBSETS",
    "content_groups",
    "decode_image",
    "grouped_stratified_folds",
    "load_csv",
    "load_dataset",
    "load_folder",
    "load_twitter",
    "load_view",
    "to_unit_range",
    "views_of",
]
