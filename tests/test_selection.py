"""Block selection: the evidence numbers, the suggested set, ``suggest-blocks`` and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import rankdata
from typer.testing import CliRunner

from sentilens.cli import app
from sentilens.data import Fold, load_dataset
from sentilens.explain import factorise
from sentilens.models import create_backbone
from sentilens.selection import SelectionError, evidence_features, probe_accuracy, selection_config, separation_score
from sentilens.selection.evidence import fit_probe, rank_one_channel_weights
from sentilens.training import TrainConfig, feature_store

from .helpers import write_image

runner = CliRunner()
SMALL = ["--backbone", "googlenet", "--weights", "none", "--folds", "2"]
GOOGLENET_BLOCKS = ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


def test_rank_one_weights_equal_the_explain_modules_nmf() -> None:
    for shape in ((3, 40, 5, 6), (3, 12, 5, 6)):  # more channels than positions, and fewer
        maps = torch.rand(shape) ** 3
        maps[2] = 0
        weights = rank_one_channel_weights(maps)
        for single, row in zip(maps[:2], weights[:2]):
            v = factorise(single, rank=1).channel_weights[0]
            np.testing.assert_allclose(row, v / v.sum(), atol=1e-5)
            assert row.min() >= 0 and row.sum() == pytest.approx(1.0, abs=1e-5)
        assert not weights[2].any()


def test_probe_map_averages_to_the_probe_logit() -> None:
    rng = np.random.default_rng(0)
    maps = rng.random((40, 6, 3, 4))
    labels = (maps[:, 2].mean(axis=(1, 2)) > 0.5).astype(int)
    probe = fit_probe(maps.mean(axis=(2, 3)), labels)
    cams = probe.cam(maps)
    assert cams.shape == (40, 3, 4)
    logits = np.log(probe.probability(maps.mean(axis=(2, 3))) / (1 - probe.probability(maps.mean(axis=(2, 3)))))
    np.testing.assert_allclose(cams.mean(axis=(1, 2)), logits, rtol=1e-6, atol=1e-6)
    assert probe.weights[2] > np.abs(probe.weights[[0, 1, 3, 4, 5]]).max()  # the informative channel


def test_block_feature_store_computes_each_image_once(class_folder: Path, tmp_path: Path, monkeypatch) -> None:
    torch.manual_seed(0)
    backbone = create_backbone("googlenet", "none").eval()
    dataset = load_dataset(class_folder)
    broken = class_folder / "negative" / "broken.png"
    broken.write_bytes(b"not an image")
    with_broken = load_dataset(class_folder)
    usable, first, skipped = evidence_features(backbone, with_broken, ["3a", "5b"], tmp_path, chunk=5)
    assert len(usable) == 12 and [f.path.name for f in skipped] == ["broken.png"]
    assert first.factors["5b"].shape == (12, 1024)

    def refuse(*args, **kwargs):
        raise AssertionError("stored images must not be decoded again")

    monkeypatch.setattr(feature_store, "decode_all", refuse)
    again, second, _ = evidence_features(backbone, dataset, ["3a", "5b"], tmp_path)
    assert again.paths == dataset.paths
    np.testing.assert_array_equal(second.pooled["3a"], first.pooled["3a"])


def test_separation_is_near_zero_without_difference_and_large_with_it() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 200)
    same = rng.dirichlet(np.ones(30), size=400)
    shifted = same.copy()
    shifted[labels == 1, 0] += 0.2
    assert abs(separation_score(same, labels)) < 0.2
    assert separation_score(shifted, labels) > 5 * max(separation_score(same, labels), 0.05)
    with pytest.raises(SelectionError, match="two images of each class"):
        separation_score(same[:3], [0, 1, 1])


def test_probe_accuracy_on_separable_and_on_random_features() -> None:
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 30)
    folds = [
        Fold(0, tuple(range(0, 60, 2)), tuple(range(1, 60, 2))),
        Fold(1, tuple(range(1, 60, 2)), tuple(range(0, 60, 2))),
    ]
    separable = rng.normal(size=(60, 5)) + labels[:, None] * 4
    assert probe_accuracy(separable, labels, folds).min() == 1.0
    assert probe_accuracy(rng.normal(size=(60, 5)), labels, folds).mean() < 0.8


def test_selection_config_refuses_empty_and_out_of_range() -> None:
    config = selection_config("googlenet", "none", ["4a", "4d"], [0.1, 0.3])
    assert config.blocks == ("4a", "4d") and config.aux_weights == (0.1, 0.3)
    with pytest.raises(SelectionError, match="no blocks selected"):
        selection_config("googlenet", "none", [])
    with pytest.raises(SelectionError, match=r"\[0, 1\]"):
        selection_config("googlenet", "none", ["4a"], [1.5])


def one_class_folder(root: Path) -> Path:
    for label in ("negative", "positive"):
        (root / label).mkdir(parents=True)
    for i in range(4):
        write_image(root / "positive" / f"p{i}.png", seed=i)
    return root


def test_suggest_blocks_ranks_every_block_and_writes_a_usable_config(class_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["suggest-blocks", str(class_folder), *SMALL, "--k", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    ranking = json.loads((out / "suggest.json").read_text())
    assert sorted(t["block"] for t in ranking["blocks"]) == sorted(GOOGLENET_BLOCKS)
    assert [t["rank"] for t in ranking["blocks"]] == list(range(1, 10))
    assert len(ranking["suggested"]) == 2 and "5b" not in ranking["suggested"]
    # The order is the Borda count of the two reported numbers (ties to the higher probe accuracy),
    # and the suggestion its best two blocks other than the last block.
    accuracy = np.array([block["probe_accuracy"] for block in ranking["blocks"]])
    separation = np.array([block["separation"] for block in ranking["blocks"]])
    borda = (rankdata(-accuracy) + rankdata(-separation)) / 2
    keys = list(zip(borda, -accuracy))
    assert keys == sorted(keys)
    assert ranking["suggested"] == [block["block"] for block in ranking["blocks"] if block["block"] != "5b"][:2]
    config = TrainConfig.from_file(out / "suggested-config.json")
    assert list(config.blocks) == ranking["suggested"] and config.aux_weights == (0.1, 0.1)
    assert "Suggested set" in result.output


@pytest.mark.parametrize("command", ["suggest-blocks", "inspect"])
def test_one_class_dataset_is_refused(command: str, tmp_path: Path) -> None:
    data = one_class_folder(tmp_path / "data")
    result = runner.invoke(app, [command, str(data), *SMALL, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "no images of class negative" in result.output


def test_empty_suggested_set_is_refused(class_folder: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["suggest-blocks", str(class_folder), *SMALL, "--k", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "at least one block" in result.output


@pytest.mark.parametrize(
    ("blocks", "weights", "message"),
    [(["4a", "9z"], [0.1, 0.1], "9z"), (["4a", "4d"], [0.1, 1.5], r"[0, 1]"), (["4a"], [-0.2], r"[0, 1]")],
)
def test_cv_refuses_a_bad_config(class_folder: Path, tmp_path: Path, blocks, weights, message: str) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"backbone": "googlenet", "weights": "none", "blocks": blocks, "aux_weights": weights})
    )
    result = runner.invoke(
        app,
        [
            "cv",
            str(class_folder),
            "--config",
            str(config),
            "--folds",
            "2",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 2
    assert "error" in result.output and message in result.output


def test_suggest_blocks_on_a_checkpoint_names_its_backbone_weights(class_folder: Path, tmp_path: Path) -> None:
    from sentilens.models import build_model, load_checkpoint

    model_file = tmp_path / "model.pt"
    trained = runner.invoke(
        app,
        [
            "train",
            str(class_folder),
            "--backbone",
            "googlenet",
            "--weights",
            "none",
            "--blocks",
            "4a",
            "--epochs",
            "1",
            "-o",
            str(model_file),
        ],
    )
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["suggest-blocks", str(class_folder), "--checkpoint", str(model_file), "--folds", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    config = TrainConfig.from_file(out / "suggested-config.json")
    assert config.backbone == "googlenet" and Path(config.weights) == (out / "backbone.pt").resolve()
    rebuilt, original = (
        build_model(config.architecture).backbone.state_dict(),
        load_checkpoint(model_file).model.backbone.state_dict(),
    )
    assert all(torch.equal(rebuilt[k], v) for k, v in original.items())
