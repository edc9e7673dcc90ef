"""Where a neuron group fires more than usual, and how much a group drives the fused verdict."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentilens.explain import (
    GroupImportance,
    NeuronGroups,
    factorise,
    fused_from_block,
    group_importance,
    load_profiles,
    profile_from,
    save_profiles,
    unusual_where,
    where_statistics,
)
from sentilens.models import SentimentModel, create_backbone
from sentilens.selection.evidence import rank_one_where
from sentilens.utils.errors import InvalidArgumentError


def usual_maps(count: int = 40, side: int = 9, seed: int = 0) -> np.ndarray:
    """Maps whose groups all fire more at the border (as padding makes them), plus noise."""
    rng = np.random.default_rng(seed)
    frame = np.full((side, side), 0.3)
    frame[0, :] = frame[-1, :] = frame[:, 0] = frame[:, -1] = 1.0
    return frame + 0.1 * rng.random((count, side, side))


def test_a_group_that_fires_as_usual_has_an_empty_where_map() -> None:
    maps = usual_maps()
    mean, spread = where_statistics(maps)
    groups = NeuronGroups(spatial=mean[None] * 3.0, channel_weights=np.ones((1, 4)), relative_error=0.0)
    usual = groups.where(27, (mean, spread))
    assert usual.shape == (1, 27, 27) and not usual.any()
    # without the reference the same group draws the frame the reference removes
    raw = groups.where(27)
    assert raw[0, 0].mean() > 2 * raw[0, 13, 5:22].mean()


def test_where_shows_the_place_above_usual_not_the_frame() -> None:
    maps = usual_maps()
    mean, spread = where_statistics(maps[1:])
    bumped = maps[:1].copy()
    bumped[0, 4, 6] += 0.8  # fires more than usual at one inner place
    above = unusual_where(bumped, mean, spread)[0]
    assert np.unravel_index(above.argmax(), above.shape) == (4, 6)
    drawn = NeuronGroups(bumped, np.ones((1, 4)), 0.0).where(9, (mean, spread))[0]
    border = np.concatenate([drawn[0], drawn[-1], drawn[1:-1, 0], drawn[1:-1, -1]])
    raw = NeuronGroups(bumped, np.ones((1, 4)), 0.0).where(9)[0]
    raw_border = np.concatenate([raw[0], raw[-1], raw[1:-1, 0], raw[1:-1, -1]])
    # the raw map is mostly frame; relative to usual, only noise is left there
    assert drawn[4, 6] == 1.0 and border.mean() < 0.3 and raw_border.mean() > 0.8
    with pytest.raises(InvalidArgumentError, match="grid"):
        unusual_where(bumped, mean[:5], spread[:5])


def test_profiles_keep_where_groups_usually_fire(tmp_path) -> None:
    rng = np.random.default_rng(1)
    factors = rng.random((6, 5))
    maps = usual_maps(6, 7)
    profile = profile_from("3a", factors, where=maps)
    assert profile.usual_where is not None
    assert np.allclose(profile.usual_where[0], (maps / maps.mean(axis=(1, 2), keepdims=True)).mean(axis=0))
    back = load_profiles(save_profiles(tmp_path / "p.npz", {"3a": profile}))["3a"]
    assert back.usual_where is not None and np.array_equal(back.usual_where[1], profile.usual_where[1])
    assert profile_from("3a", factors).usual_where is None


def test_rank_one_where_is_the_nmf_spatial_factor() -> None:
    rng = np.random.default_rng(2)
    maps = torch.as_tensor(rng.random((2, 6, 5, 4)), dtype=torch.float32)
    fast = rank_one_where(maps).reshape(2, 5, 4)
    for image, row in zip(maps, fast):
        nmf = factorise(image, 1).spatial[0]
        assert np.allclose(row, nmf / nmf.max(), atol=1e-3)


@pytest.fixture(scope="module")
def tiny_model() -> SentimentModel:
    torch.manual_seed(0)
    return SentimentModel(create_backbone("googlenet", "none"), blocks=("4e",)).eval()


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand(1, 3, 224, 224)


def test_the_model_run_from_a_block_on_gives_its_fused_verdict(tiny_model, image) -> None:
    backbone = tiny_model.backbone
    with torch.no_grad():
        out = backbone(backbone.normalize(image), blocks=["4e", "5a"], stop="5a")
        earlier = {"4e": out.blocks["4e"].mean(dim=(2, 3))}
        resumed = fused_from_block(tiny_model, "5a", out.blocks["5a"], earlier)
    assert torch.allclose(resumed, tiny_model.predict_proba(image), atol=1e-5)


def test_a_group_that_carries_the_verdict_is_significant_and_a_random_direction_is_not(tiny_model, image) -> None:
    backbone = tiny_model.backbone
    with torch.no_grad():
        maps = backbone(backbone.normalize(image), blocks=["5b"]).blocks["5b"][0]
    groups = factorise(maps, 1)
    group = groups.channel_weights[0]
    # the main head reads only the group's direction at the last block: the verdict is the group,
    # 50 % untouched and a logit of -2 with the group removed
    scale = 2.0 / (np.linalg.norm(group) ** 2 * groups.spatial[0].mean())
    with torch.no_grad():
        tiny_model.main_head.linear.weight.copy_(torch.as_tensor(np.stack([np.zeros_like(group), scale * group])))
        tiny_model.main_head.linear.bias.copy_(
            torch.tensor([0.0, -scale * float(group @ maps.mean(dim=(1, 2)).numpy())])
        )
    carried = group_importance(tiny_model, image, "5b", random_count=19)
    assert carried.p_values[0] == pytest.approx(1 / 20) and carried.p_value == pytest.approx(1 / 20)
    assert carried.group_change[0] > carried.random_change[0].max()
    rng = np.random.default_rng(5)
    other = np.abs(rng.standard_normal(len(group)))
    other *= np.linalg.norm(group) / np.linalg.norm(other)
    random = group_importance(tiny_model, image, "5b", random_count=19, directions=other[None])
    assert random.p_values[0] > 0.2


def test_a_blocks_p_value_combines_its_images_places_among_the_random_directions() -> None:
    def block(group: list[float], random: list[list[float]]) -> GroupImportance:
        return GroupImportance("5b", np.ones(len(group)), np.asarray(group), np.asarray(random))

    # three images whose groups beat all 9 random directions: (1/10)^3, below any one image's 1/10
    beaten = block([1.0, 1.0, 1.0], [[0.5] * 9] * 3)
    assert beaten.p_values == pytest.approx([0.1] * 3) and beaten.p_value == pytest.approx(1e-3)
    # one random direction each; places 0 and 1 sum to 1: P(sum of two fair 0/1 places <= 1) = 3/4
    assert block([1.0, 0.1], [[0.5], [0.5]]).p_value == pytest.approx(0.75)
    # groups no stronger than any random direction: p = 1
    assert block([0.1, 0.1], [[0.5, 0.6], [0.5, 0.6]]).p_value == pytest.approx(1.0)
