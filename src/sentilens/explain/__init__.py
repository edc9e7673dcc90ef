"""Explanations of a sentiment model (paper section 2.1 and 3.2).

* :func:`grad_cam`: Grad-CAM of the fused prediction at any tap.
* :func:`spliced_test`: the spliced negative|positive image test (figure 6).
* :func:`visualise_channels` and :class:`ChannelPictureCache`: channel pictures by activation
  maximisation (eq. 1-2), cached per weights, tap and settings.
* :func:`spatial_cells`: the spatial-location grid (eq. 3).
* :func:`factorise` and :func:`group_pictures`: NMF neuron groups (eq. 4-5).

:mod:`sentilens.explain.tasks` wraps each in a function that reads images and writes figures.
"""

from .activation_max import AscentSettings, ChannelPictures, visualise_channels
from .channel_cache import ChannelPictureCache, cache_key, default_cache_dir
from .errors import ClassIndexError, RankError
from .gradcam import FusedLogProbabilities, GradCamResult, grad_cam
from .neuron_groups import NeuronGroups, factorise, group_pictures
from .spatial import image_activation, spatial_cells, tile
from .splice import SpliceResult, matching_share, splice, spliced_test

__all__ = [
    "AscentSettings",
    "ChannelPictureCache",
    "ChannelPictures",
    "ClassIndexError",
    "FusedLogProbabilities",
    "GradCamResult",
    "NeuronGroups",
    "RankError",
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
