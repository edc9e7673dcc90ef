"""The analyst workflow: classify images, explain each, and write a table and a one-page summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from sentilens.app.classifier import SentimentClassifier
from sentilens.app.predictions import write_tables
from sentilens.data import load_view, to_unit_range
from sentilens.explain import DEFAULT_GROUP_BLOCK, AscentSettings, ContrastSource, GroupRendering, explain_groups
from sentilens.reports import Contrast, SummaryRow, heat_overlay, write_summary
from sentilens.runtime import Prediction, RunSettings, Skipped
from sentilens.utils import Say, quiet

#: Pictures of the neuron-group column: a small canvas, so that a first run takes a minute or two
#: on two cores and later runs read them from the picture cache.
GROUP_SETTINGS = AscentSettings(mode="regularised", size=64, steps=32)


@dataclass
class WorkflowResult:
    """What the workflow wrote and found."""

    predictions: list[Prediction]
    skipped: list[Skipped]
    page: Path
    table_csv: Path
    table_jsonl: Path


def analyse(
    classifier: SentimentClassifier,
    images: Sequence[Path],
    out: Path,
    cam_block: str | None = None,
    group_block: str = DEFAULT_GROUP_BLOCK,
    settings: AscentSettings = GROUP_SETTINGS,
    rendering: GroupRendering | str = GroupRendering.specific,
    run: RunSettings = RunSettings(),
    say: Say = quiet,
) -> WorkflowResult:
    """Predict (on the runtime ``run`` chooses), explain (Grad-CAM at ``cam_block``; the r = 1 neuron
    group at ``group_block``: where it fires and its picture; the class contrast of the reference
    profile) and report."""
    backbone = classifier.model.backbone
    backbone.check_blocks([group_block])
    rendering = GroupRendering(rendering)
    cam_block = cam_block or backbone.block_names[-1]
    out.mkdir(parents=True, exist_ok=True)
    predictions, skipped = classifier.predict_with_skipped(images, run, say=say)
    views = torch.stack([to_unit_range(load_view(p.path, backbone.input_size)) for p in predictions])
    groups = explain_groups(
        backbone, views, group_block, rendering=rendering, settings=settings, contrast=ContrastSource.reference
    )
    rows = []
    for prediction, view, where, pictures in zip(predictions, views, groups.where, groups.pictures):
        explanation = classifier.explain(prediction.path, cam_block)
        rows.append(
            SummaryRow(
                name=prediction.path.name,
                label=prediction.label,
                probability=prediction.probability,
                image=explanation.image,
                gradcam=explanation.overlay(),
                where=heat_overlay(view, where[0]),
                group=pictures[0].numpy(),
            )
        )
    csv_path, jsonl_path = write_tables(predictions, out, skipped)
    what = (
        "its direction relative to the reference profile, drawn by activation maximisation"
        if rendering == GroupRendering.specific
        else "eq. (5) of the paper, the weighted mean of the block's channel pictures (contrast stretched)"
    )
    where_text = (
        "where it fires more than usual (U above its mean over the reference set, in units of its spread; "
        "bright = most above usual, no colour = as usual)"
        if groups.unusual
        else "where it fires (U, bright = where it fires most)"
    )
    note = (
        f"{len(predictions)} images classified by {classifier.config.backbone} with auxiliary heads on "
        f"{', '.join(classifier.blocks) or 'no blocks'}; probabilities fuse every head. Grad-CAM shows where the "
        f"block {cam_block} supports the predicted label. At block {group_block}, each image's rank-1 neuron group "
        f"(NMF, eq. 4): {where_text} and what it responds to ({what}). "
        f"Reference profile: {groups.reference.source}."
    )
    contrast = None
    if groups.contrast_labels:
        contrast = Contrast(
            f"Class contrast at {group_block}: the mean neuron group of each class of the reference set, "
            f"{groups.reference.source}, drawn relative to the set's mean: what sets each class apart.",
            list(zip(groups.contrast_labels, (p.numpy() for p in groups.contrast))),
        )
    page = write_summary(
        rows, out, cam_block, group_block, note, contrast, stretch_groups=rendering == GroupRendering.paper
    )
    return WorkflowResult(predictions, skipped, page, csv_path, jsonl_path)
