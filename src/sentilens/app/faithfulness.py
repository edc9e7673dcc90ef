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
from sentilens.app.provenance import run_record
from sentilens.data import LabelledImages, content_digests, load_view, to_unit_range
from sentilens.evaluation import dataset_digest
from sentilens.explain import (
    DEFAULT_CAM_METHOD,
    DEFAULT_STEPS,
    Baseline,
    CamMethod,
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
) -> Written:
    """Deletion and insertion AUC (and ROAD) of each method at each block (default the default map's block)
    for ``limit`` images of ``dataset``, against the model-blind orders; ``faithfulness.json``.

    The JSON holds, per fill, the aggregate (means with bootstrap 95 % intervals, and ratios to each
    baseline) and every image's scores, and the provenance (command, version, date, CPU, data digest).
    """
    blocks = list(blocks or [default_cam_block(model.backbone)])
    model.backbone.check_blocks(blocks)
    paths = chosen_images(dataset, limit, seed)
    images = _views(model, paths)
    explainers = [cam_explainer(model, block, method) for block in blocks for method in methods]
    say(f"{len(paths)} images of {dataset.name}; maps: {', '.join(e.name for e in explainers)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = _record(
        dataset,
        paths,
        {"blocks": blocks, "methods": [str(m) for m in methods], "steps": steps, "road": road, "seed": seed},
    )
    written = Written()
    for fill in fills:
        report = measure_faithfulness(
            model, images, explainers, [p.name for p in paths], tuple(Baseline), fill, steps, road, seed
        )
        record[f"fill_{Fill(fill).value}"] = report.to_dict()
        summary = report.summary()
        for explainer in report.explainers:
            d, i = summary["orders"][explainer]["deletion"], summary["orders"][explainer]["insertion"]
            cells = summary["orders"][Baseline.random_cells.value]
            written.notes.append(
                f"{explainer} ({Fill(fill).value} fill): deletion {d['mean']:.3f} [{d['low']:.3f}, {d['high']:.3f}], "
                f"insertion {i['mean']:.3f} [{i['low']:.3f}, {i['high']:.3f}] "
                f"(random cells {cells['deletion']['mean']:.3f} / {cells['insertion']['mean']:.3f})"
            )
    path = out / "faithfulness.json"
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    written.files.append(path)
    return written


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
