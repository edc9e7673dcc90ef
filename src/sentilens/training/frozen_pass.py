"""Run the frozen part of the backbone once per image view and keep what training needs.

Fine-tuning from block B never recomputes blocks below B: their output (the input of B) is
computed once for the centre view and once for the mirror view and kept in memory, together with
the pooled outputs of frozen blocks.  In frozen mode nothing of the backbone trains, so only pooled
vectors are kept (final map and blocks), for every view asked for (see
:data:`sentilens.data.images.VIEW_NAMES`), and the heads train on those.  The frozen pass is pure
inference, so it runs in channels-last layout (oneDNN's fast path on CPUs).

``recompute=True`` keeps the decoded views instead and runs the frozen blocks again in every
training step: the slow reference that the kept outputs must match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sentilens.data.images import to_unit_range, views_of
from sentilens.models.backbones import Backbone
from sentilens.runtime.torch_backend import to_memory_format
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.progress import track

#: The views a frozen pass keeps by default: the centre crop and its mirror image (the paper's flip).
VIEWS = ("centre", "mirror")
FINAL = "final"


@dataclass
class FrozenOutputs:
    """Per-view inputs of the first trainable stage and pooled frozen features.

    Attributes:
        boundary: first trainable stage; None when the whole backbone is frozen.
        inputs: view -> input of ``boundary`` for every image (uint8 images when the boundary is
            the first stage); empty when frozen.
        pooled: view -> name -> ``(N, C)`` pooled outputs of blocks below the boundary, and of
            the final map (key ``"final"``) when frozen.
        recompute: ``inputs`` hold the decoded uint8 views and ``pooled`` is empty; every
            forward pass runs the frozen blocks again (see :func:`run_frozen`).
    """

    boundary: str | None
    inputs: dict[str, torch.Tensor]
    pooled: dict[str, dict[str, torch.Tensor]]
    recompute: bool = False

    def __len__(self) -> int:
        first = next(iter(self.pooled.values()), {})
        if self.inputs:
            return len(next(iter(self.inputs.values())))
        return len(next(iter(first.values())))

    def to(self, device: torch.device | str) -> FrozenOutputs:
        """The same outputs with every tensor on ``device``."""
        return FrozenOutputs(
            self.boundary,
            {v: t.to(device) for v, t in self.inputs.items()},
            {v: {k: t.to(device) for k, t in d.items()} for v, d in self.pooled.items()},
            self.recompute,
        )

    def only(self, names: Sequence[str], views: Sequence[str]) -> FrozenOutputs:
        """The same outputs with just the pooled ``names`` (those it has) of ``views``: training then
        gathers only what the model reads (a frozen pass keeps every block of every view)."""
        return FrozenOutputs(
            self.boundary,
            {v: t for v, t in self.inputs.items() if v in views},
            {v: {k: t for k, t in d.items() if k in names} for v, d in self.pooled.items() if v in views},
            self.recompute,
        )

    def select(
        self, view_per_sample: torch.Tensor, indices: torch.Tensor, views: Sequence[str] = VIEWS
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """Gather samples ``indices``, sample ``i`` from view ``views[view_per_sample[i]]``."""
        missing = [v for v in views if v not in (self.inputs or self.pooled)]
        if missing:
            raise InvalidArgumentError(f"these frozen outputs hold no view {', '.join(missing)}")

        def pick(by_view: dict[str, torch.Tensor]) -> torch.Tensor:
            chosen = by_view[views[0]][indices].clone()
            for number, view in enumerate(views[1:], start=1):
                rows = (view_per_sample == number).nonzero().flatten()
                chosen[rows] = by_view[view][indices[rows]]
            return chosen

        inputs = pick(self.inputs) if self.inputs else None
        names = self.pooled[views[0]]
        pooled = {name: pick({v: self.pooled[v][name] for v in views}) for name in names}
        return inputs, pooled

    def view(self, view: str, indices: torch.Tensor) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """Samples ``indices`` of one named view."""
        inputs = self.inputs[view][indices] if self.inputs else None
        return inputs, {name: values[indices] for name, values in self.pooled[view].items()}


def frozen_stop(backbone: Backbone, boundary: str | None) -> str:
    """Last frozen stage: the one before ``boundary`` (the last stage when all are frozen)."""
    names = backbone.stage_names
    return names[backbone.stage_index(boundary) - 1] if boundary is not None else names[-1]


@torch.no_grad()
def run_frozen(
    backbone: Backbone,
    images: torch.Tensor,
    blocks: Sequence[str],
    boundary: str | None,
    channels_last: bool = True,
) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
    """The frozen stages on uint8 ``images``: the input of ``boundary`` and the pooled frozen blocks.

    Returns ``(x, pooled)``: ``x`` is the output of the last frozen stage (None when frozen, the
    images themselves when the boundary is the first stage); ``pooled`` maps each block below
    the boundary, and ``"final"`` when frozen, to its float32 ``(N, C)`` global average.
    """
    if boundary is not None and boundary == backbone.stage_names[0]:
        return images, {}
    stop = frozen_stop(backbone, boundary)
    running = backbone.stage_names[: backbone.stage_index(stop) + 1]
    frozen_blocks = [t for t in blocks if t in running]
    x = to_memory_format(backbone.normalize(to_unit_range(images)), channels_last)
    out = backbone(x, blocks=frozen_blocks, stop=stop)
    pooled = {block: out.blocks[block].mean(dim=(2, 3)).float() for block in frozen_blocks}
    if boundary is None:
        pooled[FINAL] = out.final.mean(dim=(2, 3)).float()
        return None, pooled
    return out.final, pooled


@torch.no_grad()
def run_frozen_pass(
    backbone: Backbone,
    images: torch.Tensor,
    blocks: Sequence[str],
    boundary: str | None,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    recompute: bool = False,
    views: Sequence[str] = VIEWS,
) -> FrozenOutputs:
    """Run the frozen stages once over uint8 ``images`` ``(N, 3, S, S)``.

    Args:
        backbone: the (pretrained) backbone; only stages below ``boundary`` run.
        images: decoded centre crops at the backbone's input size.
        blocks: auxiliary-head blocks; those below the boundary are pooled and kept.
        boundary: first trainable stage, or None to keep everything pooled (frozen mode).
        batch_size: images per forward pass.
        device: where the frozen stages run; the outputs are kept on the CPU.
        dtype: storage type of kept maps (pooled vectors stay float32).
        recompute: keep only the decoded views; training reruns the frozen stages each step.
        views: the views to compute (names of :func:`~sentilens.data.images.views_of`).
    """
    names = backbone.stage_names
    if recompute or (boundary is not None and boundary == names[0]):
        return FrozenOutputs(boundary, dict(zip(views, views_of(images, views))), {v: {} for v in views}, recompute)
    backbone = backbone.to(device).eval()
    inputs: dict[str, list[torch.Tensor]] = {v: [] for v in views}
    pooled: dict[str, dict[str, list[torch.Tensor]]] = {v: {} for v in views}
    starts = range(0, len(images), batch_size)
    for start in track(starts, total=len(starts), description="running frozen blocks"):
        batch = images[start : start + batch_size].to(device)
        for view, view_batch in zip(views, views_of(batch, views)):
            x, view_pooled = run_frozen(backbone, view_batch, blocks, boundary)
            for name, values in view_pooled.items():
                pooled[view].setdefault(name, []).append(values.cpu())
            if x is not None:
                inputs[view].append(x.to(dtype).contiguous().cpu())
    return FrozenOutputs(
        boundary=boundary,
        inputs={v: torch.cat(parts) for v, parts in inputs.items() if parts},
        pooled={v: {name: torch.cat(parts) for name, parts in by_name.items()} for v, by_name in pooled.items()},
    )
