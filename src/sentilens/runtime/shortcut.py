"""The torch-free shortcut of ``predict``: a checkpoint whose OpenVINO network is already in the
runtime cache is run without importing torch and without rebuilding the model.

Building a :class:`~sentilens.runtime.Predictor` costs, before the first image: importing torch,
rebuilding the model from its checkpoint (the ImageNet backbone read and checked, the heads
loaded) and digesting its tensors for the cache key, although all the OpenVINO runtime then needs
is the cached network and a few facts about the model.  So when a predictor on the OpenVINO
runtime is made for a checkpoint file, :func:`remember_network` writes a small record under
``cache_root("runtime")/shortcuts``, keyed by the file (its resolved path, size and modification
time; the same facts of the ImageNet weights it was built on are checked too), the precision, the
re-check setting and the OpenVINO and NNCF versions, naming the cached
network entries and the model's class names, blocks, head weights, input size and views.  A later
:func:`predict_by_shortcut` for the same file and settings reads the record, the network entry
(verified against its manifest, as :class:`~sentilens.utils.disk_cache.DiskCache` always does) and
runs it with numpy: decoding, the centre and mirror views, the heads' softmax, the fused verdict
and the float32 re-check of close calls as :class:`~sentilens.runtime.Predictor` computes them
(BENCHMARKS.md, "Start-up": the same labels, probabilities within float32 rounding).

Anything the shortcut does not cover (the torch runtime, ``--calibration``, the zoom views, a
changed checkpoint file, a missing or damaged entry) returns None, and the caller builds the
predictor as before, which writes the record for next time.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sentilens.data.choices import OnError
from sentilens.data.images import ImageDecodeError, load_view_array
from sentilens.runtime.choice import Runtime, RuntimeChoice, choose_runtime
from sentilens.runtime.openvino_cache import CACHE_FORMAT, CLOSE_CALLS, compile_network, network_versions, read_network
from sentilens.runtime.results import Prediction, Skipped
from sentilens.runtime.settings import RunSettings
from sentilens.utils.atomic import write_json_atomic
from sentilens.utils.cache import cache_root
from sentilens.utils.disk_cache import MANIFEST, DiskCache
from sentilens.utils.hashing import json_digest
from sentilens.utils.progress import Say, quiet, track

#: The folder of the records, under ``cache_root("runtime")``.
SHORTCUTS = "shortcuts"
#: Bumped whenever a record's content or the shortcut's arithmetic changes.
SHORTCUT_FORMAT = "sentilens-shortcut/3"
#: The views the shortcut makes (with numpy); any other view leaves the run to the predictor.
SHORTCUT_VIEWS = ("centre", "mirror")


def _identity(path: Path) -> dict[str, Any] | None:
    """A file as the records know it: resolved path, size and modification time (None: missing)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _key(checkpoint: Path, choice: RuntimeChoice, settings: RunSettings) -> dict[str, Any] | None:
    """What a record is for; None where the shortcut does not apply to these settings."""
    if choice.runtime != Runtime.openvino or settings.calibration is not None or settings.compiled:
        return None
    identity = _identity(checkpoint)
    if identity is None:
        return None
    return {
        "format": SHORTCUT_FORMAT,
        "checkpoint": identity,
        "precision": str(choice.precision),
        "recheck": settings.recheck,
        **network_versions(),
    }


def _record_path(key: dict[str, Any]) -> Path:
    return cache_root("runtime") / SHORTCUTS / f"{json_digest(key)[:32]}.json"


def remember_network(
    checkpoint: Path,
    settings: RunSettings,
    choice: RuntimeChoice,
    network: Any,
    facts: dict[str, Any],
) -> None:
    """Write the record of ``network`` (an :class:`~sentilens.runtime.openvino_backend.OpenVinoNetwork`
    made for ``checkpoint`` with ``settings``); ``facts``: ``depends_on`` (the files besides the
    checkpoint that the model was built from, :func:`~sentilens.models.external_weights`),
    ``class_names``, ``blocks``, ``aux_weights``, ``companion_weight`` (0 without a companion),
    ``votes`` (the names of the network's outputs, in order), ``temperature``, ``input_size`` and
    ``views`` (the model's own).
    Nothing for other runtimes."""
    key = _key(checkpoint, choice, settings)
    entry = getattr(network, "cache_entry", None)
    if key is None or entry is None:
        return
    depends_on = [_identity(Path(path)) for path in facts.pop("depends_on")]
    if None in depends_on:
        return
    names = {"entry": Path(entry).name, "float32_entry": Path(network.float32_entry).name}
    record = {"key": key, **names, "depends_on": depends_on, **facts}
    path = _record_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, record)


class _Missing(Exception):
    """The cache lacks an entry the record names: the caller builds it the usual way."""


def _load_network(name: str, precision: str) -> tuple[Any, float | None]:
    """The compiled network of cache entry ``name`` (verified) and its close-call margin."""
    root = cache_root("runtime")
    entry = root / name
    try:
        key = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))["key"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _Missing(str(error)) from error

    def missing(folder: Path) -> None:
        raise _Missing(f"{entry} is missing or damaged")

    files = DiskCache(root, CACHE_FORMAT).folder(name, key, missing)
    notes = files.contents.get(CLOSE_CALLS)
    margin = float(json.loads(notes)["margin"]) if notes is not None else None
    return compile_network(read_network(files.contents), precision).create_infer_request(), margin


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    result: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return result


Network = Callable[[np.ndarray], list[np.ndarray]]


class ShortcutNetwork:
    """Views averaged, heads fused and close calls re-checked, as :class:`~sentilens.runtime.Predictor`
    does with torch, on uint8 images ``(N, 3, S, S)`` as numpy arrays."""

    def __init__(self, record: dict[str, Any], precision: str, views: Sequence[str], recheck: bool) -> None:
        self.num_classes = len(record["class_names"])
        request, margin = _load_network(record["entry"], precision)
        self.network: Network = lambda images: _outputs(request, images)
        self.recheck: Network | None = None
        self.margin = 0.0
        if recheck and margin:
            self.margin, float32_entry = margin, record["float32_entry"]
            self._float32: Network | None = None

            def float32(images: np.ndarray) -> list[np.ndarray]:
                if self._float32 is None:
                    exact, _ = _load_network(float32_entry, "fp32")
                    self._float32 = lambda batch: _outputs(exact, batch)
                return self._float32(images)

            self.recheck = float32
        self.blocks = list(record["blocks"])
        self.aux_weights = [float(w) for w in record["aux_weights"]]
        self.companion_weight = float(record["companion_weight"])
        self.names = list(record["votes"])
        self.temperature = float(record["temperature"])
        self.views = tuple(views)
        self.rechecked = 0

    def fuse(self, outputs: list[np.ndarray]) -> np.ndarray:
        """The model's fused class probabilities (:meth:`~sentilens.models.SentimentModel.fuse`):
        the heads' vote, mixed with the companion's probabilities (the last output) where it has one."""
        vote = _softmax(outputs[0])
        for weight, aux in zip(self.aux_weights, outputs[1:]):
            vote = vote + weight * _softmax(aux)
        vote = vote / (1.0 + sum(self.aux_weights))
        if not self.companion_weight:
            return vote
        mixed: np.ndarray = (1.0 - self.companion_weight) * vote + self.companion_weight * _softmax(outputs[-1])
        return mixed

    def views_averaged(self, network: Network, images: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        share = 1.0 / len(self.views)
        fused = np.zeros((len(images), self.num_classes), dtype=np.float32)
        heads: dict[str, np.ndarray] = {}
        for view in self.views:
            batch = images if view == "centre" else np.ascontiguousarray(images[..., ::-1])
            outputs = network(batch)
            fused += share * self.fuse(outputs)
            for name, logits in zip(self.names, outputs, strict=True):
                heads[name] = heads.get(name, np.zeros(len(images), dtype=np.float32)) + share * _softmax(logits)[:, 1]
        return fused, heads

    def calibrate(self, fused: np.ndarray) -> np.ndarray:
        """Fused probabilities scaled by the model's temperature (:func:`~sentilens.models.temper`)."""
        if self.temperature == 1.0:
            return fused
        return _softmax(np.log(np.maximum(fused, 1e-12)) / self.temperature)

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Calibrated fused class probabilities and each head's positive-class probability; close
        calls (judged before calibration, which keeps the order) classified again in float32."""
        fused, heads = self.views_averaged(self.network, images)
        if self.recheck is None:
            return self.calibrate(fused), heads
        top_two = -np.sort(-fused, axis=1)[:, :2]
        close = np.flatnonzero((top_two[:, 0] - top_two[:, 1]) < 2 * self.margin)
        if len(close):
            self.rechecked += len(close)
            exact, exact_heads = self.views_averaged(self.recheck, images[close])
            fused[close] = exact
            for name, values in exact_heads.items():
                heads[name][close] = values
        return self.calibrate(fused), heads


def _outputs(request: Any, images: np.ndarray) -> list[np.ndarray]:
    outputs = request.infer(images)
    return [np.array(outputs[index], copy=True) for index in range(len(outputs))]


def _decode(paths: Sequence[Path], size: int) -> tuple[list[int], np.ndarray | None, list[tuple[int, str]]]:
    good: list[tuple[int, np.ndarray]] = []
    bad: list[tuple[int, str]] = []
    for index, path in enumerate(paths):
        try:
            good.append((index, load_view_array(path, size).transpose(2, 0, 1)))
        except ImageDecodeError as error:
            bad.append((index, str(error)))
    images = np.stack([image for _, image in good]) if good else None
    return [index for index, _ in good], images, bad


def _batches(
    paths: Sequence[Path], size: int, batch_size: int, threads: int
) -> Iterator[tuple[int, list[int], np.ndarray | None, list[tuple[int, str]]]]:
    """``(start, indices in the batch, uint8 images, failures)`` per batch, decoded up to
    ``threads + 1`` batches ahead in ``threads`` threads (0: in this thread)."""
    starts = range(0, len(paths), batch_size)
    if threads <= 0:
        for start in starts:
            yield start, *_decode(paths[start : start + batch_size], size)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="sentilens-decode") as pool:
        pending: deque[tuple[int, Future[tuple[list[int], np.ndarray | None, list[tuple[int, str]]]]]] = deque()
        for start in starts:
            pending.append((start, pool.submit(_decode, paths[start : start + batch_size], size)))
            if len(pending) > threads:
                first, future = pending.popleft()
                yield first, *future.result()
        while pending:
            first, future = pending.popleft()
            yield first, *future.result()


def predict_by_shortcut(
    checkpoint: Path,
    paths: Sequence[Path],
    settings: RunSettings = RunSettings(),
    on_error: OnError | str = OnError.skip,
    say: Say = quiet,
) -> tuple[list[Prediction], list[Skipped]] | None:
    """Predictions and skipped inputs of ``paths`` by the cached network of ``checkpoint``, or None
    where the shortcut does not apply (see the module docstring)."""
    on_error = OnError(on_error)
    choice = choose_runtime(settings.runtime, settings.precision, "cpu", settings.compiled)
    key = _key(checkpoint, choice, settings)
    if key is None:
        return None
    try:
        record = json.loads(_record_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != key:
        return None
    if any(_identity(Path(known["path"])) != known for known in record["depends_on"]):
        return None  # the ImageNet weights the model was built on changed: rebuild it
    views = settings.views if settings.views is not None else tuple(record["views"])
    if any(view not in SHORTCUT_VIEWS for view in views):
        return None
    try:
        network = ShortcutNetwork(record, str(choice.precision), views, settings.recheck)
    except _Missing:
        return None
    say(f"runtime: {choice}")
    names, size = list(record["class_names"]), int(record["input_size"])
    predictions: list[Prediction] = []
    skipped: list[Skipped] = []
    batches = _batches(paths, size, settings.batch_size, settings.resolved_decode_threads)
    total = -(-len(paths) // settings.batch_size)
    for start, indices, images, failures in track(batches, total=total, description="classifying"):
        for index, reason in failures:
            if on_error == OnError.fail:
                raise ImageDecodeError(reason)
            skipped.append(Skipped(Path(paths[start + index]), reason))
        if images is None:
            continue
        fused, heads = network(images)
        for row, index in enumerate(indices):
            best = int(fused[row].argmax())
            predictions.append(
                Prediction(
                    path=Path(paths[start + index]),
                    label=names[best],
                    probability=float(fused[row, best]),
                    positive_probability=float(fused[row, 1]),
                    head_probabilities={name: float(values[row]) for name, values in heads.items()},
                )
            )
    return predictions, skipped
