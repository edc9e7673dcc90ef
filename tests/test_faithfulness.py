"""Faithfulness of maps: deletion/insertion against model-blind orders, bootstrap, CAM methods."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from sentilens.explain import (
    ONE_PASS_METHODS,
    Baseline,
    Explainer,
    Fill,
    bootstrap,
    cam_explainer,
    cam_maps,
    grad_cam,
    gradcam_maps,
    ideal_step_areas,
    measure_faithfulness,
    ranks,
    sanity_check,
    score_line,
)

from .helpers import tiny_model

SIDE = 32


class RegionModel(nn.Module):
    """Positive exactly as much as the top-left quadrant is bright: its evidence is that quadrant."""

    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        brightness = images[:, :, : SIDE // 2, : SIDE // 2].mean(dim=(1, 2, 3))
        positive = torch.sigmoid(20 * (brightness - 0.5))
        return torch.stack([1 - positive, positive], dim=1)


def quadrant_images(count: int) -> torch.Tensor:
    """The quadrant white, the rest black but for faint noise (so the fill of every order differs)."""
    generator = torch.Generator().manual_seed(0)
    images = 0.05 * torch.rand((count, 3, SIDE, SIDE), generator=generator)
    images[:, :, : SIDE // 2, : SIDE // 2] = 1.0
    return images


def evidence(images: torch.Tensor) -> np.ndarray:
    maps = np.zeros((len(images), SIDE, SIDE), dtype=np.float32)
    maps[:, : SIDE // 2, : SIDE // 2] = 1.0
    return maps


def test_the_model_s_own_evidence_beats_every_blind_order() -> None:
    report = measure_faithfulness(
        RegionModel(), quadrant_images(4), [Explainer("evidence", evidence, (2, 2))], fill=Fill.mean, steps=8
    )
    assert report.baselines == [b.value for b in Baseline]
    for baseline in report.baselines:
        assert report.values("deletion", "evidence").mean() < report.values("deletion", baseline).mean() - 0.1
        assert report.values("insertion", "evidence").mean() > report.values("insertion", baseline).mean() + 0.1
    # The quadrant is a quarter of the image: the verdict is gone after 2 of 8 steps (area ~1.5 / 8).
    assert report.values("deletion", "evidence").max() < 0.2
    summary = report.summary()
    assert summary["ratios"]["evidence"]["random-cells"]["deletion"]["high"] < 1.0
    line = score_line(report.images[0], "evidence")
    assert line.startswith("deletion 0.") and "(random cells 0." in line


def test_a_map_that_moves_the_verdict_with_its_first_portion_scores_the_ideal_step() -> None:
    # In 4 steps the first portion is exactly the quadrant: the evidence's curves are the ideal step's.
    report = measure_faithfulness(
        RegionModel(), quadrant_images(3), [Explainer("evidence", evidence, (2, 2))], fill=Fill.mean, steps=4
    )
    for image in report.images:
        ideal = ideal_step_areas(image.probability, image.removed_probability, 4)
        assert image.deletion["evidence"] == pytest.approx(ideal["deletion"], abs=1e-6)
        assert image.insertion["evidence"] == pytest.approx(ideal["insertion"], abs=1e-6)
        assert image.removed_probability < 0.01 < 0.99 < image.probability
    ideal_step = report.summary()["ideal_step"]
    assert ideal_step["deletion"]["mean"] == pytest.approx(report.values("deletion", "evidence").mean(), abs=1e-6)
    assert ideal_step["insertion_ratio"]["random-cells"]["mean"] > 1.0


def test_an_inverted_map_is_worse_than_random() -> None:
    images = quadrant_images(3)
    report = measure_faithfulness(
        RegionModel(), images, [Explainer("inverted", lambda x: 1 - evidence(x), (2, 2))], fill=Fill.mean, steps=8
    )
    assert report.values("deletion", "inverted").mean() > report.values("deletion", "random-pixels").mean()
    assert report.values("insertion", "inverted").mean() < report.values("insertion", "random-pixels").mean()


def test_bootstrap_is_fixed_by_its_seed_and_pairs_ratios() -> None:
    values = np.random.default_rng(3).random(50)
    first, again, other = bootstrap(values, seed=1), bootstrap(values, seed=1), bootstrap(values, seed=2)
    assert first == again and first != other
    assert first.low < values.mean() < first.high
    ratio = bootstrap(values, 2 * values, seed=1)
    # Paired resampling: the ratio of a value set to its double is 1/2 in every resample.
    assert ratio.low == pytest.approx(0.5) and ratio.high == pytest.approx(0.5)


def test_ranks_break_ties_at_random_but_keep_the_order() -> None:
    scores = np.array([[0.0, 1.0], [1.0, 0.5]])
    place = ranks(scores, np.random.default_rng(0))
    assert set(place[scores == 1.0]) == {0, 1} and place[1, 1] == 2 and place[0, 0] == 3


def test_one_pass_maps_equal_each_method_s_own_call() -> None:
    model = tiny_model(seed=3)
    images = torch.rand((2, 3, 32, 32), generator=torch.Generator().manual_seed(0))
    found = cam_maps(model, images, ["c", "b"])  # out of forward order: each map must keep its block
    assert found.grids == {"b": (8, 8), "c": (8, 8)}
    for method in ONE_PASS_METHODS:
        for block in ("b", "c"):
            np.testing.assert_array_equal(found.maps[method, block], grad_cam(model, images, block, method=method).maps)


def test_cam_explainer_measures_a_real_map_against_baselines() -> None:
    model = tiny_model(seed=1)
    images = torch.rand((2, 3, 32, 32), generator=torch.Generator().manual_seed(2))
    explainer = cam_explainer(model, "b", "gradcam++")
    assert explainer.name == "gradcam++ b" and explainer.grid == (8, 8)
    report = measure_faithfulness(model, images, [explainer], steps=4, road=True)
    record = report.to_dict()
    assert [image["name"] for image in record["per_image"]] == ["0", "1"]
    assert set(record["summary"]["road"]["gradcam++ b"]) == {"road-morf", "road-lerf"}
    assert set(record["per_image"][0]["deletion"]) == {"gradcam++ b", *[b.value for b in Baseline]}


def test_sanity_maps_change_under_randomisation_and_not_under_a_no_op() -> None:
    model = tiny_model(seed=5)
    images = torch.rand((3, 3, 32, 32), generator=torch.Generator().manual_seed(6))
    before = [p.detach().clone() for p in model.parameters()]
    report = sanity_check(model, images, gradcam_maps("b"), depth=2)
    assert [s.randomised for s in report.steps] == ["no-op", "heads", "c", "b"]
    assert report.step("no-op").rank_correlation == [1.0] * 3 and report.step("no-op").ssim == pytest.approx([1.0] * 3)
    for step in report.steps[1:]:
        assert np.median(step.rank_correlation) < 0.9 and np.median(step.ssim) < 0.9
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the model itself untouched
    assert set(report.to_dict()["steps"][1]) >= {"median_rank_correlation", "median_ssim"}


def test_commands_write_scores_and_provenance(class_folder: Path, tmp_path: Path) -> None:
    from sentilens.cli import app

    small = ["--backbone", "googlenet", "--weights", "none", "--limit", "2", "--out", str(tmp_path)]
    result = CliRunner().invoke(
        app,
        ["explain", "faithfulness", str(class_folder), *small, "--steps", "2", "--block", "5b", "--method", "xgradcam"],
    )
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "faithfulness.json").read_text())
    assert {"command", "cpu", "data", "date"} <= set(record) and len(record["images"]) == 2
    assert record["fill_blur"]["5b"]["explainers"] == ["xgradcam 5b"]
    assert "xgradcam 5b (blur fill): deletion" in result.output
    result = CliRunner().invoke(app, ["explain", "sanity", str(class_folder), *small, "--block", "5b", "--depth", "1"])
    assert result.exit_code == 0, result.output
    steps = json.loads((tmp_path / "sanity.json").read_text())["sanity"]["steps"]
    assert [s["randomised"] for s in steps] == ["no-op", "heads", "5b"]
    assert steps[0]["median_rank_correlation"] == 1.0
    image = next(class_folder.rglob("*.png"))
    result = CliRunner().invoke(
        app, ["explain", "gradcam", str(image), *small[:4], "--method", "hirescam", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob(f"{image.stem}-hirescam-*.png"))) == 1


@pytest.mark.slow
def test_the_shipped_model_s_curves_start_and_end_at_its_verdict(twitter_root: Path) -> None:
    import sentilens
    from sentilens.data import load_twitter, load_view, to_unit_range
    from sentilens.explain.faithfulness import perturbation_curves

    classifier = sentilens.load()
    model = classifier.model
    path = load_twitter(twitter_root, "five").paths[0]
    image = to_unit_range(load_view(path, model.backbone.input_size))
    explainer = cam_explainer(model, "7c")
    assert explainer.grid == (8, 8)
    verdict = model.predict_proba(image[None])[0]
    target = int(verdict.argmax())
    orders = {"map": explainer.maps(image[None])[0], "centre": -np.hypot(*np.indices((299, 299)) - 149.0)}
    curves = perturbation_curves(model, image, target, orders, steps=3)
    for name in orders:
        assert curves.deletion[name][0] == pytest.approx(float(verdict[target]), abs=1e-5)
        assert curves.insertion[name][-1] == pytest.approx(float(verdict[target]), abs=1e-5)
        assert curves.deletion[name][-1] == curves.insertion[name][0]  # the fully blurred image
    assert not np.allclose(curves.deletion["map"], curves.deletion["centre"])


def test_the_default_block_is_the_benchmark_s_for_inception_and_the_last_elsewhere() -> None:
    from sentilens.explain import DEFAULT_CAM_BLOCKS, default_cam_block
    from sentilens.models import backbone_class

    assert DEFAULT_CAM_BLOCKS["inception_v3"] in backbone_class("inception_v3").block_names
    assert default_cam_block(tiny_model().backbone) == "c"


def test_where_and_probe_maps_are_measured_per_block_from_other_images(class_folder: Path, tmp_path: Path) -> None:
    from sentilens.cli import app

    small = ["--backbone", "googlenet", "--weights", "none", "--out", str(tmp_path), "--steps", "2"]
    blocks = ["--block", "5b", "--block", "4e", "--where", "--probe"]
    result = CliRunner().invoke(app, ["explain", "faithfulness", str(class_folder), *small, *blocks, "--limit", "4"])
    assert result.exit_code == 0, result.output
    # The probe and the usual "where" come from the 8 images that are not measured.
    assert "from 8 other images" in " ".join(result.output.split())
    record = json.loads((tmp_path / "faithfulness.json").read_text())
    assert record["settings"]["where"] and record["settings"]["probe"]
    for block in ("5b", "4e"):
        report = record["fill_blur"][block]
        assert report["explainers"] == [f"gradcam {block}", f"where {block}", f"probe {block}"]
        assert len(report["per_image"]) == 4
    # Every image measured leaves too few others to fit a probe: refused, naming the option.
    result = CliRunner().invoke(app, ["explain", "faithfulness", str(class_folder), *small, *blocks, "--limit", "10"])
    assert result.exit_code == 2 and "--limit" in result.output


def test_where_maps_are_the_pages_and_probe_maps_turn_toward_the_verdict() -> None:
    from sentilens.app.map_explainers import signed_for_verdict
    from sentilens.explain import factorise, profile_from, where_maps

    model = tiny_model(seed=1)
    images = torch.rand((5, 3, 32, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        maps = model.backbone(model.backbone.normalize(images), blocks=["b"]).blocks["b"]
    groups = [factorise(m, 1, 0) for m in maps]
    factors = np.stack([g.normalised_weights()[0] for g in groups])
    usual = np.stack([g.spatial[0] for g in groups])
    profile = profile_from("b", factors, where=usual)
    found = where_maps(model.backbone, images, "b", profile)
    assert found.shape == (5, 32, 32)
    np.testing.assert_allclose(found, np.stack([g.where(32, profile.usual_where)[0] for g in groups]), atol=1e-5)
    assert not np.allclose(found, where_maps(model.backbone, images, "b", profile_from("b", factors)))
    cams = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 1.0)])
    turned = signed_for_verdict(cams, np.array([True, False]))
    assert (turned[0] == 1).all() and (turned[1] == -1).all()
