"""Neuron groups (paper eq. 4-5): which channels fire together on an image, where, and what they respond to.

Use cases call one function, :func:`explain_groups` (:class:`GroupsResult`): it factorises each
image's block map, normalises the channel weights, chooses the reference profile and draws the
pictures.  The pieces, each in its own module:

* :mod:`~sentilens.explain.groups.nmf`: :func:`factorise` (eq. 4, :class:`NeuronGroups`),
  :func:`normalise`, :func:`group_pictures` (eq. 5 over given channel pictures) and
  :func:`convergence_note`.
* :mod:`~sentilens.explain.groups.reference`: :class:`ReferenceProfile` (a block's typical group),
  made by :func:`profile_from`, kept by :func:`save_profiles` / :func:`load_profiles`, chosen by
  :func:`matching_profile` and :func:`reference_for`.
* :mod:`~sentilens.explain.groups.render`: :func:`draw_groups` (:class:`GroupRendering`: the
  image-specific default or the paper's eq. 5, with the class contrast).
* :mod:`~sentilens.explain.groups.ascent`: :func:`direction_pictures`, a group's direction drawn by
  activation maximisation, cached.
* :mod:`~sentilens.explain.groups.where`: :func:`where_maps` / :func:`where_explainer`, the
  "where" maps as the pages draw them, to be scored for faithfulness.
* :mod:`~sentilens.explain.groups.importance`: :func:`group_importance` (:class:`GroupImportance`):
  how much removing each image's group changes the fused verdict, against random directions.

Where a group fires is drawn relative to where groups usually fire (:func:`unusual_where`, from
the reference profile's :func:`where_statistics`).

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.explain.choices import GroupRendering
    from sentilens.explain.groups.ascent import direction_pictures
    from sentilens.explain.groups.importance import (
        DEFAULT_RANDOM_DIRECTIONS,
        GroupImportance,
        blocks_importance,
        fused_from_block,
        group_importance,
    )
    from sentilens.explain.groups.nmf import (
        NeuronGroups,
        convergence_note,
        factorise,
        group_pictures,
        normalise,
        unusual_where,
    )
    from sentilens.explain.groups.pipeline import DEFAULT_GROUP_BLOCK, ContrastSource, GroupsResult, explain_groups
    from sentilens.explain.groups.reference import (
        ProfileError,
        ReferenceProfile,
        load_profiles,
        matching_profile,
        profile_from,
        reference_for,
        save_profiles,
        where_statistics,
    )
    from sentilens.explain.groups.render import GroupDrawing, draw_groups
    from sentilens.explain.groups.where import where_explainer, where_maps

__all__ = [
    "DEFAULT_GROUP_BLOCK",
    "DEFAULT_RANDOM_DIRECTIONS",
    "GroupImportance",
    "blocks_importance",
    "fused_from_block",
    "group_importance",
    "unusual_where",
    "where_statistics",
    "where_explainer",
    "where_maps",
    "ContrastSource",
    "GroupDrawing",
    "GroupRendering",
    "GroupsResult",
    "NeuronGroups",
    "ProfileError",
    "ReferenceProfile",
    "convergence_note",
    "direction_pictures",
    "draw_groups",
    "explain_groups",
    "factorise",
    "group_pictures",
    "load_profiles",
    "matching_profile",
    "normalise",
    "profile_from",
    "reference_for",
    "save_profiles",
]

lazy_face(__name__)
