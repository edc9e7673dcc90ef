"""Names from before "tap" became "block" keep working: old flags, the old command, old files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.main import get_command
from typer.testing import CliRunner

from sentilens.app.classifier import default_model_path
from sentilens.cli import app
from sentilens.models import Architecture, load_checkpoint
from sentilens.training import TrainConfig
from sentilens.utils.errors import InvalidArgumentError

runner = CliRunner()


def test_help_shows_the_new_names_only() -> None:
    top = runner.invoke(app, ["--help"])
    assert "suggest-blocks" in top.output and "suggest-layers" not in top.output
    cv = runner.invoke(app, ["cv", "--help"])
    assert "--blocks" in cv.output and "--taps" not in cv.output


@pytest.mark.parametrize("old", ["--taps", "--blocks"])
def test_old_taps_flag_gives_what_blocks_gives(small_twitter_csv: Path, tmp_path: Path, old: str) -> None:
    result = runner.invoke(app, ["cv", str(small_twitter_csv), old, "6b,4z", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown block(s) '4z'" in result.output and "valid blocks: 5b" in result.output


def test_taps_and_blocks_together_are_refused(small_twitter_csv: Path, tmp_path: Path) -> None:
    arguments = ["cv", str(small_twitter_csv), "--blocks", "6b", "--taps", "6c", "--out", str(tmp_path)]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert "not both" in result.output


def test_suggest_layers_runs_suggest_blocks(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    old, new = (runner.invoke(app, [name, missing]) for name in ("suggest-layers", "suggest-blocks"))
    assert old.exit_code == new.exit_code == 2
    assert old.output == new.output and "not found" in new.output


@pytest.mark.parametrize(
    ("path", "old", "new", "parameter"),
    [
        (["explain", "gradcam"], "--tap", "--block", "block"),
        (["explain", "channels"], "--tap", "--block", "block"),
        (["explain", "spatial"], "--tap", "--block", "block"),
        (["explain", "splice"], "--tap", "--block", "block"),
        (["demo"], "--group-tap", "--group-block", "group_block"),
    ],
)
def test_old_block_flags_fill_the_same_option(path: list[str], old: str, new: str, parameter: str) -> None:
    command = get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    for flag in (old, new):
        context = command.make_context(path[-1], [flag, "6e"], resilient_parsing=True)
        assert context.params[parameter] == "6e"


def test_groups_takes_repeated_old_and_new_flags() -> None:
    command = get_command(app).commands["explain"].commands["groups"]  # type: ignore[attr-defined]
    arguments = ["--negative", "n", "--positive", "p", "--tap", "5b", "--block", "6e"]
    context = command.make_context("groups", arguments, resilient_parsing=True)
    assert list(context.params["block"]) == ["5b", "6e"]


def test_configs_with_the_old_key_read_as_blocks() -> None:
    old = TrainConfig.from_dict({"backbone": "googlenet", "taps": ["4b", "4d"], "aux_weights": [0.2, 0.3]})
    new = TrainConfig.from_dict({"backbone": "googlenet", "blocks": ["4b", "4d"], "aux_weights": [0.2, 0.3]})
    assert old == new and old.blocks == ("4b", "4d")
    assert "taps" not in new.to_dict() and new.to_dict()["blocks"] == ["4b", "4d"]
    assert Architecture.from_dict({"taps": ["4b"]}).blocks == ("4b",)
    with pytest.raises(InvalidArgumentError, match="not both"):
        TrainConfig.from_dict({"taps": ["4b"], "blocks": ["4d"]})


def test_a_checkpoint_written_before_the_rename_keeps_its_heads(tmp_path: Path) -> None:
    """A file written before the rename stores "taps" (as the shipped file did until issue 20
    retrained it; here the shipped file laid out the old way, without a temperature): its heads are
    6c, 6d, 7a, not the backbone's default 6b, 6c, 6e that a dropped key would silently give."""
    stored = torch.load(default_model_path(), map_location="cpu", weights_only=True)
    stored["taps"] = stored.pop("blocks")
    stored["config"]["taps"] = stored["config"].pop("blocks")
    del stored["temperature"]
    path = tmp_path / "before-the-rename.pt"
    torch.save(stored, path)
    loaded = load_checkpoint(path, expect_blocks=("6c", "6d", "7a"))
    assert loaded.model.blocks == ("6c", "6d", "7a")
    assert loaded.metadata["blocks"] == ["6c", "6d", "7a"]
    assert loaded.model.temperature == 1.0  # written before calibration: uncalibrated, as it was
