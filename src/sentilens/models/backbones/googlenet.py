"""torchvision's GoogLeNet (Inception v1), the paper's backbone, with a block on every Inception block.

Blocks are the paper's block names: 3a, 3b, 4a, 4b, 4c, 4d, 4e, 5a, 5b.  ImageNet weights come
through torchvision's own mechanism (its hub cache, or a download when online); offline, put
``googlenet-1378be20.pth`` in the hub cache or pass ``--weights FILE``.  torchvision's pretrained
GoogLeNet re-scales ImageNet-normalised input to [-1, 1] inside its forward; we run the stages
directly, so the backbone takes [-1, 1] input like the Inception-v3 port.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sentilens.models.backbones.base import Backbone
from sentilens.models.backbones.registry import register_backbone
from sentilens.models.backbones.spec import BackboneSpec
from sentilens.models.backbones.weights import WeightsUnavailableError, load_state_dict_file

#: Our stage names mapped to torchvision's module names, in execution order.
TORCHVISION_NAMES = {
    "conv1": "conv1",
    "pool1": "maxpool1",
    "conv2": "conv2",
    "conv3": "conv3",
    "pool2": "maxpool2",
    "3a": "inception3a",
    "3b": "inception3b",
    "pool3": "maxpool3",
    "4a": "inception4a",
    "4b": "inception4b",
    "4c": "inception4c",
    "4d": "inception4d",
    "4e": "inception4e",
    "pool4": "maxpool4",
    "5a": "inception5a",
    "5b": "inception5b",
}


class GoogLeNet(Backbone):
    """GoogLeNet trunk (no classifier, no auxiliary classifiers of its own)."""

    # fmt: off
    spec = BackboneSpec(
        name="googlenet",
        input_size=224,
        blocks=("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"),
        block_channels={
            "3a": 256, "3b": 480, "4a": 512, "4b": 512, "4c": 512,
            "4d": 528, "4e": 832, "5a": 832, "5b": 1024,
        },
        num_features=1024,
        default_aux_blocks=("4a", "4b", "4d"),  # the paper's choice
        smallest_inputs={"3a": 7, "3b": 7, "4a": 15, "4b": 15, "4c": 15, "4d": 15, "4e": 15, "5a": 15, "5b": 15},
        weights={
            "imagenet": "torchvision's IMAGENET1K_V1 (hub cache or download)",
            "none": "random initialisation",
        },
    )
    # fmt: on

    def __init__(self) -> None:
        super().__init__()
        # torchvision here, not at the top: registering the backbone must not cost its import (~1 s).
        from torchvision.models import googlenet as torchvision_googlenet

        reference = torchvision_googlenet(weights=None, aux_logits=False, init_weights=True)
        for ours, theirs in TORCHVISION_NAMES.items():
            self.stages[ours] = getattr(reference, theirs)


def convert_torchvision_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename torchvision GoogLeNet keys to ours, dropping its classifier and auxiliary heads."""
    to_ours = {theirs: ours for ours, theirs in TORCHVISION_NAMES.items()}
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        head, _, rest = key.partition(".")
        if key.startswith("stages."):
            converted[key] = tensor
        elif head in to_ours:
            converted[f"stages.{to_ours[head]}.{rest}"] = tensor
    return converted


def download_imagenet_state() -> dict[str, torch.Tensor]:
    """torchvision's ImageNet GoogLeNet weights from its cache, or downloaded when online."""
    from torchvision.models import GoogLeNet_Weights

    weights = GoogLeNet_Weights.IMAGENET1K_V1
    try:
        state: dict[str, torch.Tensor] = weights.get_state_dict(progress=True, check_hash=True)
        return state
    except Exception as error:  # URLError, OSError, hash mismatch: all mean "not available"
        hub_dir = Path(torch.hub.get_dir()) / "checkpoints"
        raise WeightsUnavailableError(
            f"torchvision's ImageNet GoogLeNet weights are not in its cache and could not be "
            f"downloaded ({error}). On a connected machine, download {weights.url} and copy it "
            f"to {hub_dir}/, or pass --weights FILE (a state dict), or --weights none for "
            "random initialisation."
        ) from error


@register_backbone(GoogLeNet)
def googlenet(weights: str | Path = "imagenet") -> GoogLeNet:
    """torchvision GoogLeNet; ``weights`` is "imagenet", "none" or a state-dict file."""
    model = GoogLeNet()
    if str(weights) == "none":
        return model
    state = download_imagenet_state() if str(weights) == "imagenet" else load_state_dict_file(Path(weights))
    model.load_state_dict(convert_torchvision_state(state))
    return model.eval()
