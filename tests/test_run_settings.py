"""One settings object for how a network runs (issue 19): its validation, the ``--views``
shorthand, and every caller (CLI, Python API, the Ray actors' predictor) honouring it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentilens.app.classifier import SentimentClassifier
from sentilens.app.distributed.batch import BatchSettings, make_predictor
from sentilens.cli import app
from sentilens.cli.options import run_settings
from sentilens.runtime import DEFAULT_VIEWS, Precision, Predictor, RunSettings, Runtime, parse_views
from sentilens.training import TrainConfig
from sentilens.utils.errors import InvalidArgumentError

from .helpers import tiny_model, write_image

runner = CliRunner()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"runtime": "tensorflow"}, "runtime must be one of auto, torch, openvino, got 'tensorflow'"),
        ({"precision": "fp16"}, "precision must be one of auto, fp32, bf16, int8, got 'fp16'"),
        ({"views": ("centre", "side")}, "unknown view 'side'"),
        ({"views": ()}, "views must name at least one view"),
        ({"views": ("centre", "centre")}, "must not repeat a view, got centre, centre"),
        ({"views": "centre"}, "got the string 'centre'"),
        ({"batch_size": 0}, "batch_size must be a whole number of at least 1, got 0"),
        ({"decode_threads": -1}, "decode_threads must be a whole number of at least 0 (or None), got -1"),
        ({"calibration": "photos"}, "calibration must be a sequence of paths, got 'photos'"),
    ],
)
def test_bad_settings_are_refused_naming_the_value(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        RunSettings(**fields)
    assert message in str(raised.value)


def test_settings_normalise_their_fields() -> None:
    settings = RunSettings(runtime="torch", precision="fp32", views=["mirror"], calibration=["a.jpg"])
    assert settings.runtime is Runtime.torch and settings.precision is Precision.fp32
    assert settings.views == ("mirror",) and settings.calibration == (Path("a.jpg"),)
    assert settings == RunSettings(Runtime.torch, Precision.fp32, ("mirror",), calibration=(Path("a.jpg"),))
    assert RunSettings().resolved_views == DEFAULT_VIEWS
    assert RunSettings().with_views(("zoom",)).views == ("zoom",)
    assert settings.with_views(("zoom",)) is settings  # views of their own are kept


def test_views_on_the_command_line_are_names_or_a_count() -> None:
    assert parse_views("1") == ("centre",)
    assert parse_views("2") == ("centre", "mirror")
    assert parse_views("centre, zoom-mirror") == ("centre", "zoom-mirror")
    with pytest.raises(InvalidArgumentError, match="must be 1 .* or 2 .*got 3"):
        parse_views("3")
    assert run_settings(views="1") == RunSettings(views=("centre",))
    assert run_settings().views is None  # left to the model


def test_the_classifier_fills_in_the_views_its_config_predicts_with() -> None:
    classifier = SentimentClassifier(tiny_model(), ("negative", "positive"), TrainConfig(predict_views=("zoom",)))
    assert classifier.run_settings(RunSettings()).views == ("zoom",)
    assert classifier.run_settings(RunSettings(views=("centre",))).views == ("centre",)


def test_the_ray_actors_predictor_runs_as_the_settings_say(tmp_path: Path) -> None:
    """What each Ray actor builds: the runtime, precision, views, batch size and calibration of the
    job, decoding left to Ray (before issue 19 it ran auto int8 on the model's views whatever the flags)."""
    classifier = SentimentClassifier(tiny_model(), ("negative", "positive"), TrainConfig())
    calibration = [write_image(tmp_path / f"{i}.png", seed=i) for i in range(3)]
    run = RunSettings(
        runtime=Runtime.openvino,
        precision=Precision.fp32,
        views=("centre",),
        batch_size=3,
        decode_threads=2,
        calibration=tuple(calibration),
    )
    predictor = make_predictor(classifier, BatchSettings(run=run))
    assert (predictor.choice.runtime, predictor.choice.precision) == (Runtime.openvino, Precision.fp32)
    assert predictor.settings == replace(run, decode_threads=0)
    assert (predictor.views, predictor.batch_size, predictor.decode_threads) == (("centre",), 3, 0)
    on_torch = make_predictor(classifier, BatchSettings(run=RunSettings(runtime="torch", precision="fp32")))
    assert on_torch.choice.runtime == Runtime.torch and on_torch.views == DEFAULT_VIEWS


def test_a_bare_predictor_reads_every_setting(tmp_path: Path) -> None:
    paths = [write_image(tmp_path / f"{i}.png", seed=20 + i, size=(50, 40)) for i in range(5)]
    names = ["negative", "positive"]
    torch_fp32 = RunSettings(runtime="torch", precision="fp32", decode_threads=0)
    one = Predictor(tiny_model(), names, replace(torch_fp32, views=("centre",), batch_size=2))
    two = Predictor(tiny_model(), names, torch_fp32)
    assert (one.views, one.batch_size, two.views, two.batch_size) == (("centre",), 2, DEFAULT_VIEWS, 32)
    ones, _ = one(paths)
    twos, _ = two(paths)
    assert [p.path for p in ones] == [p.path for p in twos] == paths
    assert all(a.positive_probability != pytest.approx(b.positive_probability, abs=1e-7) for a, b in zip(ones, twos))


def test_views_names_and_count_and_the_workers_alias_give_the_same_rows(tmp_path: Path) -> None:
    """``--views 1`` is ``--views centre``; ``--workers`` is the older name of ``--decode-threads``."""
    image = write_image(tmp_path / "a.png", seed=5, size=(120, 90))
    base = ["predict", str(image), "-f", "jsonl", "--runtime", "torch", "--precision", "fp32"]
    by_count = runner.invoke(app, [*base, "--views", "1", "--workers", "0"])
    by_name = runner.invoke(app, [*base, "--views", "centre", "--decode-threads", "0"])
    both = runner.invoke(app, [*base, "--views", "centre,mirror"])
    for result in (by_count, by_name, both):
        assert result.exit_code == 0, result.output
    assert json.loads(by_count.stdout) == json.loads(by_name.stdout)
    assert json.loads(both.stdout)["positive_probability"] != json.loads(by_name.stdout)["positive_probability"]
    refused = runner.invoke(app, [*base, "--views", "centre,side"])
    assert refused.exit_code == 2 and "unknown view 'side'" in refused.output
