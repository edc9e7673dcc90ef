"""Neuron groups a person can read: are the pictures specific to the image, and do the groups
carry class information?

1. Distinctiveness: the mean pairwise Pearson correlation (RGB, resized to 128 px) between the
   displayed group pictures (r = 1, default model, demo block and demo picture settings) of the
   six demo photos and of 30 Twitter I images (15 per class, five agree, seeded), for the paper's
   eq. (5) and the candidate renderings, with the photos' own correlation beside them.  "Match":
   how often the picture whose own rank-1 group (its map at the block, relative to the
   reference) is closest (cosine) to an image's group descriptor is that image's picture
   (chance 1/N): a picture that differs but does not show *its* group scores at chance.
2. Spatial grid: the mean pairwise correlation between the cells (32 px) of one image's grid,
   averaged over the 30 Twitter I images, for eq. (3) over all channels and the alternatives.
3. Class information per block: cross-validated ROC-AUC (five agree, the project's folds, fold
   seeds 0-2) of a standardised logistic regression on the image-specific group descriptor
   ``(v - mean) / spread`` and, for reference, on the pooled map (what the probe reads);
   Spearman's rho between the per-block AUC order and the ``suggest-blocks`` ranking of the same
   images.

    PYTHONPATH=src SENTILENS_PROGRESS=0 python benchmarks/neuron_groups.py
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from common import DATA, print_table, write_json
from sentilens.app.classifier import load_model
from sentilens.app.demo import GROUP_SETTINGS
from sentilens.data import load_twitter, load_view, make_folds, to_unit_range
from sentilens.data.sample_photos import sample_images
from sentilens.explain import (
    STRONGEST_K,
    AscentSettings,
    ChannelPictureCache,
    ReferenceProfile,
    direction_pictures,
    factorise,
    image_activation,
    matching_profile,
    normalise,
    spatial_cells,
)
from sentilens.explain.activation_max import block_activations
from sentilens.models.backbones import Backbone
from sentilens.reports import figures
from sentilens.selection.evidence import evidence_features, rank_blocks, rank_one_channel_weights

RESULTS = Path(__file__).parent / "results"


def mean_pairwise_correlation(pictures: torch.Tensor, side: int | None = 128) -> float:
    """Mean Pearson correlation over all pairs of pictures ``(N, 3, s, s)`` (resized to ``side``)."""
    if side is not None and pictures.shape[-1] != side:
        pictures = F.interpolate(pictures.float(), size=(side, side), mode="bilinear", antialias=True)
    flat = pictures.flatten(1).double()
    flat = flat - flat.mean(dim=1, keepdim=True)
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    correlation = flat @ flat.T
    pairs = np.triu_indices(len(flat), k=1)
    return float(correlation.numpy()[pairs].mean())


def stretch(pictures: torch.Tensor) -> torch.Tensor:
    """Each picture's range stretched to [0, 1], as the demo page displays eq. (5) pictures."""
    low = pictures.flatten(1).min(dim=1).values.view(-1, 1, 1, 1)
    high = pictures.flatten(1).max(dim=1).values.view(-1, 1, 1, 1)
    return (pictures - low) / (high - low).clamp_min(1e-12)


def weighted_mean(channel_pictures: torch.Tensor, weights: np.ndarray) -> torch.Tensor:
    """Eq. (5) for rows of weights (scaled to sum to 1)."""
    rows = torch.as_tensor(normalise(weights))
    return torch.einsum("rc,cxyz->rxyz", rows, channel_pictures.float())


@torch.no_grad()
def match_rate(
    backbone: Backbone, block: str, pictures: torch.Tensor, descriptors: np.ndarray, profile: ReferenceProfile
) -> float:
    """Share of images whose nearest picture (by the picture's own group descriptor) is their own."""
    size = max(pictures.shape[-1], backbone.smallest_input(block))
    shown = F.interpolate(pictures.float(), size=(size, size), mode="bilinear", antialias=True)
    own = profile.relative(rank_one_channel_weights(block_activations(backbone, shown, block)))
    a = descriptors / np.linalg.norm(descriptors, axis=1, keepdims=True).clip(1e-12)
    b = own / np.linalg.norm(own, axis=1, keepdims=True).clip(1e-12)
    return float(((a @ b.T).argmax(axis=1) == np.arange(len(a))).mean())


def twitter_sample(data: Path, count: int, seed: int) -> list[Path]:
    """``count`` five-agree images, half of each class, drawn with ``seed``."""
    dataset = load_twitter(data, "five")
    rng = np.random.default_rng(seed)
    labels = np.asarray(dataset.labels)
    chosen = [int(i) for c in (0, 1) for i in rng.choice(np.flatnonzero(labels == c), count // 2, replace=False)]
    return [dataset.paths[i] for i in sorted(chosen)]


def distinctiveness(
    backbone: Backbone, block: str, paths: list[Path], settings: AscentSettings, profile: ReferenceProfile
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Correlation and match rate of each rendering for the images ``paths``."""
    views = torch.stack([to_unit_range(load_view(p, backbone.input_size)) for p in paths])
    weights = np.concatenate([factorise(image_activation(backbone, v, block)).normalised_weights() for v in views])
    descriptors = profile.relative(weights)
    channel_pictures = ChannelPictureCache().block_pictures(backbone, block, settings).pictures
    candidates: dict[str, torch.Tensor] = {
        "paper (eq. 5, stretched for display)": stretch(weighted_mean(channel_pictures, weights)),
        "eq. 5 weighted by max(v - mean, 0), stretched": stretch(
            weighted_mean(channel_pictures, np.maximum(weights - profile.mean, 0))
        ),
    }
    began = time.perf_counter()
    for name, directions in (
        ("ascent of v (raw group)", weights),
        ("ascent of v - mean", weights - profile.mean),
        ("ascent of (v - mean) / spread (specific, default)", descriptors),
    ):
        candidates[name] = direction_pictures(backbone, block, directions, settings)
    ascent_seconds = time.perf_counter() - began
    rows = {
        name: {
            "mean_pairwise_correlation": mean_pairwise_correlation(pictures),
            "match_rate": match_rate(backbone, block, pictures, descriptors, profile),
        }
        for name, pictures in candidates.items()
    }
    rows["the photos themselves"] = {"mean_pairwise_correlation": mean_pairwise_correlation(views), "match_rate": None}
    return {
        "images": [p.name for p in paths],
        "renderings": rows,
        "ascent_seconds_three_variants": ascent_seconds,
    }, candidates


def cell_correlation(cells: torch.Tensor) -> float:
    """Mean pairwise correlation between the cells ``(m, n, 3, s, s)`` of one grid."""
    return mean_pairwise_correlation(cells.flatten(0, 1), side=None)


def spatial(backbone: Backbone, block: str, paths: list[Path], profile: ReferenceProfile) -> dict[str, Any]:
    """Cell correlation of the grid renderings over the images ``paths`` (explain spatial defaults)."""
    pictures = ChannelPictureCache().block_pictures(backbone, block, AscentSettings()).pictures
    pictures = F.interpolate(pictures, size=(32, 32), mode="bilinear", antialias=True)
    typical = torch.from_numpy(profile.activation) if profile.activation is not None else None
    variants = {
        "paper (eq. 3, all channels)": {},
        f"{STRONGEST_K} strongest channels": {"top_k": STRONGEST_K},
        f"{STRONGEST_K} strongest relative to the reference (default)": {"top_k": STRONGEST_K, "typical": typical},
    }
    values: dict[str, list[float]] = {name: [] for name in variants}
    for path in paths:
        activation = image_activation(backbone, to_unit_range(load_view(path, backbone.input_size)), block)
        for name, options in variants.items():
            values[name].append(cell_correlation(spatial_cells(pictures, activation, **options)))
    return {name: {"mean": float(np.mean(v)), "std": float(np.std(v))} for name, v in values.items()}


def class_information(backbone: Backbone, data: Path, seeds: list[int]) -> dict[str, Any]:
    """Per-block ROC-AUC of the group descriptor and of the pooled map, and rho against the ranking."""
    dataset = load_twitter(data, "five")
    usable, features, skipped = evidence_features(backbone, dataset)
    labels = np.asarray(usable.labels)
    folds = [fold for seed in seeds for fold in make_folds(usable, 5, seed)]
    blocks = {}
    for block in backbone.block_names:
        profile = matching_profile(backbone, block)
        assert profile is not None
        descriptor = profile.relative(normalise(features.factors[block]))
        scores = {}
        for name, x in (("group_descriptor", descriptor), ("pooled_map", features.pooled[block])):
            aucs = []
            for fold in folds:
                model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
                model.fit(x[list(fold.train)], labels[list(fold.train)])
                aucs.append(roc_auc_score(labels[list(fold.test)], model.predict_proba(x[list(fold.test)])[:, 1]))
            scores[name] = {"mean": float(np.mean(aucs)), "std": float(np.std(aucs))}
        blocks[block] = scores
    ranking = rank_blocks(backbone, "imagenet", usable, features, seed=0)
    rank = {t.block: t.rank for t in ranking.blocks}
    order = list(backbone.block_names)
    rho = spearmanr([blocks[t]["group_descriptor"]["mean"] for t in order], [-rank[t] for t in order])
    for t in order:
        blocks[t]["suggest_blocks_rank"] = rank[t]
    return {
        "images": len(usable),
        "skipped": len(skipped),
        "fold_seeds": seeds,
        "blocks": blocks,
        "suggested": list(ranking.suggested),
        "spearman_rho_auc_vs_ranking": float(rho.statistic),
        "spearman_p": float(rho.pvalue),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--block", "--tap", default="5b", help="block of the distinctiveness and spatial measurements")
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    began = time.perf_counter()
    torch.manual_seed(args.seed)
    model, _ = load_model(None)
    backbone = model.eval().backbone
    profile = matching_profile(backbone, args.block)
    if profile is None:
        raise SystemExit("no shipped reference profile matches; run sentilens explain reference first")
    twitter = twitter_sample(args.data, args.images, args.seed)
    demo, demo_pictures = distinctiveness(backbone, args.block, sample_images(), GROUP_SETTINGS, profile)
    tweets, _ = distinctiveness(backbone, args.block, twitter, GROUP_SETTINGS, profile)
    grid = spatial(backbone, args.block, twitter, profile)
    classes = class_information(backbone, args.data, [0, 1, 2])
    for title, block in (("six demo photos", demo), (f"{args.images} Twitter I images", tweets)):
        print(f"\n{title} at {args.block}")
        print_table(
            ["rendering", "mean pairwise r", "match"],
            [[k, v["mean_pairwise_correlation"], v["match_rate"]] for k, v in block["renderings"].items()],
        )
    print(f"\nspatial grid at {args.block}, {args.images} Twitter I images")
    print_table(["rendering", "mean cell r", "std"], [[k, v["mean"], v["std"]] for k, v in grid.items()])
    print("\nclass information (five agree, ROC-AUC, 5 folds x 3 seeds)")
    print_table(
        ["block", "group descriptor", "pooled map", "suggest-blocks rank"],
        [
            [t, f"{b['group_descriptor']['mean']:.3f} ± {b['group_descriptor']['std']:.3f}",
             f"{b['pooled_map']['mean']:.3f}", b["suggest_blocks_rank"]]
            for t, b in classes["blocks"].items()
        ],
    )  # fmt: skip
    print(f"Spearman rho (AUC order vs ranking): {classes['spearman_rho_auc_vs_ranking']:.3f}")
    names = [p.name for p in sample_images()]
    rows = list(itertools.chain.from_iterable(demo_pictures.values()))
    labels = [f"{k.split(' (')[0][:18]}: {n[:10]}" for k in demo_pictures for n in names]
    figure = figures.save_picture_grid(
        RESULTS / "neuron_groups-demo.png", torch.stack(rows), labels, columns=len(names),
        title=f"demo photos, {args.block}: one row per rendering",
    )  # fmt: skip
    write_json(
        "neuron_groups",
        {
            "block": args.block,
            "picture_settings": GROUP_SETTINGS.resolved(backbone).to_dict(),
            "reference_profile": profile.source,
            "demo_photos": demo,
            "twitter": tweets,
            "spatial_grid": grid,
            "class_information": classes,
            "figure": figure.name,
            "seconds": time.perf_counter() - began,
        },
    )


if __name__ == "__main__":
    main()
