"""``--on-error`` on the command line: fail by default for training data, skip-and-list on request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from sentilens.cli import app

runner = CliRunner()


def _text(output: str) -> str:
    """Console output without the line breaks rich inserts at the terminal width."""
    return output.replace("\n", "")


@pytest.fixture(autouse=True)
def one_thread():
    """Torch on one thread: the CPU is shared with other jobs, and these models are tiny."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = ["--backbone", "googlenet", "--weights", "none", "--epochs", "2", "--device", "cpu"]


@pytest.fixture
def folder_with_a_broken_image(class_folder: Path) -> Path:
    (class_folder / "positive" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    return class_folder


def test_train_fails_by_default_naming_the_file(folder_with_a_broken_image: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", str(folder_with_a_broken_image), "-o", str(tmp_path / "m.pt"), *TINY])
    assert result.exit_code == 2
    assert "broken.jpg: cannot decode image" in _text(result.output)
    assert not (tmp_path / "m.pt").exists()


def test_train_skip_lists_the_file_and_keeps_the_rest(folder_with_a_broken_image: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "m.pt"
    result = runner.invoke(
        app, ["train", str(folder_with_a_broken_image), "-o", str(checkpoint), "--on-error", "skip", *TINY]
    )
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "12 images used, 1 skipped" in _text(result.output)
    (skipped,) = torch.load(checkpoint, weights_only=True)["extra"]["skipped"]
    assert skipped["file"].endswith("broken.jpg") and "cannot decode" in skipped["reason"]

    broken = folder_with_a_broken_image / "positive" / "broken.jpg"
    good = folder_with_a_broken_image / "positive" / "positive0.png"
    failed = runner.invoke(app, ["predict", str(good), str(broken), "-c", str(checkpoint), "--on-error", "fail"])
    assert failed.exit_code == 2 and "broken.jpg: cannot decode" in _text(failed.output)


def test_cv_skip_writes_the_skipped_list(folder_with_a_broken_image: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = runner.invoke(
        app, ["cv", str(folder_with_a_broken_image), "--folds", "3", "--on-error", "skip", "--out", str(out), *TINY]
    )
    assert result.exit_code == 0, result.output
    (listed,) = json.loads((out / "skipped.json").read_text()).values()
    assert [Path(item["file"]).name for item in listed] == ["broken.jpg"]
    (runs,) = json.loads((out / "folds.json").read_text()).values()
    assert sum(fold["n_test"] for fold in runs[0]["folds"]) == 12  # every decodable image scored once
