"""Cross-validation (Table 3) and the block experiments (Tables 4 and 5), with their result files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from sentilens.app.distributed import ray_runner
from sentilens.app.provenance import run_record
from sentilens.data import TWITTER_SUBSETS, LabelledImages, OnError, content_digests, decode_dataset, load_dataset
from sentilens.evaluation import (
    CrossValidationResult,
    NestedSettings,
    ablation_rows,
    block_experiment,
    block_table_json,
    chosen_blocks,
    cross_fitted_calibration,
    cross_validate,
    cross_validate_logistic,
    dataset_digest,
    layer_rows,
    markdown_block_table,
    markdown_table3,
    nested_cross_validate,
    run_in_process,
    table3_json,
)
from sentilens.models import backbone_class, backbone_spec
from sentilens.training import TrainConfig, prepare_cache
from sentilens.utils import InvalidArgumentError, Say, quiet

ExperimentKind = Literal["layers", "ablation"]


@dataclass
class DecodedDataset:
    """The images of a dataset that decoded, their centre crops, and the files left out (with why)."""

    dataset: LabelledImages
    images: torch.Tensor
    skipped: list[dict[str, str]]


def decode_for(dataset: LabelledImages, config: TrainConfig, on_error: OnError, say: Say = quiet) -> DecodedDataset:
    """Decode ``dataset`` at ``config``'s input size; report each file left out."""
    size = backbone_spec(config.backbone).input_size
    usable, images, failures = decode_dataset(dataset, size, on_error)
    for failure in failures:
        say(f"skipped {failure.reason}")
    if failures:
        say(f"{dataset.name}: {len(usable)} images used, {len(failures)} skipped")
    return DecodedDataset(usable, images, [{"file": str(f.path), "reason": f.reason} for f in failures])


def subset_names(data: Path, subset: str) -> tuple[str, ...]:
    """The Twitter I subsets that ``subset`` names (``all`` is every one)."""
    return TWITTER_SUBSETS if subset == "all" else (subset,)


@dataclass
class CrossValidationRun:
    """What :func:`run_cross_validation` computed and wrote."""

    results: dict[str, list[CrossValidationResult]]
    table: str
    files: list[Path]
    calibration: dict[str, dict[str, object]] = field(default_factory=dict)


def run_cross_validation(
    data: Path,
    subset: str,
    config: TrainConfig,
    out: Path,
    folds: int = 5,
    baseline: bool = False,
    run_dir: Path | None = None,
    on_error: OnError = OnError.fail,
    say: Say = quiet,
    nested: NestedSettings | None = None,
) -> CrossValidationRun:
    """Cross-validate ``config`` on each subset and write ``table3.md``, ``table3.json``,
    ``folds.json``, ``skipped.json`` and ``run.json`` (command, version, date, CPU, torch, and a
    digest of each dataset's labels and image contents) to ``out``.

    ``calibration.json`` holds each model's held-out ECE before and after temperature scaling
    (:func:`calibration_records`).  With ``baseline`` the logistic regression on frozen pooled
    features is scored on the same folds; with ``run_dir`` finished folds are kept there and
    reused by a rerun.  With ``nested`` the blocks are chosen in each outer fold from its training
    images (``config.blocks`` is ignored; see :mod:`sentilens.evaluation.nested`) and the blocks of
    each fold are reported.
    """
    if nested is not None and run_dir is not None:
        raise InvalidArgumentError("--run-dir resumes fixed-config runs only, not nested selection")
    results: dict[str, list[CrossValidationResult]] = {}
    skipped: dict[str, list[dict[str, str]]] = {}
    digests: dict[str, str] = {}
    labels: dict[str, np.ndarray] = {}
    for name in subset_names(data, subset):
        dataset = load_dataset(data, name)
        say(f"{dataset.name}: {len(dataset)} images {dataset.class_counts()}")
        key = name if (data / "ground_truth").is_dir() else dataset.name
        decoded = decode_for(dataset, config, on_error, say)
        skipped[key] = decoded.skipped
        labels[key] = np.asarray(decoded.dataset.labels)
        contents = content_digests(decoded.dataset.paths)
        digests[key] = dataset_digest(decoded.dataset.labels, contents, decoded.dataset.class_names)
        cache = prepare_cache(decoded.dataset, config, decoded.images)
        fold_dir = run_dir / key if run_dir is not None else None
        if nested is not None:
            ours = [nested_cross_validate(decoded.dataset, config, cache, folds, config.seed, nested)]
            for number, blocks in enumerate(chosen_blocks(ours[0]), start=1):
                say(f"{key} fold {number}: blocks {', '.join(blocks)} chosen on its training images")
        else:
            ours = [cross_validate(decoded.dataset, config, folds, config.seed, cache=cache, run_dir=fold_dir)]
        resumed = [fold.number + 1 for fold in ours[0].folds if fold.resumed]
        if resumed:
            say(f"folds {', '.join(map(str, resumed))} reused from {fold_dir}")
        if baseline:
            frozen_config = replace(config, mode="frozen", trainable_from=None)
            frozen = cache if cache.boundary is None else prepare_cache(decoded.dataset, frozen_config, decoded.images)
            ours.append(cross_validate_logistic(decoded.dataset, frozen, folds, config.seed))
        results[key] = ours
    table = markdown_table3(results)
    out.mkdir(parents=True, exist_ok=True)
    calibration = calibration_records(results, labels, say)
    files = [out / "table3.md", out / "table3.json", out / "folds.json", out / "skipped.json", out / "run.json"]
    files[0].write_text(table, encoding="utf-8")
    files[1].write_text(json.dumps(table3_json(results), indent=2), encoding="utf-8")
    folds_json = {key: [result.to_dict() for result in rows] for key, rows in results.items()}
    files[2].write_text(json.dumps(folds_json, indent=2), encoding="utf-8")
    files[3].write_text(json.dumps(skipped, indent=2), encoding="utf-8")
    record = run_record(digests) | {"config": config.to_dict(), "nested": nested.to_dict() if nested else None}
    files[4].write_text(json.dumps(record, indent=2), encoding="utf-8")
    files.append(out / "calibration.json")
    files[5].write_text(json.dumps(calibration, indent=2), encoding="utf-8")
    return CrossValidationRun(results, table, files, calibration)


def calibration_records(
    results: dict[str, list[CrossValidationResult]], labels: dict[str, np.ndarray], say: Say = quiet
) -> dict[str, dict[str, object]]:
    """Held-out ECE before and after temperature scaling of each model's out-of-fold predictions
    (:func:`~sentilens.evaluation.cross_fitted_calibration`: each fold's temperature is fitted on
    the other folds), by dataset and model; a run with resumed folds has no predictions to judge."""
    records: dict[str, dict[str, object]] = {}
    for key, rows in results.items():
        records[key] = {}
        for result in rows:
            folds = result.out_of_fold()
            if folds is None:
                say(f"{key}, {result.model}: calibration not judged (resumed folds keep no predictions)")
                continue
            found = cross_fitted_calibration(labels[key], folds)
            records[key][result.model] = found
            say(
                f"{key}, {result.model}: out-of-fold ECE {found['ece_before']:.4f}, "
                f"{found['ece_after']:.4f} after temperature scaling (fitted on the other folds)"
            )
    return records


@dataclass
class ExperimentRun:
    """What :func:`run_block_experiment` computed and wrote."""

    rows: list[tuple[tuple[str, ...], CrossValidationResult]]
    table: str
    files: list[Path]


def experiment_blocks(kind: ExperimentKind, config: TrainConfig, blocks: Sequence[str] | None) -> tuple[str, ...]:
    """The blocks of an experiment: those given, else every block (layers) or the config's blocks (ablation)."""
    spec = backbone_spec(config.backbone)
    if blocks is not None:
        chosen = tuple(blocks)
    elif kind == "layers":
        chosen = spec.blocks
    else:
        chosen = tuple(config.blocks) if config.blocks else spec.default_aux_blocks
    backbone_class(config.backbone).check_blocks(chosen)
    return chosen


def run_block_experiment(
    kind: ExperimentKind,
    data: Path,
    subset: str,
    config: TrainConfig,
    out: Path,
    blocks: Sequence[str] | None = None,
    folds: int = 5,
    ray: bool = False,
    ray_address: str | None = None,
    say: Say = quiet,
) -> ExperimentRun:
    """Table 4 (``layers``: no head, then one head per block) or Table 5 (``ablation``: every
    non-empty subset of the blocks) on shared folds; writes ``<kind>.md`` and ``<kind>.json``.

    With ``ray`` (or a ``ray_address``) the rows x folds run as Ray tasks, on a local Ray bound to
    loopback or on the cluster at ``ray_address``, with the same scores as in this process.
    """
    if subset == "all":
        raise InvalidArgumentError("experiments use one subset; choose five, four or three")
    blocks = experiment_blocks(kind, config, blocks)
    dataset = load_dataset(data, subset)
    head_sets = layer_rows(blocks) if kind == "layers" else ablation_rows(blocks)
    runner = ray_runner(ray_address, say) if ray or ray_address is not None else run_in_process
    rows = block_experiment(dataset, config, head_sets, folds, config.seed, runner=runner)
    title = {"layers": "Table 4: one auxiliary head per block", "ablation": "Table 5: ablation of the chosen blocks"}[
        kind
    ]
    table = markdown_block_table(rows, f"{title} ({dataset.name}, {config.backbone}, {config.mode})")
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{kind}.md", out / f"{kind}.json"]
    files[0].write_text(table, encoding="utf-8")
    record = {"dataset": dataset.name, "config": config.to_dict(), "rows": block_table_json(rows)}
    files[1].write_text(json.dumps(record, indent=2), encoding="utf-8")
    return ExperimentRun(rows, table, files)
