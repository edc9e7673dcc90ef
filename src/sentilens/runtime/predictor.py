"""Classify image files with a trained model: batched, views averaged, bad files reported.

Decoding runs in threads a few batches ahead of the network, so on a CPU the cores alternate
between JPEG decoding and convolutions instead of waiting for each other; the network
runs on the runtime :func:`~sentilens.runtime.choose_runtime` picks (OpenVINO int8 on x86 CPUs
where OpenVINO is installed, else torch: channels-last, batch norm folded, bfloat16 where native,
optionally compiled).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import torch

from sentilens.data import expand_inputs
from sentilens.data.choices import OnError
from sentilens.data.decoding import check_on_error, load_or_reason
from sentilens.data.images import ImageDecodeError, views_of
from sentilens.models import HeadLogits, SentimentModel
from sentilens.runtime.choice import Runtime, choose_runtime
from sentilens.runtime.openvino_backend import OpenVinoNetwork, user_calibration
from sentilens.runtime.results import Prediction, Skipped
from sentilens.runtime.settings import RunSettings
from sentilens.runtime.torch_backend import TorchNetwork
from sentilens.utils.progress import Say, quiet, track


def _collate(
    items: list[tuple[int, torch.Tensor | str]],
) -> tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]:
    """Stack the decoded images of a batch; keep the failures apart."""
    good = [(i, t) for i, t in items if isinstance(t, torch.Tensor)]
    bad = [(i, t) for i, t in items if isinstance(t, str)]
    images = torch.stack([t for _, t in good]) if good else None
    return [i for i, _ in good], images, bad


Batch = tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]


class ImageBatches:
    """Batches of ``(indices, uint8 images or None, [(index, reason)])`` in the order of ``paths``.

    With ``threads > 0`` that many decode threads decode whole batches, up to ``threads + 1``
    batches ahead of the consumer; 0 decodes in the calling thread.  Threads, not processes:
    Pillow releases the GIL while it decodes and resizes, and so do the networks while they run,
    so the two overlap without forking a process that holds OpenVINO's or oneDNN's thread pools
    (forked loader processes made pytest crash at exit once OpenVINO had run) and without
    starting processes on every call.  A bad file is data (its reason), not an exception.
    """

    def __init__(self, paths: Sequence[Path], size: int, batch_size: int, threads: int) -> None:
        self.paths, self.size, self.batch_size, self.threads = list(paths), size, batch_size, threads
        self._starts = iter(range(0, len(self.paths), self.batch_size))
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[Batch]] = deque()

    def __len__(self) -> int:
        return -(-len(self.paths) // self.batch_size)

    def _decode(self, start: int) -> Batch:
        stop = min(start + self.batch_size, len(self.paths))
        return _collate([(i, load_or_reason(self.paths[i], self.size)) for i in range(start, stop)])

    def start(self) -> ImageBatches:
        """Start decoding the first batches now, e.g. while the network is read and compiled, so
        that a short run does not decode only after that (with ``threads`` 0: nothing to start)."""
        if self.threads > 0 and self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="sentilens-decode")
            self._fill()
        return self

    def _fill(self) -> None:
        assert self._pool is not None
        while len(self._pending) <= self.threads and (start := next(self._starts, None)) is not None:
            self._pending.append(self._pool.submit(self._decode, start))

    def __iter__(self) -> Iterator[Batch]:
        if self.threads <= 0:
            yield from map(self._decode, self._starts)
            return
        self.start()
        try:
            while self._pending:
                batch = self._pending.popleft().result()
                self._fill()
                yield batch
        finally:
            self.close()

    def close(self) -> None:
        """Stop decoding: batches not yet begun are dropped (for a run that ends early)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def image_batches(model: SentimentModel, settings: RunSettings, paths: Sequence[Path]) -> ImageBatches:
    """The decoded batches of ``paths`` that a :class:`Predictor` of ``model`` with ``settings``
    reads; call ``start()`` on them to decode while the predictor is made."""
    return ImageBatches(paths, model.backbone.input_size, settings.batch_size, settings.resolved_decode_threads)


class FirstUse:
    """A network built on its first call: the float32 re-check network is needed only when a close
    call comes up, so a run without one does not pay for reading and compiling it."""

    def __init__(self, build: Callable[[], Callable[[torch.Tensor], HeadLogits]]) -> None:
        self.build = build
        self.network: Callable[[torch.Tensor], HeadLogits] | None = None

    def __call__(self, images: torch.Tensor) -> HeadLogits:
        if self.network is None:
            self.network = self.build()
        return self.network(images)


class Predictor:
    """A model prepared once for classifying many files: the runtime is chosen and the fast copy
    made (converted, quantised or compiled) on construction, so repeated calls pay only for
    decoding and the network.

    Args:
        model: the trained model (left untouched).
        class_names: name of each class index.
        settings: how the network runs (runtime, precision, views, calibration, batch size,
            decode threads, ...; see :class:`~sentilens.runtime.RunSettings`).  Views left to the
            model (None) are :data:`~sentilens.runtime.settings.DEFAULT_VIEWS` here, since a bare
            model does not know its training config.
        say: receives one line before a slow one-off step (conversion, quantisation).

    ``rechecked`` counts the images classified again in float32 so far (see ``RunSettings.recheck``).
    """

    def __init__(
        self,
        model: SentimentModel,
        class_names: Sequence[str],
        settings: RunSettings = RunSettings(),
        *,
        say: Say = quiet,
    ) -> None:
        self.model = model
        self.class_names = list(class_names)
        self.settings = settings
        self.views = settings.resolved_views
        self.batch_size = settings.batch_size
        self.device = next(model.parameters()).device
        self.choice = choose_runtime(settings.runtime, settings.precision, self.device, settings.compiled)
        self.precision = str(self.choice.precision)
        self.decode_threads = settings.resolved_decode_threads
        self.network: Callable[[torch.Tensor], HeadLogits]
        self.recheck: Callable[[torch.Tensor], HeadLogits] | None = None
        self.margin = 0.0
        self.rechecked = 0
        if self.choice.runtime == Runtime.openvino:
            calibration = settings.calibration
            chosen = user_calibration(expand_inputs(calibration)) if calibration is not None else None
            network = OpenVinoNetwork(model, self.precision, chosen, say=say)
            self.network = network
            if settings.recheck and network.margin:
                self.recheck, self.margin = FirstUse(lambda: OpenVinoNetwork(model, "fp32", say=say)), network.margin
        else:
            self.network = TorchNetwork(
                model, self.precision, settings.channels_last, settings.compiled, settings.batch_size
            )

    def batches(self, paths: Sequence[Path]) -> ImageBatches:
        """The decoded batches of ``paths`` as this predictor reads them (not started)."""
        return image_batches(self.model, self.settings, paths)

    def __call__(
        self, paths: Sequence[Path], on_error: OnError | str = OnError.skip, batches: ImageBatches | None = None
    ) -> tuple[list[Prediction], list[Skipped]]:
        """Classify ``paths``; with ``on_error="skip"`` undecodable files are listed, not fatal.
        ``batches``: their :func:`image_batches`, started earlier (default: decoded from here on)."""
        check_on_error(on_error)
        batches = self.batches(paths) if batches is None else batches
        predictions: list[Prediction] = []
        skipped: list[Skipped] = []
        with torch.inference_mode():
            for indices, uint8_images, failures in track(batches, total=len(batches), description="classifying"):
                for index, reason in failures:
                    if on_error == "fail":
                        raise ImageDecodeError(reason)
                    skipped.append(Skipped(Path(paths[index]), reason))
                if uint8_images is not None:
                    predictions.extend(self.classify_decoded([Path(paths[i]) for i in indices], uint8_images))
        return predictions, skipped

    def classify_decoded(self, paths: Sequence[Path], uint8_images: torch.Tensor) -> list[Prediction]:
        """Predictions for images decoded elsewhere (e.g. by other processes or machines):
        ``uint8_images`` are ``(N, 3, size, size)`` centre crops of ``paths``, at most ``batch_size``."""
        with torch.inference_mode():
            fused, heads = self._classify(uint8_images)
        predictions = []
        for row, path in enumerate(paths):
            best = int(fused[row].argmax())
            predictions.append(
                Prediction(
                    path=Path(path),
                    label=self.class_names[best],
                    probability=float(fused[row, best]),
                    positive_probability=float(fused[row, 1]),
                    head_probabilities={name: float(values[row]) for name, values in heads.items()},
                )
            )
        return predictions

    def _classify(self, uint8_images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Calibrated fused class probabilities and each head's positive-class probability, views
        averaged; close calls of an int8 network (judged before calibration, which keeps the order)
        classified again in float32."""
        fused, heads = self._views_averaged(self.network, uint8_images)
        if self.recheck is None:
            return self.model.calibrate(fused), heads
        top_two = fused.topk(2, dim=1).values
        close = ((top_two[:, 0] - top_two[:, 1]) < 2 * self.margin).nonzero().flatten()
        if len(close):
            self.rechecked += len(close)
            exact, exact_heads = self._views_averaged(self.recheck, uint8_images[close])
            fused[close] = exact
            for name, values in exact_heads.items():
                heads[name][close] = values
        return self.model.calibrate(fused), heads

    def _views_averaged(
        self, network: Callable[[torch.Tensor], HeadLogits], uint8_images: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        share = 1.0 / len(self.views)
        fused = torch.zeros((len(uint8_images), self.model.num_classes))
        heads: dict[str, torch.Tensor] = {}
        for view_batch in views_of(uint8_images, self.views):
            logits = network(view_batch).apply(torch.Tensor.cpu)
            fused += share * self.model.fuse(logits)
            for name, head_logits in logits.named().items():
                heads[name] = heads.get(name, torch.zeros(len(uint8_images))) + share * head_logits.softmax(1)[:, 1]
        return fused, heads
