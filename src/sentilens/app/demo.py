"""The analyst workflow: classify images, explain each, and write a table and a one-page summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sentilens.app.classifier import SentimentClassifier
from sentilens.app.predictions import write_tables
from sentilens.data import OnError, find_images, load_view, to_unit_range
from sentilens.explain import (
    DEFAULT_CAM_METHOD,
    DEFAULT_GROUP_BLOCK,
    DEFAULT_STEPS,
    AscentSettings,
    Baseline,
    CamMethod,
    ContrastSource,
    Explainer,
    GroupRendering,
    cam_explainer,
    default_cam_block,
    explain_groups,
    measure_faithfulness,
    score_line,
)
from sentilens.models import SentimentModel
from sentilens.reports import Contrast, SummaryRow, heat_overlay, write_summary
from sentilens.runtime import Prediction, RunSettings, Skipped
from sentilens.utils import Say, quiet

#: Pictures of the neuron-group column: a small canvas, so that a first run takes a minute or two
#: on two cores and later runs read them from the picture cache.
GROUP_SETTINGS = AscentSettings(mode="regularised", size=64, steps=32)

#: What the faithfulness benchmark measured for the default map (BENCHMARKS.md, "Faithfulness of
#: the maps"), said on the page beside each image's own scores.
FAITHFULNESS_SUMMARY = (
    "Scores under each map (Grad-CAM and where): area under the verdict's probability as the map's most relevant "
    "pixels are blurred away (deletion, lower is more faithful) or revealed on a blurred copy (insertion, higher "
    "is more faithful), against a random order of the map's own cells. Measured on 200 held-out Twitter I images "
    "with the shipped model's recipe (BENCHMARKS.md), the default map, Grad-CAM at 7a, was the most faithful of 24 "
    "methods and blocks and scored deletion 0.70 and insertion 0.81 against 0.74 and 0.73 for random cells and "
    "0.73 and 0.77 for 'the centre matters': better than each on the same images, but only slightly, so read "
    "each map as a hint, not a proof."
)


def companion_note(model: SentimentModel) -> str:
    """What the maps leave out of a model with a companion network (empty without one)."""
    if model.companion is None:
        return ""
    return (
        f", and {model.companion_weight:.0%} of each probability is the vote of a second network, "
        f"{model.companion.name} (a logistic read-out of its pooled features), which the pictures do not draw: "
        "Grad-CAM and the neuron groups explain the Inception heads' share, the scores under each map measure the "
        "whole verdict"
    )


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
    settings: AscentSettings | None = None,
    rendering: GroupRendering | str = GroupRendering.specific,
    run: RunSettings = RunSettings(),
    on_error: OnError | str = OnError.skip,
    say: Say = quiet,
    method: CamMethod | str = DEFAULT_CAM_METHOD,
    faithfulness_steps: int = DEFAULT_STEPS,
) -> WorkflowResult:
    """Predict (on the runtime ``run`` chooses), explain (Grad-CAM, or ``method``, at ``cam_block``
    of the predicted label; the r = 1 neuron group at ``group_block``: where it fires and its
    picture; the class contrast of the reference profile) and report.  Each map's deletion and
    insertion AUC (``faithfulness_steps`` portions; 0 leaves them out) stands beside it, against a
    random order of its cells.

    ``images`` are files, folders or listings (:func:`~sentilens.data.find_images`); an image that
    cannot be decoded is skipped and listed, with its reason, on the page and in the tables, in
    input order (``on_error="fail"`` raises instead).  ``settings`` draw the group pictures
    (default :data:`GROUP_SETTINGS`).
    """
    backbone = classifier.model.backbone
    backbone.check_blocks([group_block])
    rendering = GroupRendering(rendering)
    cam_block = cam_block or default_cam_block(backbone)
    paths = find_images(images)
    out.mkdir(parents=True, exist_ok=True)
    predictions, skipped = classifier.predict_with_skipped(paths, run, on_error=OnError(on_error), say=say)
    csv_path, jsonl_path = write_tables(predictions, out, skipped, paths, classifier.head_names)
    skipped_rows = [(str(item.path), item.reason) for item in skipped]
    if not predictions:
        note = f"None of the {len(paths)} images could be classified."
        page = write_summary([], out, map_title(method, cam_block), group_block, note, skipped=skipped_rows)
        return WorkflowResult(predictions, skipped, page, csv_path, jsonl_path)
    views = torch.stack([to_unit_range(load_view(p.path, backbone.input_size)) for p in predictions])
    groups = explain_groups(
        backbone,
        views,
        group_block,
        rendering=rendering,
        settings=settings or GROUP_SETTINGS,
        contrast=ContrastSource.reference,
    )
    # Each map explains the label shown, the verdict of the predictor (one verdict per image).
    explanations = [
        classifier.explain(p.path, cam_block, classifier.class_names.index(p.label), method=str(method))
        for p in predictions
    ]
    cam_grid = cam_explainer(classifier.model, cam_block).grid
    where_grid = (int(groups.groups[0].spatial.shape[1]), int(groups.groups[0].spatial.shape[2]))
    scores = _score_lines(classifier, views, [e.cam for e in explanations], cam_grid, faithfulness_steps, say)
    where_scores = _score_lines(classifier, views, list(groups.where[:, 0]), where_grid, faithfulness_steps, say)
    rows = []
    for explanation, score, where_score, prediction, view, where, pictures in zip(
        explanations, scores, where_scores, predictions, views, groups.where, groups.pictures
    ):
        rows.append(
            SummaryRow(
                name=prediction.path.name,
                label=prediction.label,
                probability=prediction.probability,
                image=explanation.image,
                gradcam=explanation.overlay(),
                where=heat_overlay(view, where[0]),
                group=pictures[0].numpy(),
                gradcam_score=score,
                where_score=where_score,
            )
        )
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
        f"{len(predictions)} images classified"
        f"{f' ({len(skipped)} skipped, listed above the table)' if skipped else ''} by {classifier.config.backbone} "
        f"with auxiliary heads on "
        f"{', '.join(classifier.blocks) or 'no blocks'}; probabilities fuse every head"
        f"{companion_note(classifier.model)}. "
        f"{_map_sentence(method, cam_block)} At block {group_block}, each image's rank-1 neuron group "
        f"(NMF, eq. 4): {where_text} and what it responds to ({what}). "
        f"Reference profile: {groups.reference.source}." + (f" {FAITHFULNESS_SUMMARY}" if faithfulness_steps else "")
    )
    contrast = None
    if groups.contrast_labels:
        contrast = Contrast(
            f"Class contrast at {group_block}: the mean neuron group of each class of the reference set, "
            f"{groups.reference.source}, drawn relative to the set's mean: what sets each class apart.",
            list(zip(groups.contrast_labels, (p.numpy() for p in groups.contrast))),
        )
    page = write_summary(
        rows,
        out,
        map_title(method, cam_block),
        group_block,
        note,
        contrast,
        stretch_groups=rendering == GroupRendering.paper,
        skipped=skipped_rows,
    )
    return WorkflowResult(predictions, skipped, page, csv_path, jsonl_path)


def map_title(method: CamMethod | str, block: str) -> str:
    """The page's column title for the maps: ``Grad-CAM at 7a``, ``occlusion at 7a``, ..."""
    chosen = CamMethod(method)
    return f"{'Grad-CAM' if chosen == CamMethod.gradcam else chosen.value} at {block}"


def _map_sentence(method: CamMethod | str, block: str) -> str:
    """What the page's map shows, in one sentence."""
    if CamMethod(method) == CamMethod.occlusion:
        return (
            f"Occlusion shows how much blurring each cell of block {block}'s grid lowers the predicted "
            "label's probability (bright = the cell the verdict depends on most)."
        )
    return f"Grad-CAM shows where the block {block} supports the predicted label."


def _score_lines(
    classifier: SentimentClassifier,
    views: torch.Tensor,
    maps: list[np.ndarray],
    grid: tuple[int, int],
    steps: int,
    say: Say,
) -> list[str]:
    """Each map's "deletion ... / insertion ... (random cells ... / ...)" line, against random cells
    of ``grid`` (the grid the maps were drawn from), or empty lines."""
    if not steps or not maps:
        return [""] * len(maps)
    say(f"measuring the faithfulness of {len(maps)} maps ({steps} steps each)")
    shown = np.stack(maps)
    explainer = Explainer("map", lambda _images: shown, grid)
    report = measure_faithfulness(classifier.model, views, [explainer], steps=steps, baselines=[Baseline.random_cells])
    return [score_line(image, "map") for image in report.images]
