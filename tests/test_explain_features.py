"""Activation maximisation, the channel cache, spatial grids and NMF neuron groups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sentilens.data import load_twitter, load_view, to_unit_range
from sentilens.explain import (
    AscentSettings,
    ChannelPictureCache,
    RankError,
    cache_key,
    default_cache_dir,
    factorise,
    group_pictures,
    spatial_cells,
    tile,
    visualise_channels,
)
from sentilens.explain.activation_max import block_activations, redirected_relu
from sentilens.models import create_backbone
from sentilens.models.backbones import UnknownBlockError

TINY = AscentSettings(size=24, steps=1, batch_size=256)


@pytest.fixture(scope="module")
def googlenet():
    torch.manual_seed(0)
    return create_backbone("googlenet", "none")


@pytest.mark.parametrize(("mode", "size", "steps"), [("plain", 64, 16), ("regularised", 96, 64)])
def test_activation_maximisation_beats_noise_and_real_images(
    inception, twitter_root: Path, mode: str, size: int, steps: int
) -> None:
    """Each channel the starting noise excites ends >= 10x higher and above its max on real images;
    in the regularised mode the redirected ReLU also lifts the channels the start leaves at 0."""
    paths = load_twitter(twitter_root, "five").paths[:8]
    real = to_unit_range(torch.stack([load_view(p, 299) for p in paths]))
    with torch.no_grad():
        real_max = block_activations(inception.eval(), real, "6a").mean(dim=(2, 3)).max(dim=0).values
    pictures = visualise_channels(inception, "6a", range(5), AscentSettings(mode=mode, size=size, steps=steps))
    alive = pictures.start_activation > 0
    assert alive.sum() >= 2
    assert (pictures.final_activation[alive] >= 10 * pictures.start_activation[alive]).all()
    checked = alive if mode == "plain" else torch.ones_like(alive)
    assert (pictures.final_activation[checked] > real_max[pictures.channels][checked]).all()
    if mode == "regularised":
        assert not alive.all(), "some channels start at 0, so the redirection is exercised"
    assert all(p.requires_grad for p in inception.parameters())  # flags restored after the ascent


def test_redirected_relu_gives_blocked_images_a_rising_direction() -> None:
    x = torch.tensor([[-1.0, -2.0, -3.0], [1.0, -1.0, -2.0]], requires_grad=True)
    relu = torch.nn.functional.relu
    with redirected_relu():
        y = torch.nn.functional.relu(x, inplace=True)
    assert torch.nn.functional.relu is relu, "restored on exit"
    assert y.tolist() == [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    # The loss wants elements 0 and 1 raised and element 2 lowered.
    (y * torch.tensor([-1.0, -1.0, 1.0])).sum().backward()
    # Image 0 gets no gradient through a plain ReLU: the raising components pass, the lowering one
    # (which would push a dead unit further down) does not.  Image 1 gets the exact ReLU gradient.
    assert x.grad.tolist() == [[-1.0, -1.0, 0.0], [-1.0, 0.0, 0.0]]


def test_pictures_are_images_and_weights_unchanged(googlenet) -> None:
    before = {k: v.clone() for k, v in googlenet.state_dict().items()}
    for mode in ("plain", "regularised"):
        pictures = visualise_channels(googlenet, "3a", [0, 5, 9], AscentSettings(mode=mode, size=32, steps=3))
        assert pictures.pictures.shape == (3, 3, 32, 32)
        assert pictures.pictures.min() >= 0 and pictures.pictures.max() <= 1
        assert pictures.channels.tolist() == [0, 5, 9]
        # Each picture is of its own channel: measured here, it excites that channel more than the
        # other channels' pictures do (channels the start leaves at 0 may stay there after 3 steps).
        with torch.no_grad():
            excitation = block_activations(googlenet.eval(), pictures.pictures, "3a").mean(dim=(2, 3))[:, [0, 5, 9]]
        live = (pictures.start_activation > 0).nonzero().flatten().tolist()
        assert len(live) >= 2
        for channel in live:
            assert excitation[:, channel].argmax() == channel, f"{mode}: {excitation[:, channel]}"
    assert all(torch.equal(before[k], v) for k, v in googlenet.state_dict().items())


def test_bad_block_channel_and_settings(googlenet) -> None:
    with pytest.raises(UnknownBlockError, match="valid blocks: 3a"):
        visualise_channels(googlenet, "6a", [0], TINY)
    with pytest.raises(ValueError, match="channel.*256.*0..255"):
        visualise_channels(googlenet, "3a", [256], TINY)
    with pytest.raises(ValueError, match="mode"):
        AscentSettings(mode="fancy")
    with pytest.raises(ValueError, match="spectrum_gain must be positive"):
        AscentSettings(spectrum_gain=0)


def test_cache_computes_once_and_keys_on_weights_block_and_settings(googlenet, tmp_path: Path, monkeypatch) -> None:
    cache = ChannelPictureCache(tmp_path)
    first = cache.block_pictures(googlenet, "3a", TINY)
    assert first.pictures.shape == (256, 3, 24, 24)
    (stored,) = tmp_path.glob("googlenet-3a-*.channels")
    again = cache.block_pictures(googlenet, "3a", TINY)
    assert torch.allclose(again.pictures, first.pictures, atol=1 / 255)
    assert torch.equal(again.final_activation, first.final_activation)
    damaged = bytearray(stored.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    stored.write_bytes(bytes(damaged))
    messages: list[str] = []
    rebuilt = ChannelPictureCache(tmp_path, say=messages.append).block_pictures(googlenet, "3a", TINY)
    assert len(messages) == 1 and "damaged" in messages[0] and stored.name in messages[0]
    torch.testing.assert_close(rebuilt.pictures, first.pictures)  # computed again, not the damaged bytes
    assert torch.equal(ChannelPictureCache(tmp_path).load(googlenet, "3a", TINY).pictures, again.pictures)
    key = cache_key(googlenet, "3a", TINY)
    assert key != cache_key(googlenet, "3b", TINY)
    assert key != cache_key(googlenet, "3a", AscentSettings(size=24, steps=2, batch_size=256))
    torch.manual_seed(1)
    assert key != cache_key(create_backbone("googlenet", "none"), "3a", TINY)
    monkeypatch.setenv("SENTILENS_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere" / "channels"


def test_spatial_cells_are_activation_weighted_pictures() -> None:
    pictures = torch.rand((4, 3, 5, 5), generator=torch.Generator().manual_seed(0))
    activation = torch.zeros((4, 2, 3))
    activation[2, 0, 1] = 3.0  # only channel 2 fires at (0, 1)
    activation[[0, 1], 1, 2] = torch.tensor([1.0, 3.0])
    cells = spatial_cells(pictures, activation)
    assert cells.shape == (2, 3, 3, 5, 5)
    torch.testing.assert_close(cells[0, 1], pictures[2])
    torch.testing.assert_close(cells[1, 2], 0.25 * pictures[0] + 0.75 * pictures[1])
    assert cells[0, 0].abs().sum() == 0  # silent position
    assert tile(cells).shape == (3, 2 * 6 - 1, 3 * 6 - 1)
    top1 = spatial_cells(pictures, activation, top_k=1)
    torch.testing.assert_close(top1[1, 2], pictures[1])


def test_nmf_factors_are_non_negative_and_error_reported() -> None:
    rng = np.random.default_rng(0)
    activation = np.maximum(rng.normal(size=(16, 5, 5)), 0)
    one = factorise(activation, rank=1)
    three = factorise(activation, rank=3)
    for groups, rank in ((one, 1), (three, 3)):
        assert groups.spatial.shape == (rank, 5, 5) and groups.channel_weights.shape == (rank, 16)
        assert (groups.spatial >= 0).all() and (groups.channel_weights >= 0).all()
        assert 0.0 < groups.relative_error < 1.0
    assert three.relative_error < one.relative_error
    exact = factorise(np.outer(np.arange(1, 5), np.ones(9)).reshape(4, 3, 3), rank=1)
    assert exact.relative_error < 1e-3


def test_group_picture_is_the_weighted_mean_of_channel_pictures() -> None:
    pictures = torch.rand((3, 3, 4, 4), generator=torch.Generator().manual_seed(0))
    activation = torch.zeros((3, 2, 2))
    activation[1] = 2.0  # one channel carries everything
    groups = factorise(activation, rank=1)
    torch.testing.assert_close(group_pictures(pictures, groups)[0], pictures[1], atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("rank", [0, -2])
def test_rank_below_one_is_refused(rank: int) -> None:
    with pytest.raises(RankError, match=f"at least 1, got {rank}"):
        factorise(np.ones((2, 2, 2)), rank)
