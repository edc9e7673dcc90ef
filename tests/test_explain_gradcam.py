"""Grad-CAM and the spliced-image test on small inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentilens.explain import ClassIndexError, grad_cam, matching_share, splice, spliced_test
from sentilens.models import SentimentModel, create_backbone
from sentilens.models.backbones import UnknownTapError


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    torch.manual_seed(0)
    return SentimentModel(create_backbone("googlenet", "none"), ("4a", "4b", "4d")).eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand((2, 3, 224, 224), generator=torch.Generator().manual_seed(1))


def test_maps_are_non_negative_input_sized_and_class_specific(model: SentimentModel, images: torch.Tensor) -> None:
    negative = grad_cam(model, images, "4b", target=0)
    positive = grad_cam(model, images, "4b", target=1)
    for result in (negative, positive):
        assert result.maps.shape == (2, 224, 224)
        assert (result.maps >= 0).all()
        np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.abs(negative.maps - positive.maps).mean() > 1e-3
    assert list(negative.targets) == [0, 0] and list(positive.targets) == [1, 1]


def test_default_target_is_the_fused_prediction(model: SentimentModel, images: torch.Tensor) -> None:
    result = grad_cam(model, images, "5b")
    expected = model.predict_proba(images).argmax(dim=1).numpy()
    assert list(result.targets) == list(expected)


def test_works_with_a_frozen_backbone(images: torch.Tensor) -> None:
    torch.manual_seed(0)
    frozen = SentimentModel(create_backbone("googlenet", "none"), ("4b",)).eval()
    frozen.backbone.requires_grad_(False)
    result = grad_cam(frozen, images[:1], "4b", target=1)
    assert result.maps.max() > 0


def test_bad_class_and_tap_are_named(model: SentimentModel, images: torch.Tensor) -> None:
    with pytest.raises(ClassIndexError, match="class index 2 .* 0..1"):
        grad_cam(model, images, "4b", target=2)
    with pytest.raises(UnknownTapError, match="valid taps: 3a, 3b, 4a"):
        grad_cam(model, images, "6e")


def test_splice_layouts_keep_each_half() -> None:
    left = torch.zeros((3, 8, 8), dtype=torch.uint8)
    right = torch.full((3, 8, 8), 200, dtype=torch.uint8)
    for layout in ("squash", "crop"):
        joined = splice(left, right, layout)
        assert joined.shape == (3, 8, 8) and joined.dtype == torch.uint8
        assert (joined[..., :3] == 0).all() and (joined[..., 5:] == 200).all()
    with pytest.raises(ValueError, match="layout"):
        splice(left, right, "stack")


def test_matching_share() -> None:
    cam = np.zeros((4, 4))
    cam[:, 2:] = 1.0
    assert matching_share(cam, predicted=1, left_label=0, right_label=1) == 1.0
    assert matching_share(cam, predicted=0, left_label=0, right_label=1) == 0.0
    assert matching_share(np.zeros((4, 4)), 1, 0, 1) == 0.5


def test_spliced_test_reports_a_share_per_pair(model: SentimentModel, images: torch.Tensor) -> None:
    results = spliced_test(model, images[:1], images[1:])
    (result,) = results
    assert 0.0 <= result.share <= 1.0
    assert result.cam.shape == (224, 224)
    assert result.predicted == int(np.argmax(result.probabilities))
