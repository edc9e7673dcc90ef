"""Choose how the network runs on this machine: precision, memory format and inference folding.

CPU inference is fastest here with three cheap changes that do not alter what the model computes
beyond rounding: channels-last memory format (oneDNN's native layout for convolutions), batch
norm folded into the preceding convolution (one pass over each feature map instead of two), and
bfloat16 autocast where the CPU has native bfloat16 instructions (AVX-512 BF16 or AMX).  Without
them bfloat16 is emulated and slower than float32, so ``auto`` falls back to float32.

A fourth, :func:`compiled_copy`, trades a one-off compilation for the rest: TorchInductor with
the weights frozen into the graph pre-packs every convolution's weights for oneDNN once, fuses
each convolution with its ReLU and the element-wise work between convolutions, where eager mode
re-lays out (and under autocast re-casts) each weight on every call.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from sentilens.models import HeadLogits
from sentilens.runtime.choice import Precision, torch_precision
from sentilens.utils.errors import InvalidArgumentError


def resolve_precision(precision: str, device: torch.device | str = "cpu") -> str:
    """``fp32`` or ``bf16`` for the torch runtime; ``auto`` picks bf16 where ``device`` runs it natively."""
    if precision not in tuple(Precision):
        raise InvalidArgumentError(f"precision must be one of {', '.join(Precision)}, got {precision!r}")
    return str(torch_precision(precision, torch.device(device)))


def autocast(precision: str, device: torch.device | str) -> torch.autocast:
    """bfloat16 autocast when ``precision="bf16"``, otherwise a disabled context."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16")


def fold_batch_norm(module: nn.Module) -> nn.Module:
    """Fold every ``conv`` + ``bn`` pair (our ConvBN, torchvision's BasicConv2d) in place.

    The batch norm's inference affine map is merged into the convolution's weight and bias and
    the batch norm becomes an identity.  Only valid in eval mode; use on a copy.
    """
    for child in module.modules():
        conv, bn = getattr(child, "conv", None), getattr(child, "bn", None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            child.conv = fuse_conv_bn_eval(conv, bn)
            child.bn = nn.Identity()
    return module


def inference_copy(model: nn.Module, channels_last: bool = True, fold: bool = True) -> nn.Module:
    """An eval-mode copy of ``model`` prepared for fast inference (the original is untouched)."""
    fast = copy.deepcopy(model).eval()
    if fold:
        fold_batch_norm(fast)
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)
    return fast


class _FrozenCompiled(nn.Module):
    """A ``torch.compile``d module whose compilations run with inductor's freezing switched on.

    ``torch.compile(..., options={"freezing": True})`` does not reach inductor's freezing pass
    in torch 2.14 (the generated code still reads the weights as inputs), so the setting is
    patched in around every call instead: compilation happens inside the call that needs it,
    and the patch leaves the process-wide configuration as it was.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.compiled = torch.compile(module)

    def forward(self, *args: object) -> object:
        import torch._inductor.config as inductor_config

        with inductor_config.patch(freezing=True):
            return self.compiled(*args)


def compiled_copy(model: nn.Module, channels_last: bool = True) -> nn.Module:
    """:func:`inference_copy` compiled by TorchInductor with its weights frozen as constants.

    Frozen weights let inductor pre-pack every convolution's weights for oneDNN once and fuse
    each convolution with the ReLU after it.  The first call of each input shape compiles (a minute
    or two on a CPU; inductor caches the result on disk, so later processes start faster) and
    needs a C++ compiler.  Call it under the same :func:`autocast` every time: a different
    precision or shape compiles again.
    """
    return _FrozenCompiled(inference_copy(model, channels_last))


def to_memory_format(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``images`` in channels-last layout when asked (4-D tensors only), else unchanged."""
    if channels_last and images.dim() == 4:
        return images.contiguous(memory_format=torch.channels_last)
    return images


class TorchNetwork:
    """uint8 images in, float32 :class:`~sentilens.models.HeadLogits` out, through torch.

    Args:
        model: the trained model (left untouched unless ``channels_last`` is False).
        precision: ``fp32`` or ``bf16`` (autocast).
        channels_last: run an inference copy (batch norm folded) in channels-last layout; False
            runs ``model`` itself as it is (the plain path).
        compiled: run :func:`compiled_copy`; batches shorter than ``pad_to`` are padded to it so
            that one compiled shape serves every call.
        pad_to: the batch size of the compiled shape.
    """

    def __init__(
        self, model: nn.Module, precision: str, channels_last: bool = True, compiled: bool = False, pad_to: int = 1
    ) -> None:
        self.device = next(model.parameters()).device
        self.precision = precision
        self.channels_last = channels_last
        self.pad_to = pad_to if compiled else 0
        if compiled:
            self.net = compiled_copy(model, channels_last)
        else:
            self.net = inference_copy(model) if channels_last else model.eval()

    def __call__(self, images: torch.Tensor) -> HeadLogits:
        """Logits of every head for uint8 images ``(N, 3, S, S)``."""
        count = len(images)
        if count < self.pad_to:
            images = torch.cat([images, images.new_zeros((self.pad_to - count, *images.shape[1:]))])
        batch = to_memory_format(images.to(self.device).float().div_(255.0), self.channels_last)
        with autocast(self.precision, self.device):
            logits = self.net(batch)
        result: HeadLogits = logits.apply(lambda values: values[:count].float())
        return result
