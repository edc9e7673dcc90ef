"""The analyst's side: the shipped default model, the Python API, and the summary workflow."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import sentilens
from sentilens.app.classifier import default_model_path
from sentilens.app.demo import analyse
from sentilens.cli import app
from sentilens.data import load_view, to_unit_range
from sentilens.data.sample_photos import sample_images
from sentilens.explain import AscentSettings
from sentilens.models import SentimentModel
from sentilens.runtime import Precision, choose_runtime

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def classifier() -> sentilens.SentimentClassifier:
    return sentilens.load()


def centre_crops(model: SentimentModel, paths: list[Path]) -> torch.Tensor:
    return to_unit_range(torch.stack([load_view(p, model.backbone.input_size) for p in paths]))


def two_view_probabilities(model: SentimentModel, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Fused class probabilities (calibrated by the model's temperature) and the main head's
    positive probability, centre crop and its mirror image averaged, from the model's own forward
    pass in float32 (no runtime, no folding)."""
    crops = centre_crops(model, paths)
    with torch.no_grad():
        outputs = [model(crops), model(crops.flip(-1))]
    fused = model.calibrate(sum(model.fuse(out) for out in outputs) / 2)
    main = sum(out.main.softmax(dim=1)[:, 1] for out in outputs) / 2
    return fused.numpy(), main.numpy()


def probability_tolerance() -> float:
    """How far ``predict`` on this machine's runtime may move a probability from float32: bf16
    (chosen where the CPU runs it natively) by up to 0.03 (BENCHMARKS.md, Speed), int8 (only where
    ``$SENTILENS_RUNTIME`` asks for OpenVINO) by up to 0.145 (BENCHMARKS.md, Runtimes)."""
    return {Precision.bf16: 0.03, Precision.int8: 0.15}.get(choose_runtime().precision, 1e-4)


def test_default_model_fits_the_budget_and_loads_offline(classifier) -> None:
    assert default_model_path().stat().st_size < 10 * 2**20
    assert classifier.config.backbone == "inception_v3"
    assert classifier.class_names == ("negative", "positive")


def test_default_model_predicts_the_sample_images(classifier) -> None:
    samples = sample_images()
    predictions = classifier.predict(samples)
    assert [p.path for p in predictions] == samples
    fused, main = two_view_probabilities(classifier.model, samples)
    tolerance = probability_tolerance()
    for prediction, expected, expected_main in zip(predictions, fused, main, strict=True):
        assert prediction.label == classifier.class_names[int(expected.argmax())]
        assert prediction.probability == pytest.approx(float(expected.max()), abs=tolerance)
        assert prediction.positive_probability == pytest.approx(float(expected[1]), abs=tolerance)
        assert set(prediction.head_probabilities) == {"main", *classifier.blocks, "companion"}
        assert prediction.head_probabilities["main"] == pytest.approx(float(expected_main), abs=tolerance)


def test_explain_gives_a_map_of_the_input_size(classifier) -> None:
    image = sample_images()[1]
    explanation = classifier.explain(image, block="6e")
    assert explanation.cam.shape == (299, 299)
    fused = classifier.model.predict_proba(centre_crops(classifier.model, [image]))[0]  # one view, as explain
    predicted = int(fused.argmax())
    assert explanation.label == classifier.class_names[predicted]
    assert explanation.probability == pytest.approx(float(fused[predicted]), abs=1e-5)
    other = classifier.explain(image, block="6e", target=1 - predicted)
    assert other.label == classifier.class_names[1 - predicted]
    assert np.abs(other.cam - explanation.cam).mean() > 0.05, "the other class's map is another map"
    assert explanation.overlay().shape == (299, 299, 3)


@pytest.mark.slow
def test_workflow_writes_tables_and_page(classifier, tmp_path: Path) -> None:
    images = sample_images()[:2]
    result = analyse(
        classifier, images, tmp_path, group_block="5b", settings=AscentSettings(size=80, steps=2), faithfulness_steps=3
    )
    page = result.page.read_text()
    # Under each image's Grad-CAM and under its "where" map (against random cells of 5b's grid).
    assert page.count('<span class="score">deletion 0.') + page.count('<span class="score">deletion 1.') == 4
    assert page.count('alt="where the group fires"><span class="score">deletion ') == 2
    assert "(random cells " in page and "most relevant pixels" in page
    assert page.count("<tr>") == 3  # header + one row per image
    for name in ("000-gradcam.png", "000-where.png", "000-group.png", "001-image.png", "contrast-1.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "Class contrast" in page and "twitter1/three" in page
    rows = list(csv.DictReader(result.table_csv.open()))
    assert [Path(r["file"]).name for r in rows] == [p.name for p in images]
    assert list(rows[0])[:4] == ["file", "label", "probability", "positive_probability"]
    lines = [json.loads(line) for line in result.table_jsonl.read_text().splitlines()]
    assert lines[0]["label"] == rows[0]["label"]


def test_groups_show_where_and_what(classifier) -> None:
    groups = classifier.groups(sample_images()[0], block="5b", rank=2, settings=AscentSettings(size=48, steps=4))
    assert groups.where.shape == (2, 299, 299) and groups.where.max() == pytest.approx(1.0)
    assert groups.pictures.shape == (2, 48, 48, 3)
    assert groups.channel_weights.shape == (2, 256)
    np.testing.assert_allclose(groups.channel_weights.sum(axis=1), 1.0, rtol=1e-5)
    assert "twitter1/three" in groups.reference
    assert [o.shape for o in groups.overlays()] == [(299, 299, 3)] * 2


def test_readme_python_example_runs(tmp_path: Path, monkeypatch) -> None:
    """The README's Python example, executed as written."""
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    assert namespace["predictions"]


def test_predict_without_checkpoint_uses_the_default_model(classifier) -> None:
    result = CliRunner().invoke(app, ["predict", str(sample_images()[0]), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout.splitlines()[0])
    (expected,), _ = two_view_probabilities(classifier.model, sample_images()[:1])
    tolerance = probability_tolerance()
    assert row["positive_probability"] == pytest.approx(float(expected[1]), abs=tolerance)
    assert np.isclose(row["positive_probability"], row["probability"]) == (row["label"] == "positive")
