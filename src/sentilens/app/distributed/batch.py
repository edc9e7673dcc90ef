"""Batch prediction on Ray: many images, decoded in parallel tasks, classified in a pool of actors.

The job reads the list of inputs (:mod:`.listing`) on the driver and splits it into fixed shards
(:mod:`.shards`).  Ray Data then decodes the images of the unfinished shards in tasks, anywhere
in the cluster, and streams the decoded batches to a fixed pool of classifier actors; each actor
loads the model once and runs it through :class:`~sentilens.runtime.Predictor` with the job's
:class:`~sentilens.runtime.RunSettings`, as ``sentilens predict`` does in one process.  The
driver gathers the rows of each shard by input index and writes the shard once all its rows are
in.  Collecting by index makes the result exactly-once even when Ray retries work: a killed
actor is restarted and its batch run again, and a row that arrives twice is kept once.  An image
that cannot be decoded is a row with status ``skipped`` and the reason, never dropped.

Every node needs sentilens installed and the images at the same paths (shared storage).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentilens.app.classifier import SentimentClassifier, load
from sentilens.app.distributed.listing import list_inputs
from sentilens.app.distributed.session import ClusterError, import_ray, ray_session
from sentilens.app.distributed.shards import ShardLayout, open_output, write_shard
from sentilens.app.predictions import prediction_row, skipped_row
from sentilens.app.shipped import default_model_path
from sentilens.data import expand_inputs, load_or_reason
from sentilens.runtime import Prediction, Predictor, RunSettings, choose_runtime
from sentilens.utils import InvalidArgumentError, Say, __version__, file_digest, json_digest, quiet, quiet_logger

#: Memory Ray reserves per decoding task: a worker process with torch and Pillow loaded and
#: one decoded block (Ray Data measured up to 515 MiB and asked for 643 MiB).
DECODE_MEMORY = 768 * 2**20


@dataclass(frozen=True)
class BatchSettings:
    """How a batch job runs on Ray.

    Attributes:
        checkpoint: the model (None: the shipped default model).
        shard_size: images per output shard (the unit of resuming).
        ray_workers: classifier actors (each loads the model once).
        cpus_per_worker: CPUs Ray reserves for each actor; its torch threads (at least one).
        decode_cpus: CPUs Ray reserves for each decoding task.
        run: how each actor's network runs (runtime, precision, views, calibration, compilation,
            batch size: the images of a decoding task and of an actor call); its decode threads
            are not used, since Ray tasks decode.
    """

    checkpoint: Path | None = None
    shard_size: int = 1000
    ray_workers: int = 1
    cpus_per_worker: float = 1.0
    decode_cpus: float = 1.0
    run: RunSettings = RunSettings()

    def check(self) -> None:
        for name in ("shard_size", "ray_workers"):
            if getattr(self, name) < 1:
                raise InvalidArgumentError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("cpus_per_worker", "decode_cpus"):
            if not 0 < getattr(self, name) <= 64:
                raise InvalidArgumentError(f"{name} must be above 0 and at most 64, got {getattr(self, name)}")


@dataclass
class BatchRun:
    """What :func:`run_batch` did.

    Attributes:
        out: the output folder.
        images: inputs of the job.
        shards: shards of the job.
        kept: shards found finished and left as they were.
        written: shards written by this run.
        classified: images classified by this run.
        skipped: images this run could not decode (rows with status ``skipped``).
        seconds: wall time of the Ray part (start-up included).
    """

    out: Path
    images: int
    shards: int
    kept: list[int] = field(default_factory=list)
    written: list[int] = field(default_factory=list)
    classified: int = 0
    skipped: int = 0
    seconds: float = 0.0


def make_predictor(classifier: SentimentClassifier, settings: BatchSettings) -> Predictor:
    """The predictor an actor runs: the network as ``settings.run`` says, decoding done elsewhere."""
    return classifier.predictor(replace(settings.run, decode_threads=0))


def decode_paths(batch: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    """Ray Data task: the centre crop of each path, or a black image and the reason it failed."""
    paths = batch["path"]
    images = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    reasons = np.full(len(paths), "", dtype=object)
    for row, path in enumerate(paths):
        view = load_or_reason(Path(str(path)), size)
        if isinstance(view, str):
            reasons[row] = view
        else:
            images[row] = view.numpy()
    return {"index": batch["index"], "path": paths, "image": images, "reason": reasons}


class ClassifyBatches:
    """Ray Data actor: loads the model once, then classifies decoded batches.

    Returns per input its index, the fields of its :class:`~sentilens.runtime.Prediction`
    (NaN and empty label when it could not be decoded) and the reason.
    """

    def __init__(self, checkpoint: str | None, settings: BatchSettings, head_names: Sequence[str]) -> None:
        torch.set_num_threads(max(1, math.floor(settings.cpus_per_worker)))
        self.predictor = make_predictor(load(checkpoint), settings)
        self.head_names = list(head_names)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        count = len(batch["index"])
        reasons = batch["reason"]
        columns: dict[str, np.ndarray] = {
            "index": batch["index"],
            "path": batch["path"],
            "label": np.full(count, "", dtype=object),
            "probability": np.full(count, np.nan),
            "positive_probability": np.full(count, np.nan),
            **{f"head_{name}": np.full(count, np.nan) for name in self.head_names},
            "reason": reasons,
        }
        good = np.flatnonzero(reasons == "")
        if len(good):
            images = torch.from_numpy(np.ascontiguousarray(batch["image"][good]))
            paths = [Path(str(p)) for p in batch["path"][good]]
            for row, prediction in zip(good, self.predictor.classify_decoded(paths, images)):
                columns["label"][row] = prediction.label
                columns["probability"][row] = prediction.probability
                columns["positive_probability"][row] = prediction.positive_probability
                for name, value in prediction.head_probabilities.items():
                    columns[f"head_{name}"][row] = value
        return columns


def rows_of(batch: dict[str, np.ndarray], head_names: Sequence[str]) -> list[tuple[int, dict[str, object]]]:
    """(input index, output row) of each input of a classified batch: the rows `predict` writes."""
    rows = []
    for i, index in enumerate(batch["index"]):
        path, reason = Path(str(batch["path"][i])), str(batch["reason"][i])
        if reason:
            rows.append((int(index), skipped_row(path, reason, head_names)))
            continue
        prediction = Prediction(
            path=path,
            label=str(batch["label"][i]),
            probability=float(batch["probability"][i]),
            positive_probability=float(batch["positive_probability"][i]),
            head_probabilities={name: float(batch[f"head_{name}"][i]) for name in head_names},
        )
        rows.append((int(index), prediction_row(prediction)))
    return rows


def job_identity(paths: Sequence[Path], settings: BatchSettings, classifier: SentimentClassifier) -> dict[str, Any]:
    """What makes two batch jobs the same: inputs, shard size, model and how it runs."""
    checkpoint = settings.checkpoint if settings.checkpoint is not None else default_model_path()
    run = classifier.run_settings(settings.run)
    calibration = None
    if run.calibration is not None:
        calibration = json_digest(sorted(file_digest(p) for p in expand_inputs(run.calibration)))
    return {
        "images": len(paths),
        "inputs_sha256": json_digest([str(p) for p in paths]),
        "shard_size": settings.shard_size,
        "model_sha256": file_digest(checkpoint),
        "views": list(run.resolved_views),
        "runtime": str(run.runtime),
        "precision": str(run.precision),
        "calibration_sha256": calibration,
        "sentilens_version": __version__,
    }


def check_resources(settings: BatchSettings) -> None:
    """Refuse a pool that would leave no CPU for decoding (the job would wait for ever)."""
    available = float(import_ray().cluster_resources().get("CPU", 0))
    needed = settings.ray_workers * settings.cpus_per_worker + settings.decode_cpus
    if needed > available:
        raise InvalidArgumentError(
            f"{settings.ray_workers} Ray workers x {settings.cpus_per_worker:g} CPUs + {settings.decode_cpus:g} "
            f"for decoding need {needed:g} CPUs; the Ray cluster has {available:g} "
            "(lower --ray-workers or --cpus-per-worker)"
        )


def classified_batches(
    paths: Sequence[Path], indices: Sequence[int], size: int, settings: BatchSettings, head_names: Sequence[str]
) -> Any:
    """The Ray Data pipeline over ``indices`` of ``paths``: blocks of paths, decoding tasks, actors."""
    ray = import_ray()
    import pyarrow as pa

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    quiet_logger("ray.data")  # errors only, unless --verbose (then Ray Data's warnings too)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    # One block of paths per network batch: a decoding task, then one actor call, per block, so
    # that small jobs spread over every worker too.
    step = settings.run.batch_size
    blocks = [
        pa.table({"index": list(chunk), "path": [str(paths[i]) for i in chunk]})
        for chunk in (indices[start : start + step] for start in range(0, len(indices), step))
    ]
    checkpoint = None if settings.checkpoint is None else str(settings.checkpoint.resolve())
    return (
        ray.data.from_arrow(blocks)
        .map_batches(
            decode_paths,
            fn_kwargs={"size": size},
            batch_size=None,
            batch_format="numpy",
            num_cpus=settings.decode_cpus,
            # Declaring the memory a decoding worker needs also keeps Ray Data from fusing decoding
            # into the actors, which it does for maps with identical remote arguments.
            memory=DECODE_MEMORY,
        )
        .map_batches(
            ClassifyBatches,
            fn_constructor_kwargs={"checkpoint": checkpoint, "settings": settings, "head_names": list(head_names)},
            batch_size=settings.run.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=settings.ray_workers),
            num_cpus=settings.cpus_per_worker,
        )
        .iter_batches(batch_size=None, batch_format="numpy")
    )


class ShardGatherer:
    """Collects rows by input index and writes each shard once all its rows are in.

    A row that arrives twice (Ray reran the work that produced it) is kept once; a row of a shard
    that is already written is ignored, so every input is in exactly one row of one shard.
    """

    def __init__(self, layout: ShardLayout, shards: Sequence[int], head_names: Sequence[str]) -> None:
        self.layout = layout
        self.head_names = list(head_names)
        self.open: dict[int, dict[int, dict[str, object]]] = {shard: {} for shard in shards}

    def indices(self) -> list[int]:
        """The input indices of the shards still open."""
        return [i for shard in self.open for i in self.layout.indices(shard)]

    def add(self, rows: Sequence[tuple[int, dict[str, object]]]) -> Iterator[tuple[int, list[dict[str, object]]]]:
        """Take ``(index, row)`` pairs; yield each shard they complete, with its rows, once written
        (lazily: a caller that stops after one shard leaves the next one unwritten)."""
        for index, row in rows:
            shard = self.layout.shard_of(index)
            if shard not in self.open:
                continue
            self.open[shard][index] = row
            if len(self.open[shard]) == len(self.layout.indices(shard)):
                gathered = self.open.pop(shard)
                shard_rows = [gathered[i] for i in self.layout.indices(shard)]
                write_shard(self.layout, shard, shard_rows, self.head_names)
                yield shard, shard_rows

    def missing(self) -> int:
        """Inputs of open shards that have no row yet."""
        return sum(len(self.layout.indices(shard)) - len(rows) for shard, rows in self.open.items())


def _with_absolute_calibration(settings: BatchSettings) -> BatchSettings:
    """``settings`` with the calibration inputs as absolute paths: Ray workers need not share the
    driver's working directory."""
    calibration = settings.run.calibration
    if calibration is None:
        return settings
    return replace(settings, run=replace(settings.run, calibration=tuple(p.resolve() for p in calibration)))


def run_batch(
    inputs: Sequence[Path],
    out: Path,
    settings: BatchSettings = BatchSettings(),
    address: str | None = None,
    say: Say = quiet,
    on_shard: Callable[[int], None] | None = None,
) -> BatchRun:
    """Classify every image the inputs name into sharded Parquet and JSON-lines files in ``out``.

    Args:
        inputs: image files, folders, and CSV or Parquet listings with a ``path`` column.
        out: the output folder (see :mod:`.shards`); rerun into it to resume.
        settings: how the job runs.
        address: a Ray cluster's address; None starts a local Ray on loopback (see :mod:`.session`).
        say: receives a line of news per shard.
        on_shard: called with each shard's number once it is written.
    """
    settings.check()
    # The actors run on CPUs: a runtime and precision no CPU here can run is refused before Ray starts.
    choice = choose_runtime(settings.run.runtime, settings.run.precision, "cpu", settings.run.compiled)
    say(f"runtime: {choice}")
    settings = _with_absolute_calibration(settings)
    paths = list_inputs(inputs)
    classifier = load(settings.checkpoint)
    head_names = list(classifier.head_names)
    size = classifier.model.backbone.input_size
    open_output(out, job_identity(paths, settings, classifier))
    layout = ShardLayout(out, len(paths), settings.shard_size)
    layout.remove_leftovers()
    pending = layout.pending()
    run = BatchRun(out, len(paths), layout.count, kept=sorted(set(range(layout.count)) - set(pending)))
    if run.kept:
        say(f"{len(run.kept)} of {layout.count} shards already written in {out}; keeping them")
    if not pending:
        return run
    began = time.perf_counter()
    gathered = ShardGatherer(layout, pending, head_names)
    with ray_session(address, say):
        check_resources(settings)
        count = len(gathered.indices())
        say(f"classifying {count} images in {len(pending)} shards with {settings.ray_workers} Ray worker(s)")
        # Closing the iterator stops Ray Data's executor at once when the loop is left early.
        with closing(iter(classified_batches(paths, gathered.indices(), size, settings, head_names))) as batches:
            for batch in batches:
                for shard, rows in gathered.add(rows_of(batch, head_names)):
                    run.written.append(shard)
                    run.skipped += sum(row["status"] == "skipped" for row in rows)
                    run.classified += sum(row["status"] == "ok" for row in rows)
                    say(f"shard {shard + 1}/{layout.count} written ({len(rows)} images)")
                    if on_shard is not None:
                        on_shard(shard)
    if gathered.missing():
        raise ClusterError(f"Ray returned no result for {gathered.missing()} images; rerun into {out} to finish")
    run.seconds = time.perf_counter() - began
    return run
