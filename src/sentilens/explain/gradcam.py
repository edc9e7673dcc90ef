"""Grad-CAM (Selvaraju et al. 2017) of the fused sentiment prediction at any block.

pytorch-grad-cam fits the model once it sees a single output: :class:`FusedLogProbabilities`
wraps a :class:`~sentilens.models.SentimentModel` so that its forward returns the log of the
fused class probabilities (the weighted vote of the main and auxiliary heads).  Its argmax is
the fused prediction, which is therefore the default target, and a class's gradient flows
through every head that lies above the chosen block.  The block's stage module is the target layer.
Maps are the library's: ReLU of the method's channel-weighted sum, resized to the input and
scaled to [0, 1] per image.

Every CAM method of the library that works from one forward and backward pass is offered
(:class:`CamMethod`); :func:`cam_maps` computes several methods at several blocks from one such
pass, each map with the library's own formula (``get_cam_image`` of that method), which is what
the faithfulness benchmark compares.  Score-CAM needs a forward pass per channel and is only
offered one map at a time, as is occlusion (:mod:`~sentilens.explain.occlusion`: one forward pass
per cell of the block's grid), which :func:`grad_cam` draws for ``method="occlusion"``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, ScoreCAM, XGradCAM
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from sentilens.explain.choices import DEFAULT_CAM_METHOD, CamMethod
from sentilens.explain.errors import check_class_index
from sentilens.explain.faithfulness import Explainer
from sentilens.explain.occlusion import occlusion
from sentilens.models import SentimentModel
from sentilens.models.backbones import Backbone


class FusedLogProbabilities(nn.Module):
    """``log p_fused(images)``: a one-output view of a multi-head sentiment model."""

    def __init__(self, model: SentimentModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, images01: torch.Tensor) -> torch.Tensor:
        return self.model.fuse(self.model(images01)).clamp_min(1e-12).log()


_CAM_CLASSES: dict[CamMethod, type[BaseCAM]] = {
    CamMethod.gradcam: GradCAM,
    CamMethod.gradcampp: GradCAMPlusPlus,
    CamMethod.hirescam: HiResCAM,
    CamMethod.xgradcam: XGradCAM,
    CamMethod.layercam: LayerCAM,
    CamMethod.eigencam: EigenCAM,
    CamMethod.scorecam: ScoreCAM,
}

#: The methods one forward and backward pass serves (all but Score-CAM and occlusion).
ONE_PASS_METHODS = tuple(m for m in CamMethod if m not in (CamMethod.scorecam, CamMethod.occlusion))

#: The block of that map per backbone, chosen by the same benchmark on the shipped recipe (whose
#: auxiliary head at 7a votes in the fused verdict); other backbones use their last block.
DEFAULT_CAM_BLOCKS = {"inception_v3": "7a"}


@contextmanager
def gradients_from(model: SentimentModel, blocks: Sequence[str]) -> Iterator[None]:
    """Backward passes stop at the lowest of ``blocks``: its output becomes a leaf that asks for
    gradients.  A map needs the gradients at its block only, so the layers below it are not
    differentiated, and a model whose backbone is frozen still has a gradient at the block.  The
    values are those of a backward pass to the input."""
    lowest = min(blocks, key=model.backbone.stage_index)

    def cut(_module: nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        return output.detach().requires_grad_(True)

    handle = model.backbone.stages[lowest].register_forward_hook(cut)
    try:
        yield
    finally:
        handle.remove()


def default_cam_block(backbone: Backbone) -> str:
    """The block whose map is drawn unless one is named."""
    return DEFAULT_CAM_BLOCKS.get(backbone.name, backbone.block_names[-1])


@dataclass
class GradCamResult:
    """Grad-CAM maps of a batch.

    Attributes:
        maps: ``(N, H, W)`` non-negative maps at the input's size, scaled to [0, 1] per image.
        targets: the class each map explains.
        probabilities: ``(N, num_classes)`` fused probabilities of the inputs.
    """

    maps: np.ndarray
    targets: np.ndarray
    probabilities: np.ndarray


def grad_cam(
    model: SentimentModel,
    images01: torch.Tensor,
    block: str,
    target: int | Sequence[int] | None = None,
    method: CamMethod | str = DEFAULT_CAM_METHOD,
) -> GradCamResult:
    """A class activation map (Grad-CAM unless ``method`` says otherwise) at ``block`` for images
    ``(N, 3, H, W)`` in [0, 1].

    Args:
        model: the sentiment model (its weights are not changed).
        images01: the input batch.
        block: block whose output map is explained (any of ``model.backbone.block_names``).
        target: class index to explain, for every image or one per image (e.g. the verdicts of a
            faster runtime); None explains each image's fused prediction.
        method: the pytorch-grad-cam method, or occlusion of the cells of the block's grid.
    """
    model.backbone.check_blocks([block])
    per_image = None if target is None else [target] * len(images01) if isinstance(target, int) else list(target)
    for index in per_image or []:
        check_class_index(index, model.num_classes)
    if CamMethod(method) == CamMethod.occlusion:
        return _occlusion(model, images01, block, per_image)
    wrapper = FusedLogProbabilities(model).eval()
    device = next(model.parameters()).device
    inputs = images01.detach().to(device)
    cam_class = _CAM_CLASSES[CamMethod(method)]
    with gradients_from(model, [block]), cam_class(model=wrapper, target_layers=[model.backbone.stages[block]]) as cam:
        targets = None if per_image is None else [ClassifierOutputTarget(index) for index in per_image]
        maps = cam(input_tensor=inputs, targets=targets)
        log_probabilities = cam.outputs.detach().cpu()
    model.zero_grad(set_to_none=True)
    probabilities = log_probabilities.exp().numpy()
    chosen = probabilities.argmax(axis=1) if per_image is None else np.asarray(per_image)
    return GradCamResult(maps=np.asarray(maps, dtype=np.float32), targets=chosen, probabilities=probabilities)


def block_grid(model: SentimentModel, block: str) -> tuple[int, int]:
    """The size (rows, columns) of ``block``'s map at the model's input size."""
    model.backbone.check_blocks([block])
    side = model.backbone.input_size
    with torch.no_grad():
        probe = torch.zeros((1, 3, side, side), device=next(model.parameters()).device)
        rows, columns = model.backbone(probe, blocks=(block,)).blocks[block].shape[-2:]
    return int(rows), int(columns)


def _occlusion(
    model: SentimentModel, images01: torch.Tensor, block: str, per_image: Sequence[int] | None
) -> GradCamResult:
    """Occlusion of the cells of ``block``'s grid as a :class:`GradCamResult` (its probabilities
    the uncalibrated fused ones, as the CAMs report them)."""
    inputs = images01.detach().to(next(model.parameters()).device)
    with torch.no_grad():
        probabilities = model.fuse(model.eval()(inputs)).cpu().numpy()
    chosen = probabilities.argmax(axis=1) if per_image is None else np.asarray(per_image)
    found = occlusion(model, inputs, block_grid(model, block), [int(c) for c in chosen])
    return GradCamResult(maps=found.maps, targets=chosen, probabilities=probabilities)


@dataclass
class CamMaps:
    """Maps of several methods at several blocks for one batch.

    Attributes:
        maps: ``(method, block) -> (N, H, W)`` maps scaled to [0, 1] per image, as :func:`grad_cam`.
        targets: the class each map explains.
        probabilities: ``(N, num_classes)`` fused probabilities of the inputs.
        grids: each block's map size (rows, columns) before resizing.
    """

    maps: dict[tuple[CamMethod, str], np.ndarray]
    targets: np.ndarray
    probabilities: np.ndarray
    grids: dict[str, tuple[int, int]]


def cam_maps(
    model: SentimentModel,
    images01: torch.Tensor,
    blocks: Sequence[str],
    methods: Sequence[CamMethod | str] = ONE_PASS_METHODS,
    target: int | None = None,
) -> CamMaps:
    """Every one-pass ``method`` at every ``block`` from one forward and backward pass.

    The pass records each block's activations and the gradients of the explained class's log fused
    probability; each method then turns them into a map with its own ``get_cam_image``, and the
    library's ReLU, resizing and per-image scaling finish it, exactly as a separate call of that method would.
    """
    model.backbone.check_blocks(blocks)
    chosen_methods = [CamMethod(m) for m in methods]
    if CamMethod.scorecam in chosen_methods or CamMethod.occlusion in chosen_methods:
        raise ValueError("Score-CAM and occlusion need a forward pass per channel or cell; use grad_cam(method=...)")
    if target is not None:
        check_class_index(target, model.num_classes)
    wrapper = FusedLogProbabilities(model).eval()
    device = next(model.parameters()).device
    inputs = images01.detach().to(device)
    # The library records activations in the order the forward pass meets the layers (and the
    # gradients in the same order), so the blocks are listed in that order.
    blocks = sorted(dict.fromkeys(blocks), key=model.backbone.stage_index)
    layers = [model.backbone.stages[block] for block in blocks]
    with gradients_from(model, blocks), GradCAM(model=wrapper, target_layers=layers) as recorder:
        recorder(
            input_tensor=inputs, targets=None if target is None else [ClassifierOutputTarget(target)] * len(inputs)
        )
        log_probabilities = recorder.outputs.detach().cpu()
        activations = [a.cpu().numpy() for a in recorder.activations_and_grads.activations]
        gradients = [g.cpu().numpy() for g in recorder.activations_and_grads.gradients]
    model.zero_grad(set_to_none=True)
    probabilities = log_probabilities.exp().numpy()
    chosen = probabilities.argmax(axis=1) if target is None else np.full(len(inputs), target)
    targets = [ClassifierOutputTarget(int(c)) for c in chosen]
    size = (inputs.shape[-1], inputs.shape[-2])
    maps: dict[tuple[CamMethod, str], np.ndarray] = {}
    for method in chosen_methods:
        with _CAM_CLASSES[method](model=wrapper, target_layers=layers) as cam:
            for block, layer, activation, gradient in zip(blocks, layers, activations, gradients):
                raw = cam.get_cam_image(inputs, layer, targets, activation, gradient, False)
                one_layer = scale_cam_image(np.maximum(raw, 0), size)
                maps[method, block] = np.asarray(scale_cam_image(np.maximum(one_layer, 0)), dtype=np.float32)
    grids = {block: (int(a.shape[-2]), int(a.shape[-1])) for block, a in zip(blocks, activations)}
    return CamMaps(maps=maps, targets=chosen, probabilities=probabilities, grids=grids)


def cam_explainer(model: SentimentModel, block: str, method: CamMethod | str = DEFAULT_CAM_METHOD) -> Explainer:
    """``method`` at ``block`` as an :class:`~sentilens.explain.faithfulness.Explainer` (named
    ``<method> <block>``) whose grid is the block's map size at the model's input size."""
    return Explainer(
        f"{CamMethod(method).value} {block}",
        lambda images: grad_cam(model, images, block, method=method).maps,
        block_grid(model, block),
    )
