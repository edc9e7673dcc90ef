"""Occlusion of a block's grid cells: each cell's score is the verdict's drop when that cell is filled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sentilens.explain import CamMethod, Fill, cam_explainer, grad_cam, measure_faithfulness, occlusion
from sentilens.explain.faithfulness import filled
from sentilens.explain.occlusion import cell_mask

from .helpers import tiny_model


def images(count: int, seed: int) -> torch.Tensor:
    return torch.rand((count, 3, 32, 32), generator=torch.Generator().manual_seed(seed))


def test_cells_tile_the_image_as_the_random_cells_baseline_does() -> None:
    mask = cell_mask((32, 32), (8, 8))
    assert mask.shape == (32, 32) and sorted(mask.unique().tolist()) == list(range(64))
    assert mask[0, 0] == 0 and mask[0, 4] == 1 and mask[4, 0] == 8 and mask[31, 31] == 63
    assert (mask == 9).sum() == 16  # 4x4 pixels per cell


@pytest.mark.parametrize("fill", [Fill.blur, Fill.mean])
def test_each_cell_s_score_is_the_probability_drop_when_that_cell_is_filled(fill: Fill) -> None:
    model = tiny_model(seed=2).eval()
    batch = images(2, 0)
    found = occlusion(model, batch, (4, 4), fill=fill, per_pass=5)  # 16 cells over 4 passes of at most 5
    assert found.scores.shape == (2, 4, 4) and found.maps.shape == (2, 32, 32)
    with torch.no_grad():
        base = model.predict_proba(batch)
    np.testing.assert_array_equal(found.targets, base.argmax(1).numpy())
    mask = cell_mask((32, 32), (4, 4))
    for i, image in enumerate(batch):
        removed = filled(image[None], fill)[0]
        for row, column in [(0, 0), (1, 2), (3, 3)]:
            cell = (mask == row * 4 + column).to(image.dtype)
            occluded = image * (1 - cell) + removed * cell
            drop = base[i, found.targets[i]] - model.predict_proba(occluded[None])[0, found.targets[i]]
            assert found.scores[i, row, column] == pytest.approx(float(drop), abs=1e-5)
        # The map keeps the cells' order: the top cell is 1, the bottom 0, constant within a cell.
        top = np.unravel_index(found.scores[i].argmax(), (4, 4))
        assert found.maps[i, top[0] * 8, top[1] * 8] == 1.0 and found.maps[i].min() == 0.0
        assert np.unique(found.maps[i][mask.numpy() == 5]).size == 1


def test_occlusion_is_a_method_of_grad_cam_at_the_block_s_grid() -> None:
    model = tiny_model(seed=4)
    batch = images(2, 1)
    result = grad_cam(model, batch, "b", target=0, method="occlusion")
    direct = occlusion(model, batch, (8, 8), targets=0)
    np.testing.assert_allclose(result.maps, direct.maps, atol=1e-6)
    assert result.targets.tolist() == [0, 0] and result.probabilities.shape == (2, 2)
    explainer = cam_explainer(model, "b", CamMethod.occlusion)
    report = measure_faithfulness(model, batch, [explainer], steps=3, baselines=["random-cells"])
    assert explainer.name == "occlusion b" and report.explainers == ["occlusion b"]


def test_the_commands_draw_and_measure_occlusion(class_folder: Path, tmp_path: Path) -> None:
    from sentilens.cli import app

    small = ["--backbone", "googlenet", "--weights", "none"]
    image = next(class_folder.rglob("*.png"))
    result = CliRunner().invoke(
        app, ["explain", "gradcam", str(image), *small, "--block", "5b", "--method", "occlusion", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob(f"{image.stem}-occlusion-5b-*.png"))) == 1
