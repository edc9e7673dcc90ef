"""Neuron groups a person can read: size checks, reference profiles, group pictures by ascent."""

from __future__ import annotations

import time
import warnings
from itertools import groupby
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sentilens.app.demo import GROUP_SETTINGS
from sentilens.data import load_twitter, load_view, to_unit_range
from sentilens.explain import (
    AscentSettings,
    AscentSizeError,
    ProfileError,
    check_ascent_size,
    convergence_note,
    direction_pictures,
    draw_groups,
    explain_groups,
    factorise,
    image_activation,
    load_profiles,
    matching_profile,
    profile_from,
    save_profiles,
    spatial_cells,
)
from sentilens.explain.channel_cache import weights_digest
from sentilens.models import available_backbones, create_backbone
from sentilens.models.backbones import backbone_class

#: Largest mean correlation allowed between the image-specific group pictures of different images.
#: BENCHMARKS.md ("Neuron groups a person can read", benchmarks/results/neuron_groups.json): at 5b
#: with the demo's picture settings the mean pairwise correlation is -0.006 over the six demo photos
#: and 0.049 over 30 Twitter I images, against 0.971 and 0.985 for eq. (5), which draws nearly the
#: same picture for every image; 0.5, the issue's target, sits far from both.
DISTINCT_BOUND = 0.5
#: Largest correlation allowed for any one pair of those pictures: near-identical pictures of two
#: images fail it.  Measured on the first two images of each class of Twitter I (five agree): mean
#: 0.060, largest 0.26; on the first four of each class, mean 0.040, largest 0.52.
NEAR_IDENTICAL = 0.9


@pytest.fixture(scope="module")
def googlenet():
    torch.manual_seed(0)
    return create_backbone("googlenet", "none").eval()


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two pictures ``(3, s, s)`` after resizing to 128 px."""
    x, y = (F.interpolate(p[None].float(), size=(128, 128), mode="bilinear", antialias=True).flatten() for p in (a, b))
    return float(torch.corrcoef(torch.stack([x, y]))[0, 1])


@pytest.mark.parametrize("name", available_backbones())
def test_smallest_input_sizes_are_exact(name: str) -> None:
    """Each listed size reaches its blocks and one pixel less does not (checked per run of equal
    sizes: the deepest block of the run at the size, the shallowest one pixel below)."""
    backbone = create_backbone(name, "none")
    sizes = backbone.smallest_inputs
    assert set(sizes) == set(backbone.block_names)
    for side, run in groupby(backbone.block_names, key=sizes.__getitem__):
        blocks = list(run)
        assert backbone.reaches(blocks[-1], side)
        assert not backbone.reaches(blocks[0], side - 1)


@pytest.mark.parametrize("size", [48, 80])
def test_too_small_ascent_sizes_fail_at_once_naming_the_smallest(size: int) -> None:
    kind = backbone_class("inception_v3")
    began = time.perf_counter()
    with pytest.raises(AscentSizeError, match=f"ascent size {size} px .* smallest size that works is 83 px"):
        check_ascent_size(kind, AscentSettings(size=size), kind.block_names)
    assert time.perf_counter() - began < 0.1
    check_ascent_size(kind, AscentSettings(size=83), kind.block_names)
    check_ascent_size(kind, AscentSettings(size=75, mode="plain"), kind.block_names)
    with pytest.raises(AscentSizeError, match="smallest size that works is 75 px"):
        check_ascent_size(kind, AscentSettings(size=74, mode="plain"), ["7c"])


def test_nmf_iteration_limit_is_recorded_not_warned() -> None:
    rng = np.random.default_rng(0)
    maps = [np.maximum(rng.normal(size=(16, 6, 6)), 0) for _ in range(2)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stopped = factorise(maps[0], rank=3, max_iter=1)
        done = factorise(maps[1], rank=1)
    assert not stopped.converged and done.converged
    note = convergence_note([stopped, done], max_iter=1)
    assert note is not None and "1-iteration limit on 1 of 2 maps" in note
    assert convergence_note([done]) is None


def test_reference_profile_round_trip_and_weights_match(googlenet, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    factors = rng.random((6, 256))
    profile = profile_from(
        "3a",
        factors,
        rng.random((6, 256)),
        [0, 0, 0, 1, 1, 1],
        ("negative", "positive"),
        "six",
        weights_digest(googlenet, "3a"),
    )
    assert profile.class_means is not None and profile.class_means.shape == (2, 256)
    np.testing.assert_allclose(profile.relative(profile.mean[None]), 0.0, atol=1e-6)
    path = save_profiles(tmp_path / "profile.npz", {"3a": profile})
    loaded = load_profiles(path)["3a"]
    np.testing.assert_array_equal(loaded.mean, profile.mean)
    assert loaded.source == "six" and loaded.class_names == ("negative", "positive") and loaded.images == 6
    assert matching_profile(googlenet, "3a", path) is not None
    assert matching_profile(googlenet, "3b", path) is None
    torch.manual_seed(1)
    assert matching_profile(create_backbone("googlenet", "none"), "3a", path) is None


def test_direction_pictures_are_cached_and_do_not_depend_on_their_batch(googlenet, tmp_path: Path) -> None:
    """... and a damaged entry is drawn again (alone: as a fresh picture of that direction)."""
    settings = AscentSettings(size=32, steps=4, batch_size=8)
    directions = np.random.default_rng(0).normal(size=(3, 256)).astype(np.float32)
    together = direction_pictures(googlenet, "3a", directions, settings, tmp_path)
    assert together.shape == (3, 3, 32, 32) and len(list(tmp_path.glob("googlenet-3a-*.group"))) == 3
    alone = direction_pictures(googlenet, "3a", directions[1:2], settings, tmp_path / "fresh")
    torch.testing.assert_close(alone[0], together[1], atol=2 / 255, rtol=0)
    again = direction_pictures(googlenet, "3a", directions, settings, tmp_path)
    torch.testing.assert_close(again, together, atol=0, rtol=0)
    (second,) = (tmp_path / "fresh").glob("*.group")  # the entry of directions[1], by its key
    (tmp_path / second.name).write_bytes((tmp_path / second.name).read_bytes()[:-10])
    messages: list[str] = []
    rebuilt = direction_pictures(googlenet, "3a", directions, settings, tmp_path, say=messages.append)
    assert len(messages) == 1 and second.name in messages[0]
    torch.testing.assert_close(rebuilt[1], alone[0], atol=0, rtol=0)
    torch.testing.assert_close(rebuilt[[0, 2]], together[[0, 2]], atol=0, rtol=0)
    assert correlation(together[0], together[2]) < 0.9


def mean_and_largest_correlation(pictures: torch.Tensor) -> tuple[float, float]:
    """Mean and largest Pearson correlation over all pairs of pictures ``(N, 3, s, s)``."""
    pairs = [correlation(pictures[i], pictures[j]) for i in range(len(pictures)) for j in range(i + 1, len(pictures))]
    return float(np.mean(pairs)), max(pairs)


def test_different_images_get_different_group_pictures(inception, twitter_root: Path) -> None:
    """The pictures of different Twitter I images, as every use case draws them (explain_groups,
    shipped reference, the demo's settings), must not be alike: eq. (5) drew every picture nearly
    the same (mean correlation 0.985), and so would any defect that drew one direction for all."""
    data = load_twitter(twitter_root, "five")
    chosen = [i for c in (0, 1) for i in [j for j, label in enumerate(data.labels) if label == c][:2]]
    images = to_unit_range(torch.stack([load_view(data.paths[i], 299) for i in chosen]))
    found = explain_groups(inception, images, "5b", settings=GROUP_SETTINGS, contrast="reference")
    assert "twitter1/three" in found.reference.source, "the shipped reference profile fits the ImageNet inception_v3"
    mean, largest = mean_and_largest_correlation(found.pictures[:, 0])
    assert mean < DISTINCT_BOUND, f"group pictures of different images alike on average ({mean:.3f})"
    assert largest < NEAR_IDENTICAL, f"two images got nearly the same group picture ({largest:.3f})"
    negative, positive = found.contrast
    assert correlation(negative, positive) < DISTINCT_BOUND, "the two class averages look alike"


def test_explain_groups_factorises_each_image_and_draws_its_groups(googlenet, tmp_path: Path) -> None:
    images = torch.rand(4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    settings = AscentSettings(size=32, steps=2, batch_size=16)
    found = explain_groups(
        googlenet, images, "3a", rank=2, settings=settings, labels=[0, 0, 1, 1], contrast="images", cache_dir=tmp_path
    )
    assert found.pictures.shape == (4, 2, 3, 32, 32) and found.where.shape == (4, 2, 224, 224)
    alone = factorise(image_activation(googlenet, images[2], "3a"), rank=2)
    np.testing.assert_array_equal(found.weights[2], alone.normalised_weights())
    np.testing.assert_array_equal(found.where[2], alone.where(224))
    assert found.relative_errors[2] == alone.relative_error
    torch.testing.assert_close(
        found.pictures[2],
        direction_pictures(googlenet, "3a", found.reference.relative(found.weights[2]), settings, tmp_path),
    )
    assert found.reference.source == "the 4 images given"  # no shipped profile fits random weights
    assert found.contrast_labels == ["negative average", "positive average"]  # their midpoint is the reference mean
    assert len(found.contrast) == 2
    maps = [image_activation(googlenet, image, "3a") for image in images]
    given = explain_groups(googlenet, images, "3a", maps=maps, rank=2, settings=settings, cache_dir=tmp_path)
    torch.testing.assert_close(given.pictures, found.pictures, atol=0, rtol=0)
    assert given.contrast_labels == [] and len(given.contrast) == 0
    with pytest.raises(ProfileError, match="one image cannot be its own reference"):
        explain_groups(googlenet, images[:1], "3a", settings=settings, cache_dir=tmp_path)


def test_class_contrast_draws_the_difference_only_when_it_adds_a_picture(googlenet, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    factors = rng.random((6, 256))
    labels = [0, 0, 0, 1, 1, 1]
    profile = profile_from("3a", factors, factors, labels, ("negative", "positive"), "six")
    settings = AscentSettings(size=32, steps=2, batch_size=8)
    assert profile.class_means is not None
    mixed = draw_groups(
        googlenet, "3a", factors[:1], "specific", settings, profile, profile.class_means, cache_dir=tmp_path
    )
    assert mixed.contrast_labels == ["negative average", "positive average"] and len(mixed.contrast) == 2
    elsewhere = rng.random((2, 256))  # class means whose midpoint is not the reference's mean
    apart = draw_groups(googlenet, "3a", factors[:1], "specific", settings, profile, elsewhere, cache_dir=tmp_path)
    assert apart.contrast_labels[2:] == ["more in positive", "more in negative"] and len(apart.contrast) == 4


def test_spatial_cells_relative_to_typical_activation() -> None:
    pictures = torch.eye(3).view(3, 3, 1, 1).expand(3, 3, 2, 2)
    activation = torch.tensor([10.0, 1.0, 0.5]).view(3, 1, 1).expand(3, 1, 2).clone()
    plain = spatial_cells(pictures, activation, top_k=1)
    relative = spatial_cells(pictures, activation, top_k=1, typical=torch.tensor([100.0, 1.0, 1.0]))
    torch.testing.assert_close(plain[0, 0], pictures[0])  # channel 0 is the strongest
    torch.testing.assert_close(relative[0, 0], pictures[1])  # channel 1 is the most above its usual level
