"""Faithfulness and sanity checks of the maps, as commands: measure, then write a JSON with provenance.

``sentilens explain faithfulness DATA`` and ``sentilens explain sanity DATA`` call these; the
measurements themselves are in :mod:`sentilens.explain.faithfulness` and
:mod:`sentilens.explain.sanity`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentilens.app.explain import Written
from sentilens.app.map_explainers import reference_explainers
from sentilens.app.provenance import run_record
from sentilens.data import LabelledImages, content_digests, load_view, to_unit_range
from sentilens.evaluation import dataset_digest
from sentilens.explain import (
    DEFAULT_CAM_METHOD,
    DEFAULT_STEPS,
    Baseline,
    CamMethod,
    FaithfulnessReport,
    Fill,
    cam_explainer,
    default_cam_block,
    gradcam_maps,
    measure_faithfulness,
    sanity_check,
)
from sentilens.models import SentimentModel
from sentilens.utils import Say, quiet


def chosen_images(dataset: LabelledImages, limit: int | None, seed: int) -> list[Path]:
    """``limit`` images of ``dataset`` drawn at random with ``seed`` (all, in order, for None)."""
    paths = list(dataset.paths)
    if limit is None or limit >= len(paths):
        return paths
    picks = np.random.default_rng(seed).choice(len(paths), size=limit, replace=False)
    return [paths[i] for i in sorted(picks)]


def _views(model: SentimentModel, paths: Sequence[Path]) -> torch.Tensor:
    return torch.stack([to_unit_range(load_view(p, model.backbone.input_size)) for p in paths])


def _record(dataset: LabelledImages, paths: Sequence[Path], settings: dict[str, Any]) -> dict[str, Any]:
    digest = dataset_digest(dataset.labels, content_digests(dataset.paths), dataset.class_names)
    names = [p.name for p in paths]
    return run_record({dataset.name: digest}) | {"settings": settings, "images": names}


def run_faithfulness(
    model: SentimentModel,
    dataset: LabelledImages,
    out: str | Path,
    blocks: Sequence[str] | None = None,
    methods: Sequence[CamMethod | str] = (DEFAULT_CAM_METHOD,),
    limit: int | None = 20,
    steps: int = DEFAULT_STEPS,
    fills: Sequence[Fill | str] = (Fill.blur,),
    road: bool = False,
    seed: int = 0,
    say: Say = quiet,
    where: bool = False,
    probe: bool = False,
    reference_images: int | None = 200,
) -> Written:
    """Deletion and insertion AUC (and ROAD) of each method at each block (default the default map's block)
    for ``limit`` images of ``dataset``, against the model-blind orders; ``faithfulness.json``.

    With ``where`` and ``probe``, the neuron group's "where" map and the block's probe map (the
    inspect page's) are measured at each block too, made from up to ``reference_images`` other
    images of ``dataset`` (:func:`~sentilens.app.map_explainers.reference_explainers`).  Each block
    is measured apart, so that the random-cells baseline shuffles the cells of that block's grid.

    The JSON holds, per fill and block, the aggregate (means with bootstrap 95 % intervals, and
    ratios to each baseline) and every image's scores, and the provenance (command, version, date,
    CPU, data digest).
    """
    blocks = list(blocks or [default_cam_block(model.backbone)])
    model.backbone.check_blocks(blocks)
    paths = chosen_images(dataset, limit, seed)
    extra = reference_explainers(model, dataset, paths, blocks, where, probe, reference_images, seed, say)
    images = _views(model, paths)
    by_block = {
        block: [cam_explainer(model, block, method) for method in methods]
        + [e for e in extra if e.name.endswith(f" {block}")]
        for block in blocks
    }
    names = [e.name for block in blocks for e in by_block[block]]
    say(f"{len(paths)} images of {dataset.name}; maps: {', '.join(names)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"blocks": blocks, "methods": [str(m) for m in methods], "where": where, "probe": probe}
    record: dict[str, Any] = _record(dataset, paths, settings | {"steps": steps, "road": road, "seed": seed})
    written = Written()
    for fill in fills:
        record[f"fill_{Fill(fill).value}"] = {}
        for block, explainers in by_block.items():
            report = measure_faithfulness(
                model, images, explainers, [p.name for p in paths], tuple(Baseline), fill, steps, road, seed
            )
            record[f"fill_{Fill(fill).value}"][block] = report.to_dict()
            written.notes += _score_notes(report, Fill(fill))
    path = out / "faithfulness.json"
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    written.files.append(path)
    return written


def _score_notes(report: FaithfulnessReport, fill: Fill) -> list[str]:
    """One line per map of ``report``: its mean deletion and insertion AUC against random cells."""
    summary = report.summary()
    cells = summary["orders"][Baseline.random_cells.value]
    notes = []
    for explainer in report.explainers:
        d, i = summary["orders"][explainer]["deletion"], summary["orders"][explainer]["insertion"]
        notes.append(
            f"{explainer} ({fill.value} fill): deletion {d['mean']:.3f} [{d['low']:.3f}, {d['high']:.3f}], "
            f"insertion {i['mean']:.3f} [{i['low']:.3f}, {i['high']:.3f}] "
            f"(random cells {cells['deletion']['mean']:.3f} / {cells['insertion']['mean']:.3f})"
        )
    return notes


def run_sanity(
    model: SentimentModel,
    dataset: LabelledImages,
    out: str | Path,
    block: str | None = None,
    method: CamMethod | str = DEFAULT_CAM_METHOD,
    limit: int | None = 10,
    depth: int | None = 3,
    seed: int = 0,
) -> Written:
    """Cascading randomisation (heads, then ``depth`` blocks from the top) of ``method`` at ``block``
    for ``limit`` images: median Spearman and SSIM per step in ``sanity.json``."""
    block = block or default_cam_block(model.backbone)
    model.backbone.check_blocks([block])
    paths = chosen_images(dataset, limit, seed)
    report = sanity_check(model, _views(model, paths), gradcam_maps(block, method), depth, seed)
    record = _record(dataset, paths, {"block": block, "method": str(method), "depth": depth, "seed": seed})
    record["sanity"] = report.to_dict()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sanity.json"
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    notes = [
        f"randomised up to {step['randomised']}: median Spearman {step['median_rank_correlation']:.3f}, "
        f"median SSIM {step['median_ssim']:.3f}"
        for step in record["sanity"]["steps"]
    ]
    return Written([path], notes)
