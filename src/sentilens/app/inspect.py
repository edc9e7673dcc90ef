"""Build the ``sentilens inspect`` report: evidence and pictures per block, then the HTML page.

Per block the page shows, for each of ``per_class`` sampled images of each class: *where* its
rank-1 neuron group fires (``U`` of eq. 4 as a heat overlay), *what* the group responds to (its
picture, by default the image-specific rendering of :mod:`sentilens.explain.groups`), and
the class activation map of the block's linear probe (fitted on the probe images other than the
shown ones), a decision that was fitted rather than an untrained head's.  The *class contrast*
draws the mean group of each class over the probe images relative to their overall mean.
The reference profile is the probe images' mean group; where a group usually fires is measured on
the probe images other than the shown ones, so the "where" row shows where each shown image's
group fires *more than usual*, against images it is not part of.  Per block, the ranking also
shows how much the model's fused verdict on the shown images depends on their groups
(:func:`~sentilens.explain.group_importance`, against random directions), and, when asked, how
faithful the block's maps (Grad-CAM, "where", probe) are to that verdict on the shown images
(:func:`block_faithfulness`: deletion and insertion against random cells).  Probe features, group
and channel pictures are cached, so a second report on the same data costs seconds per block
(the group importance is computed each time).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sentilens.app.choices import INSPECT_STEPS
from sentilens.app.classifier import load_model
from sentilens.app.map_explainers import signed_for_verdict
from sentilens.data import LabelledImages, load_view, to_unit_range
from sentilens.explain import (
    AscentSettings,
    Baseline,
    ContrastSource,
    Explainer,
    FaithfulnessReport,
    Fill,
    GroupRendering,
    GroupsResult,
    blocks_importance,
    cam_explainer,
    check_ascent_size,
    convergence_note,
    explain_groups,
    measure_faithfulness,
    profile_from,
)
from sentilens.models import Backbone, SentimentModel
from sentilens.reports import BlockSection, Card, heat_overlay, save_png, signed_overlay, upsample, write_report
from sentilens.selection import (
    BlockFeatures,
    Ranking,
    evidence_features,
    fit_probe,
    per_class_sample,
    rank_blocks,
    stratified_subset,
)
from sentilens.utils import Say, quiet

#: Group pictures of the report: :data:`~sentilens.app.choices.INSPECT_STEPS` steps.
INSPECT_SETTINGS = AscentSettings(steps=INSPECT_STEPS)

LEGEND = (
    "Per block: class contrast (the mean neuron group of each class over the probe images, drawn "
    "relative to the mean of all probe images; that mean lies between the two classes, so each picture "
    "is what sets its class apart from the other), then a row per class with three pictures for each "
    "shown image: where its rank-1 neuron group fires more than usual (U above its mean over the probe "
    "images other than the shown ones, in units of its spread; bright = most above usual, dark = as usual "
    "or less), what the group responds to (its direction relative to the probe "
    "images' mean group, by activation maximisation), and the class activation map of the block's "
    "linear probe fitted on the probe images other than the shown ones (red: toward positive, blue: "
    "toward negative)."
)
PAPER_LEGEND = (
    "Per block: class averages (eq. 5 for each class's mean channel weights over the probe images) "
    "and their pixel difference (grey: none), then a row per class with three pictures for each shown "
    "image: where its rank-1 neuron group fires more than usual (U above its mean over the probe "
    "images other than the shown ones, in units of its spread; bright = most above usual), its eq. (5) "
    "picture, and the class activation map of the block's linear "
    "probe fitted on the probe images other than the shown ones (red: toward positive, blue: toward "
    "negative)."
)


@dataclass
class Inspection:
    """What :func:`build_inspection` wrote."""

    index: Path
    ranking: Ranking
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@torch.no_grad()
def _block_maps(backbone: Backbone, images: torch.Tensor, blocks: Sequence[str]) -> dict[str, torch.Tensor]:
    """Every block's map for images in [0, 1] (one pass)."""
    last = max(blocks, key=backbone.stage_index)
    maps: dict[str, torch.Tensor] = backbone(backbone.normalize(images), blocks=list(blocks), stop=last).blocks
    return maps


def _block_groups(
    backbone: Backbone,
    block: str,
    shown: torch.Tensor,
    maps: torch.Tensor,
    probe: LabelledImages,
    features: BlockFeatures,
    held_out: np.ndarray,
    class_names: Sequence[str],
    rendering: GroupRendering,
    settings: AscentSettings,
    seed: int,
    cache_dir: str | Path | None,
) -> GroupsResult:
    """The shown images' rank-1 groups at one block, drawn relative to the probe images' profile,
    with the contrast of the probe images' classes; where they fire relative to where the groups of
    the probe images other than the shown ones (``held_out``) usually fire."""
    profile = profile_from(
        block,
        features.factors[block],
        features.pooled[block],
        probe.labels,
        class_names,
        f"{len(probe)} probe images",
        where=features.where[block][held_out],
    )
    return explain_groups(
        backbone,
        shown,
        block,
        maps=maps,
        seed=seed,
        rendering=rendering,
        settings=settings,
        reference=profile,
        class_names=tuple(class_names),
        contrast=ContrastSource.reference,
        cache_dir=cache_dir,
    )


def _probe_maps(
    block: str, maps: torch.Tensor, probe: LabelledImages, features: BlockFeatures, held_out: np.ndarray, side: int
) -> tuple[np.ndarray, np.ndarray]:
    """The CAMs ``(N, side, side)`` of the block's linear probe (fitted on the probe images other
    than the shown ones) for the shown images' block ``maps``, and its P(positive) per image."""
    fitted = fit_probe(features.pooled[block][held_out], np.asarray(probe.labels)[held_out])
    return upsample(fitted.cam(maps), side), fitted.probability(maps.mean(dim=(2, 3)).numpy())


def _block_section(
    block: str,
    shown: torch.Tensor,
    groups: GroupsResult,
    probe_maps: tuple[np.ndarray, np.ndarray],
    shown_labels: Sequence[int],
    shown_names: Sequence[str],
    class_names: Sequence[str],
    folder: Path,
) -> BlockSection:
    """Pictures of one block: write the PNGs of the groups, the contrast and the probe maps."""
    cams, chances = probe_maps
    cards = []
    for index, (image, where, name) in enumerate(zip(shown, groups.where, shown_names)):
        stem = folder / block / f"{index:02d}"
        where_png = save_png(heat_overlay(image, where[0]), f"{stem}-where.png")
        picture = save_png(groups.pictures[index, 0], f"{stem}-group.png")
        probe_map = save_png(signed_overlay(image, cams[index]), f"{stem}-probe.png")
        label = class_names[shown_labels[index]]
        cards.append(Card(name, label, where_png, picture, probe_map, float(chances[index])))
    contrast = [
        (label, save_png(picture, folder / block / f"contrast-{position}.png"))
        for position, (label, picture) in enumerate(zip(groups.contrast_labels, groups.contrast))
    ]
    return BlockSection(block, cards, contrast)


def block_faithfulness(
    model: SentimentModel,
    shown: torch.Tensor,
    block: str,
    groups: GroupsResult,
    probe_cams: np.ndarray,
    steps: int,
    seed: int = 0,
) -> FaithfulnessReport:
    """How faithful the block's three maps are to the model's fused verdict on the shown images:
    Grad-CAM at the block, the "where" maps and the probe maps as drawn (the probe's turned toward
    each image's verdict), against random cells of the block's grid and the centre first, with the
    blurred fill in ``steps`` portions."""
    with torch.no_grad():
        positive = model.predict_proba(shown).argmax(dim=1).numpy() == 1
    where = groups.where[:, 0]
    probe = signed_for_verdict(probe_cams, positive)
    cam = cam_explainer(model, block)
    explainers = [
        cam,
        Explainer(f"where {block}", lambda _images: where, cam.grid),
        Explainer(f"probe {block}", lambda _images: probe, cam.grid),
    ]
    baselines = (Baseline.random_cells, Baseline.centre)
    return measure_faithfulness(model, shown, explainers, None, baselines, Fill.blur, steps, False, seed)


@dataclass
class InspectionPlan:
    """What every block's pictures share: the probe images and their features, the ranking, and
    the shown images with their block maps (:func:`plan_inspection`); :func:`inspect_block` draws
    one block from it, so a page can draw blocks one at a time, on demand."""

    backbone: Backbone
    weights: str
    class_names: tuple[str, ...]
    probe: LabelledImages
    features: BlockFeatures
    ranking: Ranking
    shown: torch.Tensor
    shown_paths: list[Path]
    shown_labels: list[int]
    held_out: np.ndarray
    maps: dict[str, torch.Tensor]
    rendering: GroupRendering
    settings: AscentSettings
    seed: int
    cache_dir: str | Path | None
    notes: list[str] = field(default_factory=list)


def plan_inspection(
    model: SentimentModel,
    weights: str,
    dataset: LabelledImages,
    per_class: int = 6,
    probe_images: int | None = 200,
    settings: AscentSettings | None = None,
    cache_dir: str | Path | None = None,
    k: int = 3,
    n_splits: int = 5,
    seed: int = 0,
    rendering: GroupRendering | str = GroupRendering.specific,
    say: Say = quiet,
) -> InspectionPlan:
    """Rank every block of ``model``'s backbone and prepare the shown images (arguments as
    :func:`build_inspection`'s)."""
    began = time.perf_counter()
    dataset.require_all_classes()
    rendering = GroupRendering(rendering)
    backbone = model.eval().backbone
    blocks = backbone.block_names
    settings = settings or INSPECT_SETTINGS
    check_ascent_size(backbone, settings, blocks)
    probe, features, skipped = evidence_features(
        backbone, stratified_subset(dataset, probe_images, seed), say=say, where=True
    )
    notes = [f"skipped {failure.reason}" for failure in skipped]
    ranking = rank_blocks(backbone, weights, probe, features, k=k, n_splits=n_splits, seed=seed)
    say(f"evidence for {len(blocks)} blocks from {len(probe)} probe images ({time.perf_counter() - began:.0f} s)")
    sample = per_class_sample(dataset, per_class, seed)
    indices = [i for label in sorted(sample) for i in sample[label]]
    shown_paths = [dataset.paths[i] for i in indices]
    shown = to_unit_range(torch.stack([load_view(p, backbone.input_size) for p in shown_paths]))
    held_out = np.asarray([p not in set(shown_paths) for p in probe.paths])
    return InspectionPlan(
        backbone,
        weights,
        tuple(dataset.class_names),
        probe,
        features,
        ranking,
        shown,
        shown_paths,
        [dataset.labels[i] for i in indices],
        held_out,
        _block_maps(backbone, shown, blocks),
        rendering,
        settings,
        seed,
        cache_dir,
        notes,
    )


def inspect_block(
    plan: InspectionPlan,
    block: str,
    folder: Path,
    model: SentimentModel | None = None,
    faithfulness_steps: int = 0,
) -> tuple[BlockSection, GroupsResult]:
    """The pictures of one block (PNGs under ``folder/block``) and its neuron groups; with a
    ``model`` and ``faithfulness_steps``, the section also holds how faithful its maps are to the
    model's verdict (:func:`block_faithfulness`)."""
    plan.backbone.check_blocks([block])
    groups = _block_groups(
        plan.backbone,
        block,
        plan.shown,
        plan.maps[block],
        plan.probe,
        plan.features,
        plan.held_out,
        plan.class_names,
        plan.rendering,
        plan.settings,
        plan.seed,
        plan.cache_dir,
    )
    probe_maps = _probe_maps(
        block, plan.maps[block], plan.probe, plan.features, plan.held_out, plan.backbone.input_size
    )
    section = _block_section(
        block,
        plan.shown,
        groups,
        probe_maps,
        plan.shown_labels,
        [p.name for p in plan.shown_paths],
        plan.class_names,
        folder,
    )
    if model is not None and faithfulness_steps:
        section.faithfulness = block_faithfulness(
            model, plan.shown, block, groups, probe_maps[0], faithfulness_steps, plan.seed
        )
    return section, groups


def build_inspection(
    model: SentimentModel,
    weights: str,
    dataset: LabelledImages,
    out: str | Path,
    per_class: int = 6,
    probe_images: int | None = 200,
    settings: AscentSettings | None = None,
    cache_dir: str | Path | None = None,
    k: int = 3,
    n_splits: int = 5,
    seed: int = 0,
    source: str = "",
    rendering: GroupRendering | str = GroupRendering.specific,
    say: Say = quiet,
    importance_draws: int = 0,
    faithfulness_steps: int = 0,
) -> Inspection:
    """Rank every block of ``model``'s backbone and write the report folder ``out``.

    Args:
        model: a sentiment model (ImageNet backbone with fresh heads, or a trained checkpoint).
        weights: how the exported config names the backbone's weights.
        dataset: labelled images; both classes are required.
        per_class: images of each class shown per block.
        probe_images: images (class-balanced sample) for the probe, the separation numbers and
            the reference profile; None uses all.
        settings: activation maximisation of the group pictures (``specific``) or of the channel
            pictures (``paper``); default :data:`INSPECT_SETTINGS`.
        cache_dir: picture cache (default ``$SENTILENS_CACHE`` or ``~/.cache``).
        k: size of the suggested set (pre-ticked in the page).
        source: a description of where the model came from, shown on the page.
        rendering: ``specific`` (default) or ``paper`` (eq. 5).
        say: receives one line per block as it is done.
        importance_draws: random directions of the group-importance test on the shown images
            (0: no test).
        faithfulness_steps: portions of the deletion/insertion curves of each block's maps on
            the shown images (0: not measured; 3 costs 22 forward passes per image and block).
    """
    rendering = GroupRendering(rendering)
    check_ascent_size(model.backbone, settings or INSPECT_SETTINGS, model.backbone.block_names)
    out = Path(out)
    folder = out / "blocks"
    folder.mkdir(parents=True, exist_ok=True)
    plan = plan_inspection(
        model, weights, dataset, per_class, probe_images, settings, cache_dir, k, n_splits, seed, rendering, say
    )
    blocks = plan.backbone.block_names
    sections, all_groups = [], []
    for position, block in enumerate(blocks, start=1):
        started = time.perf_counter()
        section, groups = inspect_block(plan, block, folder, model, faithfulness_steps)
        all_groups += groups.groups
        sections.append(section)
        done = "pictures and faithfulness" if faithfulness_steps else "pictures"
        say(f"block {block} ({position}/{len(blocks)}): {done} in {time.perf_counter() - started:.0f} s")
    notes = list(plan.notes)
    note = convergence_note(all_groups)
    notes += [note] if note else []
    if importance_draws > 0:
        started = time.perf_counter()
        plan.ranking.attach_importance(blocks_importance(model, plan.shown, blocks, importance_draws, seed))
        say(f"group importance at {len(blocks)} blocks ({time.perf_counter() - started:.0f} s)")
    legend = LEGEND if rendering == GroupRendering.specific else PAPER_LEGEND
    source = source or f"{plan.backbone.name} ({weights})"
    index = write_report(out, plan.ranking, sections, source=source, legend=legend)
    files = [index, *(p for s in sections for c in s.cards for p in (c.where, c.group, c.probe))]
    files += [p for s in sections for _, p in s.contrast]
    return Inspection(index, plan.ranking, files, notes)


def model_and_weights(checkpoint: Path | None, backbone: str, weights: str, out: Path) -> tuple[SentimentModel, str]:
    """The model to inspect and the ``weights`` value a config needs to rebuild its backbone.

    For a trained ``checkpoint`` the backbone's weights are written to ``out/backbone.pt`` so that
    the exported config can name them.
    """
    model, _ = load_model(checkpoint, backbone, weights)
    if checkpoint is None:
        return model, weights
    out.mkdir(parents=True, exist_ok=True)
    path = (out / "backbone.pt").resolve()
    torch.save(model.backbone.state_dict(), path)
    return model, str(path)


def model_source(checkpoint: Path | None, model: SentimentModel, weights: str) -> str:
    """How the report page names where its model came from."""
    if checkpoint is not None:
        return f"checkpoint {checkpoint}"
    return f"{model.backbone.name} ({weights} weights)"


@dataclass
class Suggestion:
    """What :func:`suggest_blocks` ranked and wrote."""

    ranking: Ranking
    files: list[Path]


def suggest_blocks(
    dataset: LabelledImages,
    out: Path,
    checkpoint: Path | None = None,
    backbone: str = "inception_v3",
    weights: str = "imagenet",
    probe_images: int | None = None,
    k: int = 3,
    n_splits: int = 5,
    seed: int = 0,
    say: Say = quiet,
    importance_images: int = 12,
    importance_draws: int = 0,
) -> Suggestion:
    """Rank the blocks by linear-probe accuracy and NMF separation; write ``suggest.md``,
    ``suggest.json`` and ``suggested-config.json`` (a config for ``--config``) to ``out``.

    Beside the ranking, the group importance of each block
    (:func:`~sentilens.explain.group_importance`) on a stratified sample of
    ``importance_images`` of the ranked images with ``importance_draws`` random directions (either
    0: not measured)."""
    began = time.perf_counter()
    dataset.require_all_classes()
    model, weights_name = model_and_weights(checkpoint, backbone, weights, out)
    sample, features, skipped = evidence_features(
        model.backbone, stratified_subset(dataset, probe_images, seed), say=say
    )
    for failure in skipped:
        say(f"skipped {failure.reason}")
    ranking = rank_blocks(model.backbone, weights_name, sample, features, k=k, n_splits=n_splits, seed=seed)
    if importance_images > 0 and importance_draws > 0:
        chosen = stratified_subset(sample, importance_images, seed)
        images = to_unit_range(torch.stack([load_view(p, model.backbone.input_size) for p in chosen.paths]))
        ranking.attach_importance(blocks_importance(model, images, model.backbone.block_names, importance_draws, seed))
    config = ranking.config()
    ranking.seconds = time.perf_counter() - began
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "suggest.md", out / "suggest.json", out / "suggested-config.json"]
    files[0].write_text(ranking.markdown(), encoding="utf-8")
    files[1].write_text(json.dumps(ranking.to_dict(), indent=2), encoding="utf-8")
    files[2].write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    return Suggestion(ranking, files)
