"""The torch-free shortcut of ``predict`` (issue 21): where a model's OpenVINO network is cached, it
gives the predictor's results without importing torch, and steps aside whenever it cannot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sentilens.models import SentimentModel
from sentilens.runtime import Predictor, RunSettings, predict_by_shortcut, remember_network

from .helpers import shortcut_facts, tiny_model, write_image

NAMES = ["negative", "positive"]


@pytest.fixture
def remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Predictor, list[Path], RunSettings]:
    """A tiny model's int8 predictor, remembered for a stand-in checkpoint file, and a few images
    (one of them not an image)."""
    monkeypatch.setenv("SENTILENS_CACHE", str(tmp_path / "cache"))
    model: SentimentModel = tiny_model()
    model.temperature = 0.8  # a calibrated model: the shortcut must temper as the predictor does
    checkpoint = tmp_path / "tiny.pt"
    checkpoint.write_bytes(b"stands for the checkpoint the model was loaded from")
    paths = [write_image(tmp_path / f"{i}.png", seed=30 + i, size=(48, 40)) for i in range(5)]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    paths.insert(2, broken)
    settings = RunSettings(runtime="openvino", precision="int8", batch_size=4, views=("centre", "mirror"))
    predictor = Predictor(model, NAMES, settings)
    facts = shortcut_facts(model, NAMES)
    remember_network(checkpoint, predictor.settings, predictor.choice, predictor.network, facts)
    return checkpoint, predictor, paths, settings


def test_the_shortcut_gives_the_predictors_results(
    remembered: tuple[Path, Predictor, list[Path], RunSettings],
) -> None:
    checkpoint, predictor, paths, settings = remembered
    expected, expected_skipped = predictor(paths)
    said: list[str] = []
    found = predict_by_shortcut(checkpoint, paths, settings, say=said.append)
    assert found is not None
    predictions, skipped = found
    assert said == [f"runtime: {predictor.choice}"]
    assert [(s.path, s.reason) for s in skipped] == [(s.path, s.reason) for s in expected_skipped]
    assert [(p.path, p.label) for p in predictions] == [(p.path, p.label) for p in expected]
    np.testing.assert_allclose(
        [p.positive_probability for p in predictions], [p.positive_probability for p in expected], atol=1e-6
    )
    for ours, theirs in zip(predictions, expected, strict=True):
        assert ours.head_probabilities == pytest.approx(theirs.head_probabilities, abs=1e-6)
    one_view, _ = predict_by_shortcut(checkpoint, paths, replace(settings, views=("centre",))) or ([], [])
    assert [p.probability for p in one_view] != [p.probability for p in predictions], "--views is read"


def test_the_shortcut_steps_aside(remembered: tuple[Path, Predictor, list[Path], RunSettings]) -> None:
    checkpoint, _, paths, settings = remembered
    assert predict_by_shortcut(checkpoint, paths, replace(settings, views=("zoom",))) is None
    assert predict_by_shortcut(checkpoint, paths, replace(settings, runtime="torch", precision="fp32")) is None
    assert predict_by_shortcut(checkpoint, paths, replace(settings, precision="fp32")) is None, "not remembered"
    assert predict_by_shortcut(checkpoint, paths, replace(settings, calibration=(paths[0],))) is None
    assert predict_by_shortcut(checkpoint.with_name("other.pt"), paths, settings) is None
    record = next((Path(os.environ["SENTILENS_CACHE"]) / "runtime" / "shortcuts").iterdir())
    entry = Path(os.environ["SENTILENS_CACHE"]) / "runtime" / json.loads(record.read_text())["entry"]
    model_bin = entry / "model.bin"
    original = model_bin.read_bytes()
    model_bin.write_bytes(original[:-8] + bytes(8))
    assert predict_by_shortcut(checkpoint, paths, settings) is None, "a damaged entry is not used"
    model_bin.write_bytes(original)
    assert predict_by_shortcut(checkpoint, paths, settings) is not None
    checkpoint.write_bytes(b"a retrained model, written later")
    assert predict_by_shortcut(checkpoint, paths, settings) is None, "a changed checkpoint file is not used"


def test_the_shortcut_imports_no_torch(remembered: tuple[Path, Predictor, list[Path], RunSettings]) -> None:
    checkpoint, _, paths, settings = remembered
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from sentilens.runtime import RunSettings, predict_by_shortcut\n"
        f"paths = [Path(p) for p in {[str(p) for p in paths]!r}]\n"
        f"found = predict_by_shortcut(Path({str(checkpoint)!r}), paths, RunSettings(runtime='openvino', "
        "precision='int8', batch_size=4, views=('centre', 'mirror')))\n"
        "heavy = sorted(m for m in ('torch', 'nncf', 'sklearn') if m in sys.modules)\n"
        "print(found is not None and len(found[0]), heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "5 []"
