"""The choices of the explanations that the command line offers as options, in a module that
imports nothing heavy, so that ``sentilens --help`` and the CLI's signatures load no torch.

Each is defined here once and re-exported where it is used (:mod:`~sentilens.explain.activation_max`,
:mod:`~sentilens.explain.spatial`, :mod:`~sentilens.explain.splice`,
:mod:`~sentilens.explain.groups.render`) and by the face :mod:`sentilens.explain`.
"""

from __future__ import annotations

from enum import StrEnum


class AscentMode(StrEnum):
    """How a channel picture is optimised."""

    plain = "plain"  # the paper's eq. (2): pixels from N(0, 1) noise, plain gradient ascent
    regularised = "regularised"  # Olah et al.: decorrelated Fourier image, jitter and scaling


class SpatialRendering(StrEnum):
    """How the cells of the spatial grid combine channel pictures."""

    strongest = "strongest"  # the k channels most active at the cell, relative to their typical level
    paper = "paper"  # eq. (3): every channel, weighted by its activation at the cell


class SpliceLayout(StrEnum):
    """How two images share one input."""

    squash = "squash"  # each whole image at half width
    crop = "crop"  # the central half of each image


class GroupRendering(StrEnum):
    """How a neuron group becomes a picture."""

    specific = "specific"  # activation maximisation of the group's direction relative to a reference (default)
    paper = "paper"  # eq. (5): the v-weighted mean of the block's channel pictures


class CamMethod(StrEnum):
    """A map method: a class-activation-map method of pytorch-grad-cam, or occlusion of the
    block's grid cells (:mod:`~sentilens.explain.occlusion`, captum)."""

    gradcam = "gradcam"
    gradcampp = "gradcam++"
    hirescam = "hirescam"
    xgradcam = "xgradcam"
    layercam = "layercam"
    eigencam = "eigencam"
    scorecam = "scorecam"
    occlusion = "occlusion"


#: The map the demo, ``explain gradcam`` and the pages draw unless told otherwise; chosen by the
#: faithfulness benchmark (BENCHMARKS.md, "Faithfulness of the maps"): on 200 held-out images with
#: the shipped recipe's fold models, Grad-CAM at 7a ranked first of the 6 one-pass methods at 6c, 6d,
#: 7a and 7c (no paired difference to it above 0; 14 maps worse beyond chance).  The rule for occlusion
#: (BENCHMARKS.md, "Occlusion of the map's cells"): it would become the default of the demo (one
#: image at a time affords its ~20 s per image on one core) only if it were more faithful than Grad-CAM under
#: *both* fills of the metric, since it scores cells with the blurred fill the deletion metric
#: uses; on 120 held-out images it was better under the blurred fill and not under the mean fill,
#: so Grad-CAM (under 1 s per image) stays the default everywhere and occlusion is ``--method occlusion``.
DEFAULT_CAM_METHOD = CamMethod.gradcam


class Fill(StrEnum):
    """What replaces a removed pixel."""

    blur = "blur"
    mean = "mean"


#: Portions in which pixels are removed or revealed (the issue's prototype used 10).
DEFAULT_STEPS = 10
