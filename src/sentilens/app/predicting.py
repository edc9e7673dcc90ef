"""``sentilens predict`` without ``--ray``: the torch-free shortcut where the model's OpenVINO
network is cached (:mod:`sentilens.runtime.shortcut`), else the classifier as before (which
remembers its network for the shortcut next time)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sentilens.app.predictions import PredictionRun
from sentilens.app.shipped import default_model_path
from sentilens.data import OnError, find_images
from sentilens.runtime import Prediction, RunSettings, Skipped, predict_by_shortcut
from sentilens.utils import Say, quiet


def predict_files(
    checkpoint: str | Path | None,
    paths: Sequence[Path],
    settings: RunSettings = RunSettings(),
    *,
    on_error: OnError = OnError.skip,
    say: Say = quiet,
) -> tuple[list[Prediction], list[Skipped]]:
    """Predictions of ``paths`` (image files) by ``checkpoint`` (default: the shipped model) as
    ``settings`` say, and the inputs that could not be decoded; the same results either way."""
    source = Path(checkpoint) if checkpoint is not None else default_model_path()
    found = predict_by_shortcut(source, paths, settings, on_error, say)
    if found is not None:
        return found
    from sentilens.app.classifier import load  # torch, the model, its network: the long way

    return load(checkpoint).predict_with_skipped(paths, settings, on_error=on_error, say=say)


def predict_inputs(
    checkpoint: str | Path | None,
    inputs: Sequence[str | Path],
    run: RunSettings = RunSettings(),
    on_error: OnError | str = OnError.skip,
    say: Say = quiet,
) -> PredictionRun:
    """Classify the images that ``inputs`` name (files, folders, CSV/Parquet listings; see
    :func:`~sentilens.data.find_images`) with ``checkpoint`` (default: the shipped model) as ``run``
    says; with ``on_error="fail"`` the first undecodable image raises, with ``"skip"`` it is listed.

    The ``head_*`` columns come from the predictions; only when nothing could be classified is the
    model loaded to name them, so that the columns never depend on the inputs.
    """
    paths = find_images(inputs)
    predictions, skipped = predict_files(checkpoint, paths, run, on_error=OnError(on_error), say=say)
    if predictions:
        head_names = tuple(predictions[0].head_probabilities)
    else:
        from sentilens.app.classifier import load

        head_names = load(checkpoint).head_names
    return PredictionRun(paths, predictions, skipped, head_names)
