"""The analyst workflow: classify images, explain each, and write a table and a one-page summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sentilens.app.classifier import SentimentClassifier
from sentilens.app.predictions import write_tables
from sentilens.data.images import load_view, to_unit_range
from sentilens.explain import AscentSettings, ChannelPictureCache, factorise, group_pictures, image_activation
from sentilens.reports.summary import SummaryRow, write_summary
from sentilens.runtime import Precision, Runtime
from sentilens.runtime.predictor import Prediction, Skipped
from sentilens.utils.progress import Say, quiet

#: Channel pictures for the neuron-group column: small canvas, so a first run takes a minute or
#: two on two cores and later runs read them from the channel cache.
GROUP_SETTINGS = AscentSettings(mode="regularised", size=64, steps=32)


@dataclass(frozen=True)
class PredictionSettings:
    """How the workflow's network runs (see :meth:`SentimentClassifier.predict_with_skipped`)."""

    runtime: Runtime = Runtime.auto
    precision: Precision = Precision.auto
    views: int | None = None


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
    cam_tap: str | None = None,
    group_tap: str = "5b",
    settings: AscentSettings = GROUP_SETTINGS,
    run: PredictionSettings = PredictionSettings(),
    say: Say = quiet,
) -> WorkflowResult:
    """Predict (on the runtime ``run`` chooses), explain (Grad-CAM at ``cam_tap``, r = 1 neuron
    group at ``group_tap``) and report."""
    backbone = classifier.model.backbone
    backbone.check_taps([group_tap])
    cam_tap = cam_tap or backbone.tap_names[-1]
    out.mkdir(parents=True, exist_ok=True)
    predictions, skipped = classifier.predict_with_skipped(
        images, runtime=run.runtime, precision=run.precision, views=run.views, say=say
    )
    pictures = ChannelPictureCache().layer(backbone, group_tap, settings).pictures
    rows = []
    for prediction in predictions:
        explanation = classifier.explain(prediction.path, cam_tap)
        view = to_unit_range(load_view(prediction.path, backbone.input_size))
        groups = factorise(image_activation(backbone, view, group_tap), rank=1)
        rows.append(
            SummaryRow(
                name=prediction.path.name,
                label=prediction.label,
                probability=prediction.probability,
                image=explanation.image,
                gradcam=explanation.overlay(),
                group=group_pictures(pictures, groups)[0].numpy(),
            )
        )
    csv_path, jsonl_path = write_tables(predictions, out, skipped)
    note = (
        f"{len(predictions)} images classified by {classifier.config.backbone} with auxiliary heads on "
        f"{', '.join(classifier.taps) or 'no blocks'}; probabilities fuse every head. Grad-CAM shows where the "
        f"block {cam_tap} supports the predicted label; the neuron-group picture (NMF, r = 1, at {group_tap}) "
        "shows what the block's dominant group of channels responds to."
    )
    page = write_summary(rows, out, cam_tap, group_tap, note)
    return WorkflowResult(predictions, skipped, page, csv_path, jsonl_path)
