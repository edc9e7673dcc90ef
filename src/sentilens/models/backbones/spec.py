"""What a backbone is, readable without building it: one frozen spec per backbone.

Like timm's ``pretrained_cfg`` and ``feature_info`` (and torchvision's weight metadata), each
backbone class declares a :class:`BackboneSpec` as its ``spec``: the input it expects, its named
blocks in network order with their channels, the blocks that get auxiliary heads by default and
the weights it can start from.  Reading ``backbone_spec(name)`` imports the backbone's module but
builds no network, so commands that only need to know sizes and block names stay instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sentilens.utils.errors import InvalidArgumentError


@dataclass(frozen=True)
class BackboneSpec:
    """The metadata of one backbone; a test checks every field against a built network.

    Attributes:
        name: registry name.
        input_size: side (px) of the square input image the weights expect.
        blocks: names of the blocks (the Inception blocks, also called blocks) in network order.
        block_channels: channel count of each block's output map.
        num_features: channel count of the final map (the pooled feature size).
        default_aux_blocks: blocks that get auxiliary heads when none are named.
        smallest_inputs: the smallest square input side (px) whose forward pass reaches each
            block (smaller inputs shrink a map below a kernel), so that bad sizes are refused
            before any work.
        weights: the named weight choices and what each one loads; besides these names, a
            backbone accepts the path of a state-dict file.
        input_range: the pixel range the network takes, which ``Backbone.normalize`` maps
            RGB values in [0, 1] to.
    """

    name: str
    input_size: int
    blocks: tuple[str, ...]
    block_channels: Mapping[str, int]
    num_features: int
    default_aux_blocks: tuple[str, ...]
    smallest_inputs: Mapping[str, int]
    weights: Mapping[str, str]
    input_range: tuple[float, float] = (-1.0, 1.0)

    def __post_init__(self) -> None:
        for label, mapping in (("block_channels", self.block_channels), ("smallest_inputs", self.smallest_inputs)):
            if set(mapping) != set(self.blocks):
                raise InvalidArgumentError(f"{self.name}: {label} must name exactly the blocks {list(self.blocks)}")
        strays = [block for block in self.default_aux_blocks if block not in self.blocks]
        if strays:
            raise InvalidArgumentError(f"{self.name}: default auxiliary blocks {strays} are not blocks")
        # Read-only views: a spec is shared by every caller and must not be edited through one.
        object.__setattr__(self, "block_channels", MappingProxyType(dict(self.block_channels)))
        object.__setattr__(self, "smallest_inputs", MappingProxyType(dict(self.smallest_inputs)))
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))
