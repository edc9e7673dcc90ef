"""``sentilens explain``: help of every sub-command, a small real run of each, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sentilens.app.classifier import load_model
from sentilens.cli import app
from sentilens.data import load_view, to_unit_range
from sentilens.explain import grad_cam
from sentilens.models import create_backbone

from .helpers import write_image

runner = CliRunner()
COMMANDS = ["gradcam", "channels", "spatial", "groups", "reference", "splice"]
SMALL = ["--backbone", "googlenet", "--weights", "none"]
TINY_ASCENT = ["--size", "24", "--steps", "1", "--batch-size", "256"]


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "images"
    folder.mkdir()
    return {name: write_image(folder / f"{name}.png", seed) for seed, name in enumerate(["neg", "pos"])}


def invoke(*args: str):
    return runner.invoke(app, ["explain", *args])


def test_explain_lists_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "--checkpoint" in result.output and "--out" in result.output


def test_gradcam_on_a_folder(images: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    torch.manual_seed(7)  # the fresh heads draw from the global generator
    result = invoke("gradcam", str(images["neg"].parent), "--block", "4b", "--target", "1", *SMALL, "--out", str(out))
    assert result.exit_code == 0, result.output
    maps = sorted(out.glob("*-gradcam-4b-positive.npy"))
    assert [m.name.split("-")[0] for m in maps] == ["neg", "pos"]
    # Each saved map is Grad-CAM of its own image, class 1, block 4b, of the same model built in Python.
    torch.manual_seed(7)
    model, _ = load_model(None, "googlenet", "none")
    views = to_unit_range(torch.stack([load_view(images[name], 224) for name in ("neg", "pos")]))
    expected = grad_cam(model, views, "4b", target=1).maps
    np.testing.assert_allclose(np.stack([np.load(m) for m in maps]), expected, atol=1e-5)
    assert not np.allclose(expected[0], expected[1], atol=1e-2), "the two images have different maps"
    assert len(list(out.glob("*.png"))) == 2


def test_channels_spatial_groups_and_splice(images: dict[str, Path], tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    weights = tmp_path / "googlenet.pt"  # one fixed random initialisation, so the cache key repeats
    torch.save(create_backbone("googlenet", "none").state_dict(), weights)
    common = ["--backbone", "googlenet", "--weights", str(weights), "--out", str(out)]
    result = invoke("channels", "--block", "3a", "--channels", "0:4", *common, *TINY_ASCENT)
    assert result.exit_code == 0, result.output
    assert np.load(out / "channels-3a.npy").shape == (4, 3, 24, 24)
    result = invoke(
        "spatial",
        str(images["pos"]),
        "--block",
        "3a",
        "--cell-size",
        "8",
        *common,
        *TINY_ASCENT,
        "--cache-dir",
        str(cache),
    )
    assert result.exit_code == 0, result.output
    assert np.load(out / "pos-spatial-3a.npy").shape == (28, 28, 3, 8, 8)
    assert "3 strongest channels (no reference profile fits" in result.output
    pair = ["--negative", str(images["neg"]), "--positive", str(images["pos"]), "--block", "3a", "--rank", "2"]
    result = invoke("groups", *pair, *common, *TINY_ASCENT, "--cache-dir", str(cache))
    assert result.exit_code == 0, result.output
    assert np.load(out / "groups-3a.npy").shape == (2, 2, 3, 24, 24)
    assert np.load(out / "groups-3a-where.npy").shape == (2, 2, 28, 28)
    assert "relative reconstruction error" in result.output
    assert (out / "groups-3a.png").is_file()
    # A picture per group and two class averages (relative to the mean of the two images, they are
    # the class difference in each sign: no separate difference pictures).  With one image per
    # class, each class average is that image's first group, so it is the same cached picture.
    assert len(list(cache.glob("googlenet-3a-*.group"))) == 2 * 2
    result = invoke("groups", *pair, "--rendering", "paper", *common, *TINY_ASCENT, "--cache-dir", str(cache))
    assert result.exit_code == 0, result.output
    assert len(list(cache.glob("googlenet-3a-*.channels"))) == 1  # spatial and paper groups shared the cached block
    result = invoke("splice", str(images["neg"]), str(images["pos"]), *common)
    assert result.exit_code == 0, result.output
    assert "matching share" in result.output
    assert len(list(out.glob("splice-neg-pos.*"))) == 2


def test_bad_input_is_reported(images: dict[str, Path], tmp_path: Path) -> None:
    out = ["--out", str(tmp_path / "out"), *SMALL]
    result = invoke("gradcam", str(images["pos"]), "--block", "4z", *out)
    assert result.exit_code == 2 and "valid blocks: 3a, 3b" in result.output
    result = invoke("gradcam", str(images["pos"]), "--target", "2", *out)
    assert result.exit_code == 2 and "class index 2" in result.output
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    result = invoke("gradcam", str(broken), *out)  # skipped and listed; nothing explained: status 3
    assert result.exit_code == 3 and "cannot decode" in result.output
    result = invoke("gradcam", str(broken), "--on-error", "fail", *out)
    assert result.exit_code == 2 and "cannot decode" in result.output
    result = invoke(
        "groups",
        "--negative",
        str(images["neg"]),
        "--positive",
        str(images["pos"]),
        "--block",
        "3a",
        "--rank",
        "0",
        *out,
    )
    assert result.exit_code == 2 and "at least 1, got 0" in result.output
    result = invoke("spatial", str(images["pos"]), "--block", "5b", "--size", "14", *out)
    assert result.exit_code == 2 and "at least 16 pixels, got 14" in result.output  # googlenet reaches 5b from 15 px


def test_reference_profiles_are_written_and_used(class_folder: Path, tmp_path: Path) -> None:
    weights = tmp_path / "googlenet.pt"
    torch.save(create_backbone("googlenet", "none").state_dict(), weights)
    common = ["--backbone", "googlenet", "--weights", str(weights)]
    profile = tmp_path / "reference.npz"
    result = invoke("reference", str(class_folder), "--out", str(profile), *common)
    assert result.exit_code == 0, result.output
    assert profile.is_file() and "reference profiles of 9 blocks" in result.output
    pair = ["--negative", str(class_folder / "negative"), "--positive", str(class_folder / "positive")]
    out = tmp_path / "groups"
    result = invoke(
        "groups", *pair, "--block", "4a", "--reference", str(profile), *common, *TINY_ASCENT, "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert np.load(out / "groups-4a.npy").shape == (12, 1, 3, 24, 24)
    other = ["--backbone", "googlenet", "--weights", "none"]
    result = invoke(
        "groups", *pair, "--block", "4a", "--reference", str(profile), *other, *TINY_ASCENT, "--out", str(out)
    )
    assert result.exit_code == 2 and "no profile of 4a made with this backbone's weights" in result.output
