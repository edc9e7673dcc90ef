"""How a trained network runs: one value that the CLI, the Python API, the demo and the Ray batch
path all build and :class:`~sentilens.runtime.Predictor` reads, so that a setting given in one
place cannot be dropped on the way to another.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sentilens.data.choices import VIEW_NAMES
from sentilens.runtime.choice import Precision, Runtime, check_choice
from sentilens.utils.errors import InvalidArgumentError

#: The views prediction averages when nothing else says which: the centre crop and its mirror
#: image (also the default of a training config's ``predict_views``).
DEFAULT_VIEWS = ("centre", "mirror")

#: Shorthand for ``--views``: a number of views instead of their names.
VIEW_COUNTS: dict[int, tuple[str, ...]] = {1: ("centre",), 2: DEFAULT_VIEWS}


def parse_views(text: str) -> tuple[str, ...]:
    """Views from the command line: comma-separated names (``centre,mirror``), or ``1`` (the centre
    crop) or ``2`` (centre and mirror) as shorthand."""
    text = text.strip()
    if text.isdigit():
        if int(text) not in VIEW_COUNTS:
            raise InvalidArgumentError(
                f"--views as a number must be 1 (centre) or 2 (centre, mirror), got {text}; or name the views"
            )
        return VIEW_COUNTS[int(text)]
    return tuple(name.strip() for name in text.split(","))


def default_decode_threads() -> int:
    """Decode threads: enough to keep one batch decoding while the network runs."""
    return min(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class RunSettings:
    """How a trained network runs: which library, at which precision, on which views of each image.

    Attributes:
        runtime: ``auto`` (OpenVINO on x86 CPUs where it is installed, else torch; see
            :func:`~sentilens.runtime.choose_runtime`), ``torch`` or ``openvino``.
        precision: ``auto``, ``fp32``, ``bf16`` or ``int8``.
        views: names of the views averaged per image (see :data:`~sentilens.data.VIEW_NAMES`);
            None: the model's own setting (its training config's ``predict_views``, where the
            caller has the config), else :data:`DEFAULT_VIEWS`.
        compiled: torch runtime: run a TorchInductor-compiled copy (a minute or two once, then
            faster per image; worth it for several thousand images).  Short batches are padded to
            ``batch_size`` so that one compiled shape serves every call.
        calibration: image files or folders (searched recursively) that the openvino runtime
            calibrates int8 on; None: fixed crops of the sample photos (see
            :mod:`~sentilens.runtime.openvino_backend`).
        batch_size: images per network batch.
        decode_threads: threads decoding images ahead of the network; None picks
            :func:`default_decode_threads`, 0 decodes in the calling thread.
        recheck: int8 only: classify again in float32 the images whose two best fused
            probabilities lie within twice the int8 network's calibration error of each other
            (its ``margin``), where int8 rounding could have swapped them.  They are a few per
            cent of the images, so this costs a few per cent of the time and keeps int8 labels
            within rounding of float32's (BENCHMARKS.md, "Runtimes").
        channels_last: torch runtime: run an inference copy of the model (batch norm folded) in
            channels-last layout; False runs the model itself as it is (the plain path).
    """

    runtime: Runtime = Runtime.auto
    precision: Precision = Precision.auto
    views: tuple[str, ...] | None = None
    compiled: bool = False
    calibration: tuple[Path, ...] | None = None
    batch_size: int = 32
    decode_threads: int | None = None
    recheck: bool = True
    channels_last: bool = True

    def __post_init__(self) -> None:
        # Frozen: normalise the fields with object.__setattr__, once, here.
        check_choice(self.runtime, Runtime, "runtime")
        check_choice(self.precision, Precision, "precision")
        object.__setattr__(self, "runtime", Runtime(self.runtime))
        object.__setattr__(self, "precision", Precision(self.precision))
        if self.views is not None:
            object.__setattr__(self, "views", _checked_views(self.views))
        if self.calibration is not None:
            if isinstance(self.calibration, (str, Path)):
                raise InvalidArgumentError(f"calibration must be a sequence of paths, got {self.calibration!r}")
            object.__setattr__(self, "calibration", tuple(Path(p) for p in self.calibration))
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be a whole number of at least 1, got {self.batch_size!r}")
        if self.decode_threads is not None and (
            isinstance(self.decode_threads, bool) or not isinstance(self.decode_threads, int) or self.decode_threads < 0
        ):
            raise InvalidArgumentError(
                f"decode_threads must be a whole number of at least 0 (or None), got {self.decode_threads!r}"
            )

    def with_views(self, model_views: Sequence[str]) -> RunSettings:
        """These settings with ``views`` set to ``model_views`` where they leave the choice to the model."""
        return self if self.views is not None else replace(self, views=tuple(model_views))

    @property
    def resolved_views(self) -> tuple[str, ...]:
        """The views a network runs on: ``views``, else :data:`DEFAULT_VIEWS`."""
        return DEFAULT_VIEWS if self.views is None else self.views

    @property
    def resolved_decode_threads(self) -> int:
        """The decode threads: ``decode_threads``, else :func:`default_decode_threads`."""
        return default_decode_threads() if self.decode_threads is None else self.decode_threads


def _checked_views(views: Sequence[str]) -> tuple[str, ...]:
    """``views`` as a tuple, refused (naming the bad one) unless distinct known view names."""
    if isinstance(views, str):
        raise InvalidArgumentError(f"views must be a sequence of view names, got the string {views!r}")
    chosen = tuple(views)
    if not chosen:
        raise InvalidArgumentError(f"views must name at least one view of {', '.join(VIEW_NAMES)}")
    unknown = [view for view in chosen if view not in VIEW_NAMES]
    if unknown:
        raise InvalidArgumentError(f"unknown view {unknown[0]!r}; expected some of {', '.join(VIEW_NAMES)}")
    if len(set(chosen)) != len(chosen):
        raise InvalidArgumentError(f"views must not repeat a view, got {', '.join(chosen)}")
    return chosen
