"""Grad-CAM and the spliced-image test on small inputs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sentilens.explain import ClassIndexError, grad_cam, matching_share, splice, spliced_test
from sentilens.models import SentimentModel, create_backbone
from sentilens.models.backbones import UnknownBlockError

from .helpers import tiny_model


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


def favouring(model: SentimentModel, favoured: int) -> SentimentModel:
    """A copy of ``model`` that predicts class ``favoured`` for every image.

    The random network's two main-head logits lie within 0.05 of each other and it predicts
    positive; for ``favoured=0`` the main head's rows are swapped first, so that the favoured class
    always has the direction whose map is not empty (at 5b the other class's map is 0 everywhere).
    """
    biased = copy.deepcopy(model)
    linear = biased.main_head.linear
    with torch.no_grad():
        if favoured == 0:
            linear.weight.copy_(linear.weight.flip(0))
            linear.bias.copy_(linear.bias.flip(0))
        linear.bias[favoured] += 5.0
    return biased


@pytest.mark.parametrize("favoured", [0, 1])
def test_default_target_is_the_fused_prediction(model: SentimentModel, images: torch.Tensor, favoured: int) -> None:
    biased = favouring(model, favoured)
    result = grad_cam(biased, images, "5b")
    assert list(result.targets) == [favoured, favoured]
    np.testing.assert_allclose(result.maps, grad_cam(biased, images, "5b", target=favoured).maps, atol=1e-6)
    assert not np.allclose(result.maps, grad_cam(biased, images, "5b", target=1 - favoured).maps, atol=1e-2)


@pytest.mark.parametrize("target", [0, 1])
def test_map_at_the_last_block_is_the_class_activation_map(target: int) -> None:
    """Above the last block only the main head (pooling, linear) reads the map, so Grad-CAM there is
    ReLU(sum_c (w_target,c - w_other,c) A_c) up to a positive factor: computed here by hand."""
    model = tiny_model(seed=3)
    images = torch.rand((3, 3, 32, 32), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        last = model.backbone(model.backbone.normalize(images), blocks=("c",)).blocks["c"]
    weights = model.main_head.linear.weight.detach()
    direction = weights[target] - weights[1 - target]
    cam = torch.einsum("c,nchw->nhw", direction, last).clamp_min(0)
    resized = F.interpolate(cam[:, None], size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    low = resized.amin(dim=(1, 2), keepdim=True)
    expected = (resized - low) / (resized.amax(dim=(1, 2), keepdim=True) - low)
    result = grad_cam(model, images, "c", target=target)
    np.testing.assert_allclose(result.maps, expected.numpy(), atol=2e-3)


def test_works_with_a_frozen_backbone(images: torch.Tensor) -> None:
    """Freezing the backbone (as frozen-mode training leaves it) does not change the map."""
    torch.manual_seed(0)
    trainable = SentimentModel(create_backbone("googlenet", "none"), ("4b",)).eval()
    frozen = copy.deepcopy(trainable)
    frozen.backbone.requires_grad_(False)
    expected = grad_cam(trainable, images[:1], "4b", target=1).maps
    assert expected.max() == pytest.approx(1.0, abs=0.01)  # a map, not an empty one
    np.testing.assert_allclose(grad_cam(frozen, images[:1], "4b", target=1).maps, expected, atol=1e-6)


def test_bad_class_and_block_are_named(model: SentimentModel, images: torch.Tensor) -> None:
    with pytest.raises(ClassIndexError, match="class index 2 .* 0..1"):
        grad_cam(model, images, "4b", target=2)
    with pytest.raises(UnknownBlockError, match="valid blocks: 3a, 3b, 4a"):
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


@pytest.mark.parametrize("favoured", [0, 1])
def test_spliced_test_reports_a_share_per_pair(model: SentimentModel, images: torch.Tensor, favoured: int) -> None:
    """The share is the map's mass on the predicted class's half: left for negative, right for positive."""
    biased = favouring(model, favoured)
    (result,) = spliced_test(biased, images[:1], images[1:])
    joined = splice(images[0], images[1])
    torch.testing.assert_close(result.image, joined)
    assert result.predicted == favoured
    np.testing.assert_allclose(result.probabilities, biased.predict_proba(joined[None])[0].numpy(), atol=1e-5)
    cam = grad_cam(biased, joined[None], "5b", target=favoured).maps[0]
    np.testing.assert_allclose(result.cam, cam, atol=1e-6)
    half = cam[:, 112:] if favoured == 1 else cam[:, :112]
    assert result.share == pytest.approx(half.sum() / cam.sum(), rel=1e-5)
