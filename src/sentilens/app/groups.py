"""Reference-profile files for the use cases (the computations are in :mod:`sentilens.explain.groups`).

The image-specific rendering draws each group relative to a reference profile
(:func:`sentilens.explain.reference_for` chooses it); ``sentilens explain reference`` writes a
profile file of every block over a labelled image set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sentilens.data import LabelledImages
from sentilens.explain import profile_from, save_profiles, weights_digest
from sentilens.models import Backbone
from sentilens.selection import evidence_features
from sentilens.utils import Say, quiet


def write_reference(
    backbone: Backbone, dataset: LabelledImages, out: str | Path, blocks: Sequence[str] | None = None, say: Say = quiet
) -> Path:
    """Compute the reference profile of every block (default all) over ``dataset`` and write it to
    ``out``: the typical group's channel weights and where the group usually fires."""
    blocks = tuple(blocks) if blocks is not None else backbone.block_names
    usable, features, skipped = evidence_features(backbone, dataset, blocks, say=say, where=True)
    for failure in skipped:
        say(f"skipped {failure.reason}")
    source = f"{usable.name} ({len(usable)} images)"
    profiles = {
        block: profile_from(
            block,
            features.factors[block],
            features.pooled[block],
            usable.labels,
            usable.class_names,
            source,
            weights_digest(backbone, block),
            features.where[block],
        )
        for block in blocks
    }
    return save_profiles(out, profiles)
