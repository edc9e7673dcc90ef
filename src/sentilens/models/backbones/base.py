"""The interface every backbone answers: ordered stages, named blocks and input scaling.

A backbone is a plain :class:`torch.nn.Module` whose computation is an ordered sequence of
*stages* (stem convolutions, pooling layers and Inception blocks).  Some stages are *blocks*:
the Inception blocks that auxiliary heads and visualisations can attach to by name.  Running
a contiguous slice of stages (``start`` .. ``stop``) is what lets training cache the output
of frozen lower blocks and run only the trainable upper ones.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from sentilens.models.backbones.spec import BackboneSpec
from sentilens.utils.errors import SentilensError


class UnknownBlockError(SentilensError, ValueError):
    """A block (block) name that the backbone does not have."""


@dataclass
class BackboneOutput:
    """What one pass through a backbone yields.

    Attributes:
        final: output map of the last stage that ran.
        blocks: output map of each requested block, by name.
    """

    final: torch.Tensor
    blocks: dict[str, torch.Tensor] = field(default_factory=dict)


class Backbone(nn.Module):
    """Base class: subclasses declare their :class:`BackboneSpec` as ``spec`` and fill
    ``self.stages`` in execution order.

    The spec is the one definition of the metadata.  Every subclass also gets the spec's fields
    as class attributes under the names the rest of the package reads them by: ``name``,
    ``input_size``, ``block_names`` (the spec's ``blocks``), ``block_channels``,
    ``num_features`` and ``smallest_inputs`` (a test checks every entry with :meth:`reaches`).
    """

    spec: ClassVar[BackboneSpec]
    name: ClassVar[str]
    input_size: ClassVar[int]
    block_names: ClassVar[tuple[str, ...]]
    block_channels: ClassVar[Mapping[str, int]]
    num_features: ClassVar[int]
    smallest_inputs: ClassVar[Mapping[str, int]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.spec
        cls.name, cls.input_size, cls.num_features = spec.name, spec.input_size, spec.num_features
        cls.block_names, cls.block_channels = spec.blocks, spec.block_channels
        cls.smallest_inputs = spec.smallest_inputs

    def __init__(self) -> None:
        super().__init__()
        self.stages = nn.ModuleDict()

    @property
    def stage_names(self) -> list[str]:
        return list(self.stages.keys())

    @classmethod
    def check_blocks(cls, blocks: Sequence[str]) -> None:
        """Raise :class:`UnknownBlockError` naming the valid blocks if any name is unknown."""
        unknown = [t for t in blocks if t not in cls.block_names]
        if unknown:
            raise UnknownBlockError(
                f"unknown block(s) {', '.join(map(repr, unknown))} for backbone {cls.name!r}; "
                f"valid blocks: {', '.join(cls.block_names)}"
            )

    def stage_index(self, stage: str) -> int:
        """Position of a stage in execution order."""
        try:
            return self.stage_names.index(stage)
        except ValueError:
            raise UnknownBlockError(
                f"unknown stage {stage!r} for backbone {self.name!r}; valid stages: {', '.join(self.stage_names)}"
            ) from None

    @classmethod
    def smallest_input(cls, block: str) -> int:
        """The smallest square input side (px) that reaches ``block`` (from :attr:`smallest_inputs`)."""
        cls.check_blocks([block])
        return cls.smallest_inputs[block]

    def reaches(self, block: str, side: int) -> bool:
        """Whether a ``side`` x ``side`` input gets through to ``block``, by a shape-only pass on
        the meta device (no arithmetic, no copy of the weights)."""
        self.check_blocks([block])
        tensors = itertools.chain(self.parameters(), self.buffers())
        shapes_only = copy.deepcopy(self, {id(t): torch.empty_like(t, device="meta") for t in tensors}).eval()
        try:
            with torch.no_grad():
                shapes_only(torch.empty((1, 3, side, side), device="meta"), stop=block)
        except RuntimeError:
            return False
        return True

    def block_grids(self, side: int | None = None) -> dict[str, tuple[int, int]]:
        """Each block's spatial grid ``(m, n)`` for a ``side`` x ``side`` input (default the input
        size), by a shape-only pass on the meta device, as :meth:`reaches` does."""
        side = side or self.input_size
        tensors = itertools.chain(self.parameters(), self.buffers())
        shapes_only = copy.deepcopy(self, {id(t): torch.empty_like(t, device="meta") for t in tensors}).eval()
        with torch.no_grad():
            out = shapes_only(torch.empty((1, 3, side, side), device="meta"), blocks=self.block_names)
        return {block: (int(m.shape[2]), int(m.shape[3])) for block, m in out.blocks.items()}

    def input_stage_before(self, stage: str) -> str | None:
        """Name of the stage whose output feeds ``stage`` (None for the first stage)."""
        index = self.stage_index(stage)
        return self.stage_names[index - 1] if index > 0 else None

    @staticmethod
    def normalize(images: torch.Tensor) -> torch.Tensor:
        """Map RGB images in [0, 1] to the backbone's input range (the spec's ``input_range``,
        [-1, 1] for both ports; a test checks the two agree)."""
        return images * 2.0 - 1.0

    def forward(
        self,
        x: torch.Tensor,
        blocks: Sequence[str] = (),
        start: str | None = None,
        stop: str | None = None,
    ) -> BackboneOutput:
        """Run stages ``start`` .. ``stop`` (inclusive) and collect the requested blocks.

        Args:
            x: normalised images when ``start`` is None, else the input of stage ``start``
                (the output of the stage before it).
            blocks: block names whose outputs to return; each must lie in the slice that runs.
            start: first stage to run (default: the first stage).
            stop: last stage to run (default: the last stage).
        """
        self.check_blocks(blocks)
        names = self.stage_names
        first = self.stage_index(start) if start is not None else 0
        last = self.stage_index(stop) if stop is not None else len(names) - 1
        running = names[first : last + 1]
        missing = [t for t in blocks if t not in running]
        if missing:
            raise UnknownBlockError(
                f"block(s) {', '.join(missing)} are outside the stages run ({running[0]}..{running[-1]})"
            )
        wanted = set(blocks)
        collected: dict[str, torch.Tensor] = {}
        for stage_name in running:
            x = self.stages[stage_name](x)
            if stage_name in wanted:
                collected[stage_name] = x
        return BackboneOutput(final=x, blocks=collected)
