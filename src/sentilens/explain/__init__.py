"""Explanations of a sentiment model (paper section 2.1 and 3.2).

* :func:`grad_cam`: Grad-CAM of the fused prediction at any tap.
* :func:`spliced_test`: the spliced negative|positive image test (figure 6).
* :func:`visualise_channels` and :class:`ChannelPictureCache`: channel pictures by activation
  maximisation (eq. 1-2), cached per weights, tap and settings.
* :func:`spatial_cells`: the spatial-location grid (eq. 3).
* :func:`factorise` and :func:`group_pictures`: NMF neuron groups (eq. 4-5).

:mod:`sentilens.app.explain` wraps each in a function that reads images and writes figures.
"""

from sentilens.explain.activation_max import AscentMode, AscentSettings, ChannelPictures, visualise_channels
from sentilens.explain.channel_cache import ChannelPictureCache, cache_key, default_cache_dir
from sentilens.explain.errors import ClassIndexError, RankError
from sentilens.explain.gradcam import FusedLogProbabilities, GradCamResult, grad_cam
from sentilens.explain.neuron_groups import NeuronGroups, factorise, group_pictures
from sentilens.explain.spatial import image_activation, spatial_cells, tile
from sentilens.explain.splice import SpliceLayout, SpliceResult, matching_share, splice, spliced_test

__all__ = [
    "AscentMode",
    "AscentSettings",
    "ChannelPictureCache",
    "ChannelPictures",
    "ClassIndexError",
    "FusedLogProbabilities",
    "GradCamResult",
    "NeuronGroups",
    "RankError",
    "SpliceLayout",
    "SpliceResult",
    "cache_key",
    "default_cache_dir",
    "factorise",
    "grad_cam",
    "group_pictures",
    "image_activation",
    "matching_share",
    "spatial_cells",
    "splice",
    "spliced_test",
    "tile",
    "visualise_channels",
]
