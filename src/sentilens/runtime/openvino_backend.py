"""The OpenVINO runtime: the network converted once to OpenVINO, in float32 or quantised to int8.

A :class:`~sentilens.models.SentimentModel` is wrapped so that it takes the uint8 images the
loader decodes and returns plain tensors (the main head, then each auxiliary head in the order of
``model.blocks``), converted with ``openvino.convert_model`` (batch norm folded first) and, for int8,
quantised by NNCF's post-training quantisation on a calibration set.  Both results are cached on
disk under ``cache_root("runtime")`` keyed by the model's digest, the OpenVINO (and NNCF) version,
the precision and the calibration set (a :class:`~sentilens.utils.disk_cache.DiskCache`), so conversion
(~40 s for Inception-v3 on two cores) and quantisation (~30 s more) are paid once per model.

Calibration: NNCF reads the range of every activation on a calibration set.  By default it is a
fixed set of crops of the sample photos that ship with scikit-image (:func:`default_calibration`),
so the int8 network of a model is the same on every machine, whatever it classifies first, and is
built once per model; ``calibration=`` (``--calibration PATH``) uses the user's images instead,
for instance the model's training folder.  BENCHMARKS.md ("Runtimes") measures the label
agreement of both with the float32 network.

OpenVINO and NNCF are imported inside the functions that need them, so the torch runtime works
without them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from sentilens.data.decoding import load_or_reason
from sentilens.data.images import decode_image
from sentilens.data.sample_photos import sample_images
from sentilens.models import HeadLogits, SentimentModel
from sentilens.models.backbones import Backbone
from sentilens.runtime.choice import Precision
from sentilens.runtime.openvino_cache import (
    CACHE_FORMAT,
    CLOSE_CALLS,
    MODEL_FILES,
    compile_network,
    network_versions,
    read_network,
)
from sentilens.runtime.torch_backend import inference_copy
from sentilens.utils.cache import cache_root
from sentilens.utils.disk_cache import CachedFolder, DiskCache
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.hashing import file_digest, json_digest, tensors_digest
from sentilens.utils.logs import library_output
from sentilens.utils.progress import Say, quiet

#: Images NNCF calibrates on (its own default subset size is 300; 128 keep quantisation near 30 s).
CALIBRATION_SIZE = 128
#: The converted nodes of a model's companion network (named after the module path ``model.companion``).
COMPANION_NODES = r".*\.companion[./].*"
#: What int8 quantisation leaves in float32 (see :func:`_quantise`); part of the int8 cache key.
FLOAT32_NODES = {"types": ["MatMul"], "patterns": [COMPANION_NODES]}


class HeadsAsTuple(nn.Module):
    """uint8 images ``(N, 3, S, S)`` in, each vote's logits out: ``(main, *aux in model.blocks
    order, companion if the model has one)`` (:func:`logits_from_tuple` reads them back)."""

    def __init__(self, model: nn.Module, blocks: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.blocks = tuple(blocks)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits = self.model(images.float() / 255.0)
        companion = () if logits.companion is None else (logits.companion,)
        return (logits.main, *(logits.aux[block] for block in self.blocks), *companion)


def logits_from_tuple(outputs: Sequence[torch.Tensor], blocks: Sequence[str], companion: bool) -> HeadLogits:
    """The :class:`~sentilens.models.HeadLogits` of a :class:`HeadsAsTuple` network's outputs."""
    aux = dict(zip(blocks, outputs[1 : 1 + len(blocks)], strict=True))
    return HeadLogits(outputs[0], aux, outputs[1 + len(blocks)] if companion else None)


class PooledFeatures(nn.Module):
    """uint8 images in, the global average of every block's map and of the final map out (in that order):
    the frozen features that training in frozen mode reads (:mod:`sentilens.training.frozen_pass`)."""

    def __init__(
        self, backbone: nn.Module, blocks: Sequence[str], normalize: Callable[[torch.Tensor], torch.Tensor]
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.blocks = tuple(blocks)
        self.normalize = normalize

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.backbone(self.normalize(images.float() / 255.0), blocks=self.blocks)
        return (*(out.blocks[block].mean(dim=(2, 3)) for block in self.blocks), out.final.mean(dim=(2, 3)))


@dataclass(frozen=True)
class Convertible:
    """A network to convert: uint8 images ``(N, 3, size, size)`` in, a tuple of tensors out.

    Attributes:
        kind: what it outputs (``heads`` or ``pooled``), part of the cache key.
        name: the backbone's name, for the cache entry's name.
        digest: SHA-256 of what it computes (names, sizes and every tensor).
        size: the input side.
        module: builds the (eval-mode, batch-norm folded) module to convert.
        fuse: for ``heads``, the model's fused class probabilities from the outputs, by which the
            int8 close-call margin is measured (see :func:`_quantise`).
    """

    kind: str
    name: str
    digest: str
    size: int
    module: Callable[[], nn.Module]
    fuse: Callable[[list[torch.Tensor]], torch.Tensor] | None = None


def heads_of(model: SentimentModel) -> Convertible:
    """The whole model: every head's logits, main first, then the blocks in ``model.blocks`` order."""
    backbone = model.backbone
    companion = model.companion is not None
    prefix = f"{backbone.name}:{backbone.input_size}:{','.join(model.blocks)}:{model.aux_weights}:"
    if companion:
        prefix += f"companion {model.companion_weight}:"

    def fuse(outputs: list[torch.Tensor]) -> torch.Tensor:
        return model.fuse(logits_from_tuple(outputs, model.blocks, companion))

    return Convertible(
        "heads",
        backbone.name,
        tensors_digest(model.state_dict(), prefix=prefix),
        backbone.input_size,
        lambda: HeadsAsTuple(inference_copy(model, channels_last=False).cpu(), model.blocks),
        fuse,
    )


def pooled_features_of(backbone: Backbone) -> Convertible:
    """The backbone alone: pooled features of every block, then of the final map."""
    return Convertible(
        "pooled",
        backbone.name,
        tensors_digest(backbone.state_dict(), prefix=f"{backbone.name}:{backbone.input_size}:"),
        backbone.input_size,
        lambda: PooledFeatures(
            inference_copy(backbone, channels_last=False).cpu(), backbone.block_names, backbone.normalize
        ),
    )


@dataclass(frozen=True)
class Calibration:
    """The images NNCF calibrates int8 on.

    Attributes:
        paths: image files.
        crops: False: one centre crop of each file (up to :data:`CALIBRATION_SIZE` files, evenly
            spread); True: :data:`CALIBRATION_SIZE` seeded random square crops, half of them
            mirrored, cycling over the files (for a handful of photos).
        name: how the set is described in the cache key and in messages.
    """

    paths: tuple[Path, ...]
    crops: bool
    name: str

    def key(self) -> dict[str, Any]:
        """What identifies the set: its kind and the SHA-256 of every file's bytes."""
        return {
            "name": self.name,
            "crops": self.crops,
            "size": CALIBRATION_SIZE,
            "files": json_digest(sorted(file_digest(p) for p in self.paths)),
        }

    def images(self, size: int) -> list[torch.Tensor]:
        """The calibration images as uint8 ``(1, 3, size, size)`` tensors (undecodable files left out)."""
        if self.crops:
            return _random_crops(self.paths, size, CALIBRATION_SIZE)
        paths = self.paths
        if len(paths) > CALIBRATION_SIZE:
            paths = tuple(paths[int(i)] for i in np.linspace(0, len(paths) - 1, CALIBRATION_SIZE))
        decoded = [load_or_reason(p, size) for p in paths]
        images = [image[None] for image in decoded if isinstance(image, torch.Tensor)]
        if not images:
            raise InvalidArgumentError(f"none of the {len(paths)} calibration images could be decoded")
        return images


def default_calibration() -> Calibration:
    """Seeded crops of the six sample photos (scikit-image's), the same on every machine."""
    return Calibration(tuple(sample_images()), crops=True, name="sample photos, random crops")


def user_calibration(paths: Sequence[Path]) -> Calibration:
    """Centre crops of the user's images (up to :data:`CALIBRATION_SIZE`, evenly spread)."""
    if not paths:
        raise InvalidArgumentError("the calibration set holds no image files")
    return Calibration(tuple(sorted(Path(p) for p in paths)), crops=False, name=f"{len(paths)} given images")


def _random_crops(paths: Sequence[Path], size: int, count: int) -> list[torch.Tensor]:
    """``count`` seeded square crops (half to full of the short side), half of them mirrored."""
    rng = random.Random(0)
    photos = [decode_image(p) for p in paths]
    crops = []
    for index in range(count):
        photo = photos[index % len(photos)]
        width, height = photo.size
        side = int(min(width, height) * rng.uniform(0.5, 1.0))
        left, top = rng.randint(0, width - side), rng.randint(0, height - side)
        crop = photo.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        crops.append(torch.from_numpy(np.asarray(crop, dtype=np.uint8).copy()).permute(2, 0, 1)[None])
    return crops


def _convert(network: Convertible, folder: Path) -> None:
    """Write the float32 OpenVINO network of ``network`` into ``folder``."""
    import openvino

    size = network.size
    wrapped = network.module().eval()
    example = torch.zeros((1, 3, size, size), dtype=torch.uint8)
    with torch.no_grad(), library_output():
        converted = openvino.convert_model(
            wrapped, example_input=example, input=[(openvino.PartialShape([-1, 3, size, size]), openvino.Type.u8)]
        )
    openvino.save_model(converted, folder / MODEL_FILES[0], compress_to_fp16=False)


def _quantise(
    fp32_network: Any,
    images: list[torch.Tensor],
    folder: Path,
    fuse: Callable[[list[torch.Tensor]], torch.Tensor] | None,
) -> None:
    """Write NNCF's int8 quantisation of ``fp32_network`` calibrated on ``images`` into ``folder``.

    The heads' matrix products stay in float32: they cost nothing next to the convolutions, and
    on Twitter I that took the one-view labels that differ from float32 from 15 to 13 of 1,269.
    A companion network (:data:`COMPANION_NODES`) stays in float32 too: in int8 EfficientNet-Lite0's
    vote moved by 0.034 on average (0.19 at most) on 40 Twitter I images, against none in float32,
    for a tenth more network time (BENCHMARKS.md, "The shipped model with a companion").
    For a network of heads (``fuse`` given), ``close_calls.json`` records the largest difference
    between its int8 and float32 fused class probabilities over the calibration images: the margin
    within which :class:`~sentilens.runtime.Predictor` re-checks a verdict in float32.
    """
    import nncf
    import openvino

    with library_output():  # NNCF's progress bars and INFO lines: the caller has said one line
        quantised = nncf.quantize(
            fp32_network,
            nncf.Dataset([image.numpy() for image in images]),
            subset_size=len(images),
            ignored_scope=nncf.IgnoredScope(**FLOAT32_NODES, validate=False),
        )
    openvino.save_model(quantised, folder / MODEL_FILES[0], compress_to_fp16=False)
    if fuse is not None:
        error = _largest_probability_difference(fp32_network, quantised, torch.cat(images), fuse)
        (folder / CLOSE_CALLS).write_text(json.dumps({"margin": error, "images": len(images)}), encoding="utf-8")


def _largest_probability_difference(
    fp32_network: Any, int8_network: Any, images: torch.Tensor, fuse: Callable[[list[torch.Tensor]], torch.Tensor]
) -> float:
    """Largest |int8 - float32| of the fused class probabilities over ``images``."""
    fused = []
    for network, precision in ((fp32_network, Precision.fp32), (int8_network, Precision.int8)):
        request = compile_network(network, precision).create_infer_request()
        parts = []
        for batch in images.split(16):
            outputs = request.infer(batch.numpy())
            parts.append(fuse([torch.from_numpy(outputs[i].copy()) for i in range(len(outputs))]))
        fused.append(torch.cat(parts))
    return float((fused[1] - fused[0]).abs().max())


@dataclass
class BuiltNetwork:
    """A network read from the cache: the OpenVINO model, its cache entry, and the int8 close-call margin."""

    model: Any
    entry: str
    margin: float | None = None
    float32_entry: str = ""  # the float32 network's entry (that of an int8 network's source)


def _built(files: CachedFolder, float32_entry: str) -> BuiltNetwork:
    notes = files.contents.get(CLOSE_CALLS)
    margin = float(json.loads(notes)["margin"]) if notes is not None else None
    return BuiltNetwork(read_network(files.contents), str(files.path), margin, float32_entry)


def openvino_network(
    network: Convertible, precision: str, calibration: Calibration | None = None, say: Say = quiet
) -> BuiltNetwork:
    """The OpenVINO network of ``network`` at ``precision`` (``fp32``, ``bf16`` or ``int8``), from the
    cache or built into it.  ``bf16`` is the float32 network compiled with OpenVINO's bfloat16 hint
    (:func:`compile_network`)."""
    if precision not in (Precision.fp32, Precision.bf16, Precision.int8):
        raise InvalidArgumentError(f"the openvino runtime runs fp32, bf16 or int8, not {precision!r}")
    root = cache_root("runtime")
    cache = DiskCache(root, CACHE_FORMAT, say)
    digest, versions = network.digest, network_versions()
    fp32_key = {"network": network.kind, "model": digest, "precision": "fp32", **versions}
    fp32_name = f"{network.name}-{network.kind}-{digest[:16]}-openvino-fp32-{json_digest(fp32_key)[:8]}"

    def convert(folder: Path) -> None:
        say(f"converting the network to OpenVINO once (about a minute); cached in {root}")
        _convert(network, folder)

    def fp32() -> CachedFolder:
        return cache.folder(fp32_name, fp32_key, convert)

    if precision != Precision.int8:
        return _built(fp32(), str(root / fp32_name))

    chosen = calibration or default_calibration()
    int8_key = {**fp32_key, "precision": "int8", "calibration": chosen.key(), "float32_nodes": FLOAT32_NODES}
    int8_name = f"{network.name}-{network.kind}-{digest[:16]}-openvino-int8-{json_digest(int8_key)[:8]}"

    def quantise(folder: Path) -> None:
        # The float32 entry is read (and verified) only here: a cached int8 network does not need it.
        float32 = fp32()
        say(f"quantising the network to int8 once on {chosen.name} (about a minute); cached in {root}")
        _quantise(read_network(float32.contents), chosen.images(network.size), folder, network.fuse)

    return _built(cache.folder(int8_name, int8_key, quantise), str(root / fp32_name))


class OpenVinoNetwork:
    """uint8 images in, :class:`~sentilens.models.HeadLogits` out, through a compiled OpenVINO network.

    ``margin`` (int8 only) is the largest difference between the int8 and the float32 fused class
    probabilities seen on the calibration images.

    Args:
        model: the trained model (left untouched; its cached conversion is reused).
        precision: ``fp32``, ``bf16`` (OpenVINO's bfloat16 hint, native on AVX-512 BF16 / AMX) or ``int8``.
        calibration: the int8 calibration set (default :func:`default_calibration`).
        threads: inference threads (None: OpenVINO's choice, every core).
        say: receives one line before a slow, one-off conversion or quantisation.
    """

    def __init__(
        self,
        model: SentimentModel,
        precision: str,
        calibration: Calibration | None = None,
        threads: int | None = None,
        say: Say = quiet,
    ) -> None:
        built = openvino_network(heads_of(model), precision, calibration, say)
        self.cache_entry, self.margin, self.float32_entry = built.entry, built.margin, built.float32_entry
        self.request = compile_network(built.model, precision, threads).create_infer_request()
        self.blocks = model.blocks
        self.companion = model.companion is not None

    def __call__(self, images: torch.Tensor) -> HeadLogits:
        """Logits of every head (and of the companion) for uint8 images ``(N, 3, S, S)``."""
        outputs = self.request.infer(images.contiguous().numpy())
        count = 1 + len(self.blocks) + self.companion
        return logits_from_tuple(
            [torch.from_numpy(outputs[i].copy()) for i in range(count)], self.blocks, self.companion
        )


class OpenVinoFeatures:
    """uint8 images in, the pooled features of every block and of the final map (``"final"``) out.

    The frozen pass of training (:func:`sentilens.training.frozen_pass.run_frozen` with every block)
    through OpenVINO; same arguments as :class:`OpenVinoNetwork`, for a backbone.
    """

    def __init__(
        self, backbone: Backbone, precision: str, calibration: Calibration | None = None, say: Say = quiet
    ) -> None:
        built = openvino_network(pooled_features_of(backbone), precision, calibration, say)
        self.cache_entry = built.entry
        self.request = compile_network(built.model, precision).create_infer_request()
        self.names = (*backbone.block_names, "final")

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = self.request.infer(images.contiguous().numpy())
        return {name: torch.from_numpy(outputs[index].copy()) for index, name in enumerate(self.names)}
