"""One function per explanation task: compute, then write PNG and ``.npy`` files.

These are what ``sentilens explain ...`` calls, and the convenient Python entry points; the
computations themselves are in :mod:`sentilens.explain`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sentilens.app.classifier import SentimentClassifier
from sentilens.app.groups import write_reference
from sentilens.data import (
    ImageDecodeError,
    LabelledImages,
    OnError,
    find_images,
    load_or_reason,
    load_view,
    to_unit_range,
)
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
from sentilens.runtime import Prediction, RunSettings, Skipped
from sentilens.utils import Say, quiet


@dataclass
class Written:
    """Files a task wrote, and numbers worth printing (by file or by name); for a task that reads
    images, how many it processed and the inputs it skipped (in input order, with the reason)."""

    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    processed: int | None = None  # None: the task reads no images


def _images(paths: Sequence[Path], size: int) -> torch.Tensor:
    return to_unit_range(torch.stack([load_view(p, size) for p in paths]))


def _decoded(
    paths: Sequence[Path], size: int, on_error: OnError | str
) -> tuple[list[Path], torch.Tensor | None, list[Skipped]]:
    """The images of ``paths`` that decode (as one batch in [0, 1]) and those that do not, with
    the reason; with ``on_error="fail"`` the first that does not raises, naming it."""
    kept: list[Path] = []
    views: list[torch.Tensor] = []
    skipped: list[Skipped] = []
    for path in paths:
        view = load_or_reason(path, size)
        if isinstance(view, str):
            if OnError(on_error) is OnError.fail:
                raise ImageDecodeError(view)
            skipped.append(Skipped(path, view))
        else:
            kept.append(path)
            views.append(view)
    return kept, to_unit_range(torch.stack(views)) if views else None, skipped


def write_skipped(skipped: Sequence[Skipped], path: Path) -> Path | None:
    """List the skipped inputs (``file,reason``, input order) in ``path``; with none, remove an
    earlier run's list so that the folder never shows stale skips."""
    if not skipped:
        path.unlink(missing_ok=True)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["file", "reason"])
        writer.writerows([str(item.path), item.reason] for item in skipped)
    return path


def _class_probability(prediction: Prediction, index: int, class_names: Sequence[str]) -> float:
    """A prediction's fused probability of class ``index`` (two classes: positive is index 1)."""
    if class_names[index] == prediction.label:
        return prediction.probability
    return prediction.positive_probability if index == 1 else 1.0 - prediction.positive_probability


def run_gradcam(
    classifier: SentimentClassifier,
    inputs: Sequence[str | Path],
    block: str | None,
    out: str | Path,
    target: int | None = None,
    run: RunSettings = RunSettings(),
    on_error: OnError | str = OnError.skip,
    say: Say = quiet,
    batch_size: int = 8,
    method: CamMethod | str = DEFAULT_CAM_METHOD,
) -> Written:
    """Grad-CAM overlays (``<stem>-gradcam-<block>-<class>.png``; another CAM ``method``:
    ``<stem>-<method>-<block>-<class>``) and maps (``.npy``) for files, folders and listings;
    ``block`` None means the default block (:func:`~sentilens.explain.default_cam_block`).

    One verdict per image: the label and probability shown are what ``predict`` returns with the
    same ``run`` settings (the same predictor), and the map explains that label (or ``target``).
    The map itself comes from a float32 torch pass of the centre crop (gradients need one); where
    that pass's probability differs at the shown precision, the figure says so.  Undecodable
    inputs are skipped (listed in ``gradcam-skipped.csv``) or, with ``on_error="fail"``, raise.
    """
    model, class_names = classifier.model, classifier.class_names
    block = block or default_cam_block(model.backbone)
    model.backbone.check_blocks([block])
    if target is not None:
        check_class_index(target, len(class_names))
    paths = find_images(inputs)
    predictor = classifier.predictor(run, say)
    say(f"runtime: {predictor.choice}")
    predictions, skipped = predictor(paths, OnError(on_error))
    how = f"{predictor.choice.runtime} {predictor.choice.precision}, {'+'.join(predictor.views)}"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = Written(skipped=skipped, processed=len(predictions))
    for start in range(0, len(predictions), batch_size):
        chunk = predictions[start : start + batch_size]
        images = _images([p.path for p in chunk], model.backbone.input_size)
        chosen = [target if target is not None else class_names.index(p.label) for p in chunk]
        result = grad_cam(model, images, block, chosen, method)
        calibrated = model.calibrate(torch.from_numpy(result.probabilities)).numpy()  # as predict reports them
        for prediction, image, cam, index, own in zip(chunk, images, result.maps, chosen, calibrated):
            shown = _class_probability(prediction, index, class_names)
            stem = out / f"{prediction.path.stem}-{CamMethod(method).value}-{block}-{class_names[index]}"
            np.save(stem.with_suffix(".npy"), cam)
            title = f"{block}: {class_names[index]} (p = {shown:.3f}; {how})"
            if f"{float(own[index]):.3f}" != f"{shown:.3f}":
                title += f"\nmap from the fp32 torch pass of the centre crop, p = {float(own[index]):.3f}"
            written.files.append(save_gradcam(stem.with_suffix(".png"), image, cam, title))
            written.notes.append(f"{prediction.path}: {class_names[index]} p={shown:.3f}")
    listed = write_skipped(skipped, out / "gradcam-skipped.csv")
    written.files += [listed] if listed else []
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
    on_error: OnError | str = OnError.skip,
) -> Written:
    """Eq. (3) grid for one image: ``<stem>-spatial-<block>.png`` and the cells as ``.npy``; an
    image that cannot be decoded is skipped (listed in ``spatial-skipped.csv``, nothing drawn) or,
    with ``on_error="fail"``, raises.

    ``strongest`` (default) keeps the ``top_k`` (default 3) channels per cell that are most
    active there relative to their mean over the reference set (the shipped profile or
    ``reference``; without one, relative to nothing: the plain strongest channels); ``paper``
    combines all channels (eq. 3), or the ``top_k`` strongest when given.
    """
    model.backbone.check_blocks([block])
    rendering = SpatialRendering(rendering)
    settings = settings.resolved(model.backbone)
    check_ascent_size(model.backbone, settings, [block])
    _, views, skipped = _decoded([Path(image)], model.backbone.input_size, on_error)
    listed = write_skipped(skipped, Path(out) / "spatial-skipped.csv")
    if views is None:
        return Written(files=[listed] if listed else [], skipped=skipped, processed=0)
    view = views[0]
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
    return Written([png, stem.with_suffix(".npy")], [f"cells combine {how}"], processed=1)


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
    on_error: OnError | str = OnError.skip,
) -> Written:
    """Eq. (4)-(5) for negative and positive images on each block: ``groups-<block>.png`` and ``.npy``.

    Undecodable images are skipped (listed in ``groups-skipped.csv``) or, with ``on_error="fail"``,
    raise; when either class keeps no image, nothing is drawn (``processed`` is 0).

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
    size = model.backbone.input_size
    negative_paths, negative_images, negative_skipped = _decoded(find_images(negatives), size, on_error)
    positive_paths, positive_images, positive_skipped = _decoded(find_images(positives), size, on_error)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    skipped = [*negative_skipped, *positive_skipped]
    listed = write_skipped(skipped, out / "groups-skipped.csv")
    written = Written(files=[listed] if listed else [], skipped=skipped, processed=0)
    if negative_images is None or positive_images is None:
        return written  # a class without one decodable image: nothing to contrast, nothing processed
    paths = [*negative_paths, *positive_paths]
    images = torch.cat([negative_images, positive_images])
    labels = [0] * len(negative_paths) + [1] * len(positive_paths)
    written.processed = len(paths)
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
    on_error: OnError | str = OnError.skip,
) -> Written:
    """The spliced-image test for one negative and one positive image: PNG, map ``.npy`` and share;
    when either cannot be decoded it is skipped (listed in ``splice-skipped.csv``, nothing drawn)
    or, with ``on_error="fail"``, raises."""
    size = model.backbone.input_size
    if block is not None:
        model.backbone.check_blocks([block])
    _, decoded, skipped = _decoded([Path(negative), Path(positive)], size, on_error)
    listed = write_skipped(skipped, Path(out) / "splice-skipped.csv")
    if decoded is None or len(decoded) < 2:
        return Written(files=[listed] if listed else [], skipped=skipped, processed=0)
    images = decoded
    (result,) = spliced_test(model, images[:1], images[1:], block, layout)
    stem = Path(out) / f"splice-{Path(negative).stem}-{Path(positive).stem}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    np.save(stem.with_suffix(".npy"), result.cam)
    png = save_splice(stem.with_suffix(".png"), result.image, result.cam, class_names[result.predicted], result.share)
    return Written(
        [png, stem.with_suffix(".npy")],
        [f"predicted {class_names[result.predicted]}; matching share {result.share:.3f}"],
        processed=1,
    )
