"""Explanations of a sentiment model (paper section 2.1 and 3.2).

* :func:`grad_cam`: Grad-CAM (or another :class:`CamMethod`) of the fused prediction at any block;
  :func:`cam_maps`: several methods at several blocks from one pass.
* :func:`faithfulness`: deletion, insertion and ROAD scores of any map against model-blind orders
  (:mod:`sentilens.explain.faithfulness`); :func:`sanity_check`: cascading model randomisation
  (:mod:`sentilens.explain.sanity`).
* :func:`occlusion`: occlusion of a block's grid cells (captum), also ``grad_cam(method="occlusion")``.
* :func:`spliced_test`: the spliced negative|positive image test (figure 6).
* :func:`visualise_channels` and :class:`ChannelPictureCache`: channel pictures by activation
  maximisation (eq. 1-2), cached per weights, block and settings.
* :func:`spatial_cells`: the spatial-location grid (eq. 3), :class:`SpatialRendering`.
* :func:`explain_groups`: NMF neuron groups (eq. 4-5) in one call: factorise, choose the
  reference profile, draw (:class:`GroupsResult`); its pieces are in :mod:`sentilens.explain.groups`
  (:func:`factorise`, :class:`ReferenceProfile`, :func:`draw_groups`, ...).

:mod:`sentilens.app.explain` wraps each in a function that reads images and writes figures.

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.explain import groups  # the neuron-group face (itself lazy)
from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.explain.activation_max import (
        AscentSettings,
        ChannelPictures,
        check_ascent_size,
        visualise_channels,
    )
    from sentilens.explain.channel_cache import ChannelPictureCache, cache_key, default_cache_dir, weights_digest
    from sentilens.explain.choices import (
        DEFAULT_CAM_METHOD,
        DEFAULT_STEPS,
        AscentMode,
        CamMethod,
        Fill,
        SpatialRendering,
        SpliceLayout,
    )
    from sentilens.explain.errors import AscentSizeError, ClassIndexError, RankError, check_class_index, check_rank
    from sentilens.explain.faithfulness import (
        Baseline,
        Explainer,
        FaithfulnessReport,
        ImageFaithfulness,
        MapFunction,
        ideal_step_areas,
        measure_faithfulness,
        ranks,
        score_line,
    )
    from sentilens.explain.gradcam import (
        DEFAULT_CAM_BLOCKS,
        ONE_PASS_METHODS,
        CamMaps,
        FusedLogProbabilities,
        GradCamResult,
        cam_explainer,
        cam_maps,
        default_cam_block,
        grad_cam,
    )
    from sentilens.explain.groups import *  # noqa: F403  (the neuron-group API, listed in groups.__all__)
    from sentilens.explain.occlusion import OcclusionResult, occlusion
    from sentilens.explain.sanity import ModelMaps, SanityReport, SanityStep, gradcam_maps, sanity_check
    from sentilens.explain.spatial import STRONGEST_K, image_activation, spatial_cells, tile
    from sentilens.explain.splice import SpliceResult, matching_share, splice, spliced_test
    from sentilens.utils.bootstrap import Interval, bootstrap

__all__ = [
    "DEFAULT_CAM_BLOCKS",
    "DEFAULT_CAM_METHOD",
    "DEFAULT_STEPS",
    "ONE_PASS_METHODS",
    "Baseline",
    "CamMaps",
    "CamMethod",
    "Explainer",
    "FaithfulnessReport",
    "Fill",
    "ImageFaithfulness",
    "Interval",
    "MapFunction",
    "ModelMaps",
    "OcclusionResult",
    "SanityReport",
    "SanityStep",
    "bootstrap",
    "gradcam_maps",
    "sanity_check",
    "cam_explainer",
    "cam_maps",
    "default_cam_block",
    "ideal_step_areas",
    "measure_faithfulness",
    "occlusion",
    "ranks",
    "score_line",
    "check_class_index",
    "check_rank",
    "weights_digest",
    "STRONGEST_K",
    "AscentMode",
    "AscentSettings",
    "AscentSizeError",
    "ChannelPictureCache",
    "ChannelPictures",
    "ClassIndexError",
    "FusedLogProbabilities",
    "GradCamResult",
    "RankError",
    "SpatialRendering",
    "SpliceLayout",
    "SpliceResult",
    "cache_key",
    "check_ascent_size",
    "default_cache_dir",
    "grad_cam",
    "image_activation",
    "matching_share",
    "spatial_cells",
    "splice",
    "spliced_test",
    "tile",
    "visualise_channels",
]
__all__ += groups.__all__

lazy_face(__name__)
