"""One function per explanation task: compute, then write PNG and ``.npy`` files.

These are what ``sentilens explain ...`` calls, and the convenient Python entry points; the
computations themselves are in :mod:`sentilens.explain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sentilens.app.groups import write_reference
from sentilens.data import LabelledImages, expand_inputs, load_view, to_unit_range
from sentilens.explain import (
    DEFAULT_CAM_METHOD,
    STRONGEST_K,
    AscentSettings,
    CamMethod,
    ChannelPictureCache,
    ChannelPictures,
    ContrastSource,
    GroupRendering,
    SpatialRendering,
    check_ascent_size,
    check_class_index,
    check_rank,
    convergence_note,
    default_cam_block,
    explain_groups,
    grad_cam,
    image_activation,
    matching_profile,
    spatial_cells,
    spliced_test,
    tile,
    visualise_channels,
)
from sentilens.models import SentimentModel
from sentilens.reports import save_gradcam, save_group_figure, save_picture_grid, save_spatial, save_splice
from sentilens.utils import Say, quiet


@dataclass
class Written:
    """Files a task wrote, and numbers worth printing (by file or by name)."""

    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _images(paths: Sequence[Path], size: int) -> torch.Tensor:
    return to_unit_range(torch.stack([load_view(p, size) for p in paths]))


def run_gradcam(
    model: SentimentModel,
    class_names: Sequence[str],
    inputs: Sequence[str | Path],
    block: str | None,
    out: str | Path,
    target: int | None = None,
    batch_size: int = 8,
    method: CamMethod | str = DEFAULT_CAM_METHOD,
) -> Written:
    """Grad-CAM overlays (``<stem>-gradcam-<block>-<class>.png``) and maps (``.npy``) for files and
    folders; ``block`` None means the default block (:func:`~sentilens.explain.default_cam_block`);
    ``method`` another CAM method
    (``<stem>-<method>-<block>-<class>``)."""
    block = block or default_cam_block(model.backbone)
    model.backbone.check_blocks([block])
    if target is not None:
        check_class_index(target, len(class_names))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = Written()
    paths = expand_inputs(inputs)
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        images = _images(chunk, model.backbone.input_size)
        result = grad_cam(model, images, block, target, method)
        for path, image, cam, chosen, probabilities in zip(
            chunk, images, result.maps, result.targets, result.probabilities
        ):
            stem = out / f"{Path(path).stem}-{CamMethod(method).value}-{block}-{class_names[chosen]}"
            np.save(stem.with_suffix(".npy"), cam)
            title = f"{block}: {class_names[chosen]} (p = {probabilities[chosen]:.2f})"
            written.files.append(save_gradcam(stem.with_suffix(".png"), image, cam, title))
            written.notes.append(f"{path}: {class_names[chosen]} p={probabilities[chosen]:.3f}")
    return written


def block_pictures(
    model: SentimentModel, block: str, settings: AscentSettings, cache_dir: str | Path | None = None
) -> ChannelPictures:
    """Pictures of every channel of ``block``, from the channel cache or computed and cached."""
    return ChannelPictureCache(cache_dir).block_pictures(model.backbone, block, settings)


def run_channels(
    model: SentimentModel,
    block: str,
    out: str | Path,
    settings: AscentSettings,
    channels: Sequence[int] | None = None,
    cache_dir: str | Path | None = None,
) -> Written:
    """Channel pictures of ``block``: all channels (cached) or the chosen ones (not cached).

    Writes ``channels-<block>.png`` (a grid) and ``channels-<block>.npy`` ``(K, 3, s, s)``, plus
    ``channels-<block>-activation.npy`` (start and final activation of each channel).
    """
    model.backbone.check_blocks([block])
    pictures = (
        block_pictures(model, block, settings, cache_dir)
        if channels is None
        else visualise_channels(model.backbone, block, channels, settings)
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / f"channels-{block}.npy", pictures.pictures.numpy())
    np.save(
        out / f"channels-{block}-activation.npy",
        torch.stack([pictures.start_activation, pictures.final_activation]).numpy(),
    )
    labels = [str(int(c)) for c in pictures.channels]
    png = save_picture_grid(
        out / f"channels-{block}.png",
        pictures.pictures,
        labels,
        title=f"{model.backbone.name} {block}: activation maximisation ({pictures.settings.mode})",
    )
    gain = (pictures.final_activation / pictures.start_activation.clamp_min(1e-6)).median()
    return Written(
        [png, out / f"channels-{block}.npy"], [f"{len(labels)} channels; median activation gain {float(gain):.1f}x"]
    )


def _small(pictures: torch.Tensor, side: int) -> torch.Tensor:
    if pictures.shape[-1] == side:
        return pictures
    return F.interpolate(pictures, size=(side, side), mode="bilinear", align_corners=False, antialias=True)


def run_spatial(
    model: SentimentModel,
    image: str | Path,
    block: str,
    out: str | Path,
    settings: AscentSettings,
    cache_dir: str | Path | None = None,
    cell_size: int = 32,
    top_k: int | None = None,
    rendering: SpatialRendering | str = SpatialRendering.strongest,
    reference: str | Path | None = None,
) -> Written:
    """Eq. (3) grid for one image: ``<stem>-spatial-<block>.png`` and the cells as ``.npy``.

    ``strongest`` (default) keeps the ``top_k`` (default 3) channels per cell that are most
    active there relative to their mean over the reference set (the shipped profile or
    ``reference``; without one, relative to nothing: the plain strongest channels); ``paper``
    combines all channels (eq. 3), or the ``top_k`` strongest when given.
    """
    model.backbone.check_blocks([block])
    rendering = SpatialRendering(rendering)
    settings = settings.resolved(model.backbone)
    check_ascent_size(model.backbone, settings, [block])
    view = _images([Path(image)], model.backbone.input_size)[0]
    activation = image_activation(model.backbone, view, block)
    typical, how = None, "all channels (eq. 3)" if top_k is None else f"the {top_k} strongest channels"
    if rendering == SpatialRendering.strongest:
        top_k = top_k or STRONGEST_K
        profile = matching_profile(model.backbone, block, reference)
        how = f"the {top_k} strongest channels (no reference profile fits these weights)"
        if profile is not None and profile.activation is not None:
            typical = torch.from_numpy(profile.activation)
            how = f"the {top_k} channels most active relative to their mean over {profile.source}"
    pictures = _small(block_pictures(model, block, settings, cache_dir).pictures, cell_size)
    cells = spatial_cells(pictures, activation, top_k, typical)
    stem = Path(out) / f"{Path(image).stem}-spatial-{block}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    np.save(stem.with_suffix(".npy"), cells.numpy())
    rows, columns = activation.shape[1:]
    png = save_spatial(stem.with_suffix(".png"), view, tile(cells), f"{block}: {rows}x{columns} locations")
    return Written([png, stem.with_suffix(".npy")], [f"cells combine {how}"])


def run_groups(
    model: SentimentModel,
    negatives: Sequence[str | Path],
    positives: Sequence[str | Path],
    blocks: Sequence[str],
    out: str | Path,
    settings: AscentSettings,
    rank: int = 1,
    cache_dir: str | Path | None = None,
    rendering: GroupRendering | str = GroupRendering.specific,
    reference: str | Path | None = None,
) -> Written:
    """Eq. (4)-(5) for negative and positive images on each block: ``groups-<block>.png`` and ``.npy``.

    Per block the figure shows, for every image, where each of its ``rank`` groups fires (``U``) and
    the group's picture, then the class contrast of the images given: their mean group per class,
    and the difference when it is not already what the two averages show
    (:func:`~sentilens.explain.draw_groups`).  ``groups-<block>.npy`` holds the pictures ``(images, r, 3, s, s)``
    (negatives first) and ``groups-<block>-where.npy`` the maps ``U`` ``(images, r, m, n)``; the
    relative reconstruction error of each factorisation is in ``groups-errors.csv``.
    """
    model.backbone.check_blocks(blocks)
    check_rank(rank)
    rendering = GroupRendering(rendering)
    check_ascent_size(model.backbone, settings, blocks)
    negative_paths, positive_paths = expand_inputs(negatives), expand_inputs(positives)
    paths = [*negative_paths, *positive_paths]
    images = _images(paths, model.backbone.input_size)
    labels = [0] * len(negative_paths) + [1] * len(positive_paths)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = Written()
    lines = ["block,image,relative_error"]
    every = []
    for block in blocks:
        found = explain_groups(
            model.backbone,
            images,
            block,
            rank=rank,
            seed=settings.seed,
            rendering=rendering,
            settings=settings,
            reference=reference,
            labels=labels,
            contrast=ContrastSource.images,
            cache_dir=cache_dir,
        )
        every += found.groups
        lines += [f"{block},{p.name},{error:.4f}" for p, error in zip(paths, found.relative_errors)]
        np.save(out / f"groups-{block}.npy", found.pictures.numpy())
        np.save(out / f"groups-{block}-where.npy", np.stack([g.spatial for g in found.groups]))
        png = save_group_figure(
            out / f"groups-{block}.png",
            images,
            list(found.where),
            found.pictures,
            [f"{'neg' if label == 0 else 'pos'}: {p.name}" for p, label in zip(paths, labels)],
            list(zip(found.contrast_labels, found.contrast)),
            f"{model.backbone.name} {block}: neuron groups (r = {rank}, {rendering} rendering; "
            f"reference: {found.reference.source})",
            stretch=rendering == GroupRendering.paper,
        )
        written.files += [png, out / f"groups-{block}.npy", out / f"groups-{block}-where.npy"]
        written.notes.append(
            f"{block}: mean relative reconstruction error {np.mean(found.relative_errors):.3f} (r = {rank})"
        )
    note = convergence_note(every)
    written.notes += [note] if note else []
    (out / "groups-errors.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.files.insert(0, out / "groups-errors.csv")
    return written


def run_reference(
    model: SentimentModel,
    dataset: LabelledImages,
    out: str | Path,
    blocks: Sequence[str] | None = None,
    say: Say = quiet,
) -> Written:
    """The reference profile of every block over ``dataset``, written to ``out`` (``.npz``)."""
    path = write_reference(model.backbone, dataset, out, blocks, say)
    return Written(
        [path], [f"reference profiles of {len(blocks or model.backbone.block_names)} blocks over {dataset.name}"]
    )


def run_splice(
    model: SentimentModel,
    class_names: Sequence[str],
    negative: str | Path,
    positive: str | Path,
    out: str | Path,
    block: str | None = None,
    layout: str = "squash",
) -> Written:
    """The spliced-image test for one negative and one positive image: PNG, map ``.npy`` and share."""
    size = model.backbone.input_size
    if block is not None:
        model.backbone.check_blocks([block])
    images = _images([Path(negative), Path(positive)], size)
    (result,) = spliced_test(model, images[:1], images[1:], block, layout)
    stem = Path(out) / f"splice-{Path(negative).stem}-{Path(positive).stem}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    np.save(stem.with_suffix(".npy"), result.cam)
    png = save_splice(stem.with_suffix(".png"), result.image, result.cam, class_names[result.predicted], result.share)
    return Written(
        [png, stem.with_suffix(".npy")],
        [f"predicted {class_names[result.predicted]}; matching share {result.share:.3f}"],
    )
