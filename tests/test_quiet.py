"""Quiet by default (issue 21): the output of a run is sentilens's own lines; the libraries' log
lines, warnings and progress bars (NNCF, OpenVINO, torch) come back with ``--verbose``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sentilens.runtime import Predictor, RunSettings
from sentilens.utils.logs import VERBOSE_ENV

from .helpers import tiny_model, write_image

#: What the libraries' output looks like: NNCF's INFO lines and progress bars, Python warnings.
LIBRARY_MARKS = ("INFO:nncf", "nncf", "Statistics collection", "Applying", "Warning", "warn(")


def library_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(mark in line for mark in LIBRARY_MARKS)]


def quantise_tiny(tmp_path: Path) -> None:
    """Convert and quantise a tiny model into a cold cache (seconds) and classify two images."""
    paths = [write_image(tmp_path / f"{i}.png", seed=i, size=(40, 36)) for i in range(2)]
    settings = RunSettings(runtime="openvino", precision="int8", decode_threads=0)
    predictions, _ = Predictor(tiny_model(), ["negative", "positive"], settings)(paths)
    assert len(predictions) == 2


def test_quantisation_prints_nothing_of_nncf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder
) -> None:
    monkeypatch.setenv("SENTILENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    quantise_tiny(tmp_path)
    out, err = capfd.readouterr()
    assert out == ""
    assert library_lines(err) == []
    assert [str(w.message) for w in recwarn] == []


def test_verbose_brings_nncf_back_on_standard_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder
) -> None:
    """The same run with ``SENTILENS_VERBOSE=1`` (what ``--verbose`` sets): NNCF's progress bars
    (and its log lines, where it has any) appear, on standard error, not among the results, and
    the conversion's warnings are issued."""
    monkeypatch.setenv("SENTILENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(VERBOSE_ENV, "1")
    quantise_tiny(tmp_path)
    out, err = capfd.readouterr()
    assert "Statistics collection" in err
    assert "Statistics collection" not in out
    assert any("torch.jit.trace" in str(w.message) for w in recwarn), "conversion's warnings are kept"


@pytest.mark.slow
def test_predict_on_a_cold_cache_prints_only_its_own_lines(tmp_path: Path, twitter_root: Path) -> None:
    """A real ``sentilens predict`` of two Twitter I images with an empty runtime cache (conversion
    and int8 quantisation of the shipped model, about two minutes on two cores): standard error
    holds sentilens's lines only, one per one-off step."""
    images = sorted((twitter_root / "images").iterdir())[:2]
    env = {**os.environ, "SENTILENS_CACHE": str(tmp_path / "cache"), "SENTILENS_RUNTIME": "openvino"}
    env.pop(VERBOSE_ENV, None)
    done = subprocess.run(
        [sys.executable, "-m", "sentilens.cli", "predict", *map(str, images), "--format", "csv"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 3, done.stdout
    said = " ".join(done.stderr.split())  # the console wraps long lines
    assert library_lines(done.stderr) == [], done.stderr
    for line in ("converting the network to OpenVINO once", "quantising the network to int8 once", "runtime: openvino"):
        assert said.count(line) == 1, done.stderr
    assert said.startswith("converting the network"), done.stderr
