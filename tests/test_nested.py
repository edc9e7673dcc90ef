"""Nested selection, the extra views and the metrics and baselines that report them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from sentilens.cli import app
from sentilens.data import VIEW_NAMES, LabelledImages, content_groups, views_of
from sentilens.evaluation import (
    NestedLogisticStrategy,
    NestedSettings,
    binary_metrics,
    block_chooser,
    chosen_blocks,
    cross_validate_logistic,
    nested_cross_validate,
    run_folds,
)
from sentilens.models import create_backbone, load_checkpoint
from sentilens.selection import SelectionError, choose_blocks, probe_ranking
from sentilens.training import FrozenOutputs, TrainConfig
from sentilens.training.trainer import draw_views
from sentilens.utils.errors import InvalidArgumentError

runner = CliRunner()
N = 60


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def signal_dataset(tmp_path: Path) -> tuple[LabelledImages, FrozenOutputs]:
    """60 distinct files and a GoogLeNet-shaped cache of pooled features: only block 4b (and the
    final map) carry the label, every other block is noise."""
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * (N // 2))
    paths = []
    for i in range(N):
        path = tmp_path / f"image{i}.bin"
        path.write_bytes(rng.bytes(32))
        paths.append(path)
    channels = {**create_backbone("googlenet", "none").block_channels}
    pooled: dict[str, dict[str, torch.Tensor]] = {}
    for view in ("centre", "mirror"):
        features = {}
        for name, count in {**channels, "final": channels["5b"]}.items():
            values = rng.normal(size=(N, count)).astype(np.float32)
            if name in ("4b", "final"):
                values[:, :8] += 3.0 * (labels[:, None] * 2 - 1)
            features[name] = torch.from_numpy(values)
        pooled[view] = features
    dataset = LabelledImages(tuple(paths), tuple(int(v) for v in labels), name="signal")
    return dataset, FrozenOutputs(None, {}, pooled)


def test_nested_selection_finds_the_informative_block_in_every_fold(
    signal_dataset: tuple[LabelledImages, FrozenOutputs],
) -> None:
    dataset, cache = signal_dataset
    config = TrainConfig(backbone="googlenet", weights="none", epochs=20, lr=1e-2)
    result = nested_cross_validate(dataset, config, cache, n_splits=3, seed=0, settings=NestedSettings(k=2))
    per_fold = chosen_blocks(result)
    assert len(per_fold) == 3
    for blocks in per_fold:
        assert "4b" in blocks and "5b" not in blocks and len(blocks) == 2
    assert result.summary["accuracy"]["mean"] > 0.9
    assert "roc_auc" in result.summary
    assert result.config["blocks"] == "auto"


def test_nested_tuning_records_each_candidate_weight(signal_dataset: tuple[LabelledImages, FrozenOutputs]) -> None:
    dataset, cache = signal_dataset
    config = TrainConfig(backbone="googlenet", weights="none", epochs=5)
    settings = NestedSettings(k=1, aux_weights=(0.1, 1.0))
    result = nested_cross_validate(dataset, config, cache, n_splits=2, seed=1, settings=settings)
    for fold in result.folds:
        assert set(fold.details["inner_accuracy"]) == {"0.1", "1.0"}
        assert fold.details["aux_weight"] in (0.1, 1.0)


def test_probe_ranking_reads_only_the_training_images(signal_dataset: tuple[LabelledImages, FrozenOutputs]) -> None:
    dataset, cache = signal_dataset
    labels = np.asarray(dataset.labels)
    groups = content_groups(dataset.paths)
    train = list(range(40))
    blocks = ["3a", "4b", "5a"]
    before = probe_ranking(cache, train, labels, groups, blocks, 3, 0, 0.05)
    # Make block 3a perfectly informative on the images outside ``train``: the ranking must not move.
    cache.pooled["centre"]["3a"][40:, 0] = torch.from_numpy(labels[40:] * 100.0).float()
    after = probe_ranking(cache, train, labels, groups, blocks, 3, 0, 0.05)
    assert before == after
    assert choose_blocks(after, ["3a", "4b", "5a"], 1) == ("4b",)


def test_nested_settings_refuse_bad_values() -> None:
    with pytest.raises(SelectionError):
        NestedSettings(k=0)
    with pytest.raises(SelectionError):
        NestedSettings(aux_weights=(1.5,))


def test_cv_blocks_auto_end_to_end(small_twitter_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    args = ["cv", str(small_twitter_csv), "--blocks", "auto", "--folds", "2", "--epochs", "2"]
    result = runner.invoke(app, [*args, "--backbone", "googlenet", "--weights", "none", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "chosen on its training images" in result.output
    (runs,) = json.loads((out / "folds.json").read_text()).values()
    for fold in runs[0]["folds"]:
        assert len(fold["details"]["blocks"]) == 3 and "5b" not in fold["details"]["blocks"]
        assert set(fold["details"]["probe_accuracy"]) == set(create_backbone("googlenet", "none").block_names)
    record = json.loads((out / "run.json").read_text())
    assert record["nested"]["k"] == 3 and record["torch"] == torch.__version__
    assert [len(digest) for digest in record["data"].values()] == [64]


def test_zoom_views_are_uint8_crops_of_the_centre_view() -> None:
    images = torch.randint(0, 256, (2, 3, 50, 50), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    centre, mirror, zoom, zoom_mirror = views_of(images, VIEW_NAMES)
    assert torch.equal(centre, images) and torch.equal(mirror, images.flip(-1))
    assert zoom.dtype == torch.uint8 and zoom.shape == images.shape
    assert torch.equal(zoom_mirror, zoom.flip(-1))
    flat = torch.full((1, 3, 50, 50), 77, dtype=torch.uint8)
    assert torch.equal(views_of(flat, ["zoom"])[0], flat)  # a flat image stays flat
    with pytest.raises(InvalidArgumentError):
        views_of(images, ["sideways"])


def test_config_views_are_validated() -> None:
    assert TrainConfig(predict_views=("zoom", "centre")).views == ("centre", "mirror", "zoom")
    with pytest.raises(InvalidArgumentError):
        TrainConfig(mode="finetune", train_views=("centre", "zoom"))
    with pytest.raises(InvalidArgumentError):
        TrainConfig(predict_views=("centre", "centre"))


def test_two_views_are_drawn_as_the_earlier_random_flip() -> None:
    picks = draw_views(1000, 2, torch.Generator().manual_seed(3))
    flips = torch.rand(1000, generator=torch.Generator().manual_seed(3)) < 0.5
    assert torch.equal(picks == 1, flips)
    four = draw_views(4000, 4, torch.Generator().manual_seed(0))
    assert set(four.tolist()) == {0, 1, 2, 3}


def test_roc_auc_agrees_with_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 100)
    scores = rng.random(100)
    metrics = binary_metrics(truth, scores > 0.5, scores=scores)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(truth, scores))
    assert "roc_auc" not in binary_metrics([1, 1], [1, 0], scores=[0.9, 0.2])  # one class only


def test_logistic_on_several_blocks_chooses_c_per_fold(signal_dataset: tuple[LabelledImages, FrozenOutputs]) -> None:
    dataset, cache = signal_dataset
    result = cross_validate_logistic(
        dataset, cache, 3, 0, blocks=("4b", "final"), views=("centre", "mirror"), inner_cs=(0.01, 1.0)
    )
    assert result.summary["accuracy"]["mean"] > 0.9
    assert all(fold.details["C"] in (0.01, 1.0) for fold in result.folds)
    assert result.model == "logistic regression (4b+final; centre+mirror)"


def test_train_blocks_auto_with_zoom_views_then_predict(small_twitter_csv: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "auto.pt"
    args = ["train", str(small_twitter_csv), "--blocks", "auto", "--epochs", "2", "--out", str(checkpoint)]
    views = ["--predict-views", "centre,mirror,zoom,zoom-mirror", "--train-views", "centre,zoom"]
    result = runner.invoke(app, [*args, *views, "--backbone", "googlenet", "--weights", "none"])
    assert result.exit_code == 0, result.output
    assert "chosen by the inner probe" in result.output
    config = TrainConfig.from_dict(load_checkpoint(checkpoint).config)
    assert len(config.blocks or ()) == 3 and "5b" not in (config.blocks or ())
    assert config.predict_views == VIEW_NAMES and config.train_views == ("centre", "zoom")
    images = [line.split(",")[0] for line in small_twitter_csv.read_text().splitlines()[1:3]]
    result = runner.invoke(app, ["predict", *images, "-c", str(checkpoint), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 3  # header and two rows


def test_nested_logistic_uses_the_blocks_chosen_per_fold(signal_dataset: tuple[LabelledImages, FrozenOutputs]) -> None:
    dataset, cache = signal_dataset
    chooser = block_chooser(dataset, cache, "googlenet", NestedSettings(k=2))
    result = run_folds(dataset, NestedLogisticStrategy(chooser, "googlenet", inner_cs=(0.01, 1.0)), 3, 0)
    assert result.summary["accuracy"]["mean"] > 0.9
    for fold in result.folds:
        assert "4b" in fold.details["blocks"] and fold.details["C"] in (0.01, 1.0)
