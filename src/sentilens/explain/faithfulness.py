"""How faithful a saliency map is to the model: deletion and insertion (Petsiuk et al. 2018), ROAD.

A map ranks the pixels of an image.  *Deletion* removes the top-ranked pixels in ``steps`` equal
portions (replacing them by a blurred copy of the image, or by its mean colour) and records the
explained class's *fused* probability (the model's verdict, eq. 4) after each portion; *insertion*
starts from the fully removed image and puts the top-ranked pixels back.  The area under each
curve (x from 0 to 1, trapezoids) is the score: a faithful map has a low deletion and a high
insertion AUC.  Scores mean little alone, so every map is measured against orders that know
nothing of the model: random cells of the map's own grid (the fair baseline for a map of a
coarse block), random pixels, centre first and border first.

ROAD (Rong et al. 2022) removes the most (or least) relevant pixels at several percentiles and
fills them by noisy linear imputation, which leaks less of the removed shape than a blur; it is
pytorch-grad-cam's implementation, applied to the fused probability.

Anything that maps images to saliency maps can be measured: an :class:`Explainer` names a map
function and the grid its maps come from (Grad-CAM at a block, the neuron group's "where" map,
a probe map of ``inspect``).  :func:`~sentilens.utils.bootstrap.bootstrap` gives percentile intervals of means and of
ratios of paired means, seeded so that a rerun gives the same interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import torch
import torchvision.transforms.functional as TF
from pytorch_grad_cam.metrics.road import ROADLeastRelevantFirstAverage, ROADMostRelevantFirstAverage
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from sentilens.explain.choices import DEFAULT_STEPS, Fill
from sentilens.utils.bootstrap import bootstrap
from sentilens.utils.errors import InvalidArgumentError

#: Maps images ``(N, 3, H, W)`` in [0, 1] to saliency maps ``(N, H, W)`` (higher = more relevant).
MapFunction = Callable[[torch.Tensor], np.ndarray]

#: Standard deviation (px, at 299 px) of the blur that fills removed pixels: fine texture is gone,
#: the layout of colours stays, so a removed region is not an out-of-distribution grey hole.
BLUR_SIGMA = 10.0
#: Percentiles of ROAD's most/least-relevant-first averages (the library's default set).
ROAD_PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)


class Baseline(StrEnum):
    """Orders of the pixels that know nothing of the model."""

    random_cells = "random-cells"
    random_pixels = "random-pixels"
    centre = "centre-first"
    border = "border-first"


@dataclass(frozen=True)
class Explainer:
    """A map to measure: its name, the function drawing it and the grid its values come from.

    ``grid`` (rows, columns) is the resolution of the map before it was resized to the input
    (a block's map size); the random-cells baseline shuffles cells of this grid.
    """

    name: str
    maps: MapFunction
    grid: tuple[int, int]


class Verdict(Protocol):
    """What is measured: class probabilities of images in [0, 1]; a
    :class:`~sentilens.models.SentimentModel` gives its fused probabilities (eq. 4)."""

    def predict_proba(self, images: torch.Tensor) -> torch.Tensor: ...


class FusedProbabilities(nn.Module):
    """``p_fused(images)``: the model's verdict as one module output (what ROAD's targets read)."""

    def __init__(self, model: Verdict) -> None:
        super().__init__()
        self.verdict = model

    def forward(self, images01: torch.Tensor) -> torch.Tensor:
        return self.verdict.predict_proba(images01)


def filled(images: torch.Tensor, fill: Fill | str, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """The images with every pixel removed: a Gaussian blur (σ scaled with the image side from
    299 px) or each image's mean colour."""
    if Fill(fill) == Fill.mean:
        return images.mean(dim=(2, 3), keepdim=True).expand_as(images).clone()
    scaled = max(sigma * images.shape[-1] / 299.0, 0.5)
    kernel = 2 * int(3 * scaled) + 1
    blurred: torch.Tensor = TF.gaussian_blur(images, [kernel, kernel], [scaled, scaled])
    return blurred


def ranks(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each pixel's place ``(H, W)`` in the order, 0 = most relevant; ties in random order."""
    flat = scores.reshape(-1)
    order = np.lexsort((rng.random(flat.size), -flat))
    place = np.empty(flat.size, dtype=np.int64)
    place[order] = np.arange(flat.size)
    return place.reshape(scores.shape)


def random_cells(shape: tuple[int, int], grid: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Scores that order the cells of ``grid`` at random, constant within a cell (nearest resize)."""
    rows = (np.arange(shape[0]) * grid[0]) // shape[0]
    columns = (np.arange(shape[1]) * grid[1]) // shape[1]
    return rng.random(grid)[rows[:, None], columns[None, :]]


def distance_from_centre(shape: tuple[int, int]) -> np.ndarray:
    """Euclidean distance of each pixel from the image centre, in pixels."""
    rows = np.arange(shape[0]) - (shape[0] - 1) / 2
    columns = np.arange(shape[1]) - (shape[1] - 1) / 2
    distance: np.ndarray = np.hypot(rows[:, None], columns[None, :])
    return distance


def baseline_scores(
    baseline: Baseline | str, shape: tuple[int, int], grid: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """Scores ``(H, W)`` of a baseline order (higher = removed first)."""
    baseline = Baseline(baseline)
    if baseline == Baseline.random_cells:
        return random_cells(shape, grid, rng)
    if baseline == Baseline.random_pixels:
        return rng.random(shape)
    distance = distance_from_centre(shape)
    return -distance if baseline == Baseline.centre else distance


def curve_masks(place: np.ndarray, steps: int) -> np.ndarray:
    """``(steps - 1, H, W)`` masks of the top ``k / steps`` of pixels for ``k = 1 .. steps - 1``
    (``k = 0`` and ``k = steps`` are the same for every order)."""
    counts = np.round(np.arange(1, steps) / steps * place.size).astype(np.int64)
    return place[None] < counts[:, None, None]


def area(curve: np.ndarray) -> float:
    """Area under ``curve`` sampled at equal steps over [0, 1] (trapezoids)."""
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def ideal_step_areas(original: float, removed: float, steps: int) -> dict[str, float]:
    """The deletion and insertion AUC of an order whose first portion of pixels moves the verdict
    all the way (to the fully removed image's probability, or back to the intact one's) and whose
    later portions change nothing: what a perfect map reaches unless partly removed images move
    the verdict further than removing everything.  It bounds how far any map can beat random
    orders on an image whose intact and removed probabilities are close."""
    deletion = np.full(steps + 1, removed)
    deletion[0] = original
    insertion = np.full(steps + 1, original)
    insertion[0] = removed
    return {"deletion": area(deletion), "insertion": area(insertion)}


@torch.no_grad()
def class_probability(model: Verdict, images: torch.Tensor, target: int, batch_size: int) -> np.ndarray:
    """Fused probability of class ``target`` for each image, ``batch_size`` images at a time."""
    out = [model.predict_proba(images[i : i + batch_size])[:, target] for i in range(0, len(images), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


@dataclass
class Curves:
    """Deletion and insertion curves ``(steps + 1,)`` of each order of one image."""

    deletion: dict[str, np.ndarray]
    insertion: dict[str, np.ndarray]


def perturbation_curves(
    model: Verdict,
    image: torch.Tensor,
    target: int,
    orders: dict[str, np.ndarray],
    fill: Fill | str = Fill.blur,
    steps: int = DEFAULT_STEPS,
    rng: np.random.Generator | None = None,
    batch_size: int = 32,
) -> Curves:
    """Deletion and insertion curves of ``image`` ``(3, H, W)`` for each order's scores ``(H, W)``.

    Every perturbed image of every order goes through the model in batches: 2 shared images (the
    original, the fully removed one) plus ``2 (steps - 1)`` per order.
    """
    if steps < 2:
        raise InvalidArgumentError(f"steps must be at least 2, got {steps}")
    rng = rng or np.random.default_rng(0)
    removed = filled(image[None], fill)[0]
    batch = [image, removed]
    for scores in orders.values():
        masks = torch.from_numpy(curve_masks(ranks(scores, rng), steps))[:, None].to(image.dtype)
        batch += list(image * (1 - masks) + removed * masks)  # deletion: the top portion removed
        batch += list(removed * (1 - masks) + image * masks)  # insertion: the top portion revealed
    probabilities = class_probability(model, torch.stack(batch), target, batch_size)
    original, empty = probabilities[:2]
    deletion, insertion = {}, {}
    for i, name in enumerate(orders):
        start = 2 + 2 * i * (steps - 1)
        middle_del = probabilities[start : start + steps - 1]
        middle_ins = probabilities[start + steps - 1 : start + 2 * (steps - 1)]
        deletion[name] = np.concatenate([[original], middle_del, [empty]])
        insertion[name] = np.concatenate([[empty], middle_ins, [original]])
    return Curves(deletion, insertion)


def road_scores(
    model: Verdict,
    images: torch.Tensor,
    maps: np.ndarray,
    targets: Sequence[int],
    percentiles: Sequence[int] = ROAD_PERCENTILES,
) -> dict[str, np.ndarray]:
    """pytorch-grad-cam's ROAD on the fused probability: the mean change of the explained class's
    probability when the most (``road-morf``, lower = more faithful) or least (``road-lerf``,
    nearer 0 = more faithful) relevant pixels are imputed, over ``percentiles``."""
    wrapper = FusedProbabilities(model).eval()
    classes = [ClassifierOutputTarget(int(t)) for t in targets]
    cams = np.asarray(maps, dtype=np.float32)
    with torch.no_grad():
        morf = ROADMostRelevantFirstAverage(list(percentiles))(images, cams, classes, wrapper)
        lerf = ROADLeastRelevantFirstAverage(list(percentiles))(images, cams, classes, wrapper)
    return {"road-morf": np.asarray(morf, dtype=np.float64), "road-lerf": np.asarray(lerf, dtype=np.float64)}


@dataclass
class ImageFaithfulness:
    """The scores of one image: the explained class, its fused probability, and per order (the
    explainers' names and the baselines') the deletion and insertion AUC; ROAD when measured."""

    name: str
    target: int
    probability: float
    deletion: dict[str, float]
    insertion: dict[str, float]
    road: dict[str, dict[str, float]] = field(default_factory=dict)
    removed_probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "probability": self.probability,
            "removed_probability": self.removed_probability,
            "deletion": self.deletion,
            "insertion": self.insertion,
            "road": self.road,
        }


@dataclass
class FaithfulnessReport:
    """Per-image scores and their aggregates with bootstrap intervals.

    ``summary()`` gives, per order, the mean deletion and insertion AUC with intervals, and per
    explainer the paired ratios to each baseline (deletion ratio below 1 and insertion ratio above
    1 = better than that baseline); with the removed images' probabilities recorded, also the
    ideal step's areas (:func:`ideal_step_areas`) and their paired ratios to each baseline.
    """

    images: list[ImageFaithfulness]
    explainers: list[str]
    baselines: list[str]
    fill: str
    steps: int
    seed: int

    def values(self, kind: str, order: str) -> np.ndarray:
        """Each image's ``kind`` (``deletion`` or ``insertion``) AUC of ``order``."""
        return np.array([getattr(image, kind)[order] for image in self.images])

    def summary(self) -> dict[str, Any]:
        orders: dict[str, Any] = {}
        for order in [*self.explainers, *self.baselines]:
            orders[order] = {
                kind: bootstrap(self.values(kind, order), seed=self.seed).to_dict("mean")
                for kind in ("deletion", "insertion")
            }
        ratios: dict[str, Any] = {}
        for explainer in self.explainers:
            ratios[explainer] = {
                baseline: {
                    kind: bootstrap(self.values(kind, explainer), self.values(kind, baseline), seed=self.seed).to_dict(
                        "mean"
                    )
                    for kind in ("deletion", "insertion")
                }
                for baseline in self.baselines
            }
        road: dict[str, Any] = {}
        for explainer in self.explainers:
            measured = [image.road[explainer] for image in self.images if explainer in image.road]
            if measured:
                road[explainer] = {
                    key: bootstrap([m[key] for m in measured], seed=self.seed).to_dict("mean") for key in measured[0]
                }
        summary = {"images": len(self.images), "orders": orders, "ratios": ratios, "road": road}
        if self.images and all(image.removed_probability is not None for image in self.images):
            summary["ideal_step"] = self.ideal_step()
        return summary

    def ideal_step(self) -> dict[str, Any]:
        """The ideal step's mean areas and their paired ratios to each baseline, with intervals."""
        ideal = [
            ideal_step_areas(image.probability, float(image.removed_probability or 0.0), self.steps)
            for image in self.images
        ]
        found: dict[str, Any] = {}
        for kind in ("deletion", "insertion"):
            values = np.array([areas[kind] for areas in ideal])
            found[kind] = bootstrap(values, seed=self.seed).to_dict("mean")
            found[f"{kind}_ratio"] = {
                baseline: bootstrap(values, self.values(kind, baseline), seed=self.seed).to_dict("mean")
                for baseline in self.baselines
            }
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "fill": self.fill,
            "steps": self.steps,
            "seed": self.seed,
            "explainers": self.explainers,
            "baselines": self.baselines,
            "summary": self.summary(),
            "per_image": [image.to_dict() for image in self.images],
        }


def measure_faithfulness(
    model: Verdict,
    images: torch.Tensor,
    explainers: Sequence[Explainer],
    names: Sequence[str] | None = None,
    baselines: Sequence[Baseline | str] = tuple(Baseline),
    fill: Fill | str = Fill.blur,
    steps: int = DEFAULT_STEPS,
    road: bool = False,
    seed: int = 0,
    batch_size: int = 32,
    targets: Sequence[int] | None = None,
) -> FaithfulnessReport:
    """Deletion and insertion AUC of each explainer's map and of each baseline order, per image.

    Args:
        model: the sentiment model (eval mode; not changed).
        images: ``(N, 3, H, W)`` in [0, 1] at the model's input size.
        explainers: the maps to measure; the random-cells baseline uses the first one's grid.
        names: image names for the per-image records (default their index).
        baselines: the model-blind orders to compare with.
        fill: what replaces removed pixels.
        steps: portions of pixels removed or revealed.
        road: also compute ROAD most- and least-relevant-first for each explainer (slower).
        seed: fixes tie breaking, the random orders and the bootstrap.
        batch_size: perturbed images per forward pass.
        targets: class explained per image (default the fused prediction).
    """
    if not explainers:
        raise InvalidArgumentError("faithfulness needs at least one explainer")
    rng = np.random.default_rng(seed)
    fill = Fill(fill)
    chosen = [Baseline(b) for b in baselines]
    probabilities = np.concatenate(
        [model.predict_proba(images[i : i + batch_size]).numpy() for i in range(0, len(images), batch_size)]
    )
    classes = probabilities.argmax(axis=1) if targets is None else np.asarray(targets)
    maps = {explainer.name: np.asarray(explainer.maps(images)) for explainer in explainers}
    shape = (images.shape[-2], images.shape[-1])
    grid = explainers[0].grid
    results = []
    for i, image in enumerate(images):
        orders = {name: maps[name][i] for name in maps}
        orders.update({b.value: baseline_scores(b, shape, grid, rng) for b in chosen})
        curves = perturbation_curves(model, image, int(classes[i]), orders, fill, steps, rng, batch_size)
        results.append(
            ImageFaithfulness(
                name=str(names[i]) if names is not None else str(i),
                target=int(classes[i]),
                probability=float(probabilities[i, classes[i]]),
                removed_probability=float(next(iter(curves.insertion.values()))[0]),
                deletion={name: area(c) for name, c in curves.deletion.items()},
                insertion={name: area(c) for name, c in curves.insertion.items()},
            )
        )
    if road:
        for name, explainer_maps in maps.items():
            scores = road_scores(model, images, explainer_maps, [int(c) for c in classes])
            for result, morf, lerf in zip(results, scores["road-morf"], scores["road-lerf"]):
                result.road[name] = {"road-morf": float(morf), "road-lerf": float(lerf)}
    return FaithfulnessReport(results, list(maps), [b.value for b in chosen], fill.value, steps, seed)


def score_line(image: ImageFaithfulness, explainer: str, baseline: str = Baseline.random_cells.value) -> str:
    """``"deletion 0.61 / insertion 0.83 (random cells 0.73 / 0.74)"``: one image's scores for a page."""
    words = baseline.replace("-", " ")
    return (
        f"deletion {image.deletion[explainer]:.2f} / insertion {image.insertion[explainer]:.2f} "
        f"({words} {image.deletion[baseline]:.2f} / {image.insertion[baseline]:.2f})"
    )
