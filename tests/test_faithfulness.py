"""Faithfulness of maps: deletion/insertion against model-blind orders, bootstrap, CAM methods."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sentilens.explain import (
    ONE_PASS_METHODS,
    Baseline,
    Explainer,
    Fill,
    bootstrap,
    cam_explainer,
    cam_maps,
    faithfulness,
    grad_cam,
    gradcam_maps,
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
    report = faithfulness(
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


def test_an_inverted_map_is_worse_than_random() -> None:
    images = quadrant_images(3)
    report = faithfulness(
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
    found = cam_maps(model, images, ["b", "c"])
    assert found.grids == {"b": (8, 8), "c": (8, 8)}
    for method in ONE_PASS_METHODS:
        for block in ("b", "c"):
            np.testing.assert_array_equal(found.maps[method, block], grad_cam(model, images, block, method=method).maps)


def test_cam_explainer_measures_a_real_map_against_baselines() -> None:
    model = tiny_model(seed=1)
    images = torch.rand((2, 3, 32, 32), generator=torch.Generator().manual_seed(2))
    explainer = cam_explainer(model, "b", "gradcam++")
    assert explainer.name == "gradcam++ b" and explainer.grid == (8, 8)
    report = faithfulness(model, images, [explainer], steps=4, road=True)
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
