"""Where a neuron group fires more than usual, and how much a group drives the verdict (issue 24, parts 4-5).

1. "Where" maps without the border bias: 30 Twitter I images (five agree, seeded) and, as the
   reference, every other three-agree image (the shipped profile's set less the 30, so that the
   reference is independent of the images shown).  Each image's rank-1 ``U`` at blocks 5b..7c
   (from the block-feature store, :func:`sentilens.selection.evidence.rank_one_where`) is drawn
   at the input size as the pages draw it: before (``U`` scaled by its maximum) and after
   (:func:`sentilens.explain.unusual_where` against the reference).  Per block: the mean Pearson
   correlation over all pairs of the 30 maps, and the mean of the border (the outer ring one grid
   cell wide) over the mean of the interior.  Targets (issue 24): correlation <= 0.2 and border /
   interior within 0.9-1.1 at every block from 5b to 6e.
2. Group importance of the shipped model at every block on the first ``--importance-images`` of
   the same images, measured by running the model from the block on
   (:func:`sentilens.explain.blocks_importance`, ``--draws`` random directions per image), with
   the block p-values and the seconds per block; Spearman's rho of the per-block mean change against
   Table 4's per-block accuracy (``results/layers.json``) and against the linear-probe accuracy of
   ``suggest-blocks`` (``results/suggest-layers-five.json``).

    PYTHONPATH=src SENTILENS_PROGRESS=0 python benchmarks/group_where.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from common import DATA, RESULTS, print_table, write_json
from sentilens.app.classifier import load_model
from sentilens.data import load_twitter, load_view, to_unit_range
from sentilens.explain import NeuronGroups, group_importance, where_statistics
from sentilens.selection.evidence import evidence_features
from sentilens.utils.bootstrap import Interval, bootstrap

WHERE_BLOCKS = ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e")


def mean_pairwise_correlation(maps: np.ndarray) -> float:
    """Mean Pearson correlation over all pairs of maps ``(N, s, s)`` (a constant map counts as 0)."""
    flat = maps.reshape(len(maps), -1).astype(np.float64)
    flat = flat - flat.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    flat = np.divide(flat, norms, out=np.zeros_like(flat), where=norms > 0)
    pairs = np.triu_indices(len(flat), k=1)
    return float((flat @ flat.T)[pairs].mean())


def border_ratio(maps: np.ndarray, grid: int) -> Interval:
    """Mean of the outer ring (one grid cell of ``grid`` wide) over the mean of the rest, with the
    paired bootstrap 95 % interval over the images (how much of a distance from 1 is chance)."""
    side = maps.shape[-1]
    width = int(np.ceil(side / grid))
    ring = np.zeros((side, side), dtype=bool)
    ring[:width], ring[-width:], ring[:, :width], ring[:, -width:] = True, True, True, True
    return bootstrap(maps[:, ring].mean(axis=1), np.maximum(maps[:, ~ring].mean(axis=1), 1e-12))


def drawn(spatial: np.ndarray, side: int, usual: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """The maps ``(N, side, side)`` the pages draw for rank-1 ``U`` maps ``(N, m, n)``."""
    return np.stack([NeuronGroups(u[None], np.ones((1, 1)), 0.0).where(side, usual)[0] for u in spatial])


def where_part(backbone: Any, shown: Any, reference: Any, blocks: list[str]) -> list[dict[str, Any]]:
    """Correlation and border ratio of the shown images' where maps, before and after."""
    _, shown_features, _ = evidence_features(backbone, shown, blocks, where=True)
    _, reference_features, _ = evidence_features(backbone, reference, blocks, where=True)
    grids = backbone.block_grids()
    rows = []
    for block in blocks:
        usual = where_statistics(reference_features.where[block])
        before = drawn(shown_features.where[block], backbone.input_size, None)
        after = drawn(shown_features.where[block], backbone.input_size, usual)
        rows.append(
            {
                "block": block,
                "grid": list(grids[block]),
                "correlation_before": mean_pairwise_correlation(before),
                "correlation_after": mean_pairwise_correlation(after),
                "border_before": border_ratio(before, grids[block][0]).value,
                "border_after": (border := border_ratio(after, grids[block][0])).value,
                "border_after_interval": [border.low, border.high],
                "empty_after": int((after.reshape(len(after), -1).max(axis=1) == 0).sum()),
            }
        )
    return rows


def per_block_accuracy() -> dict[str, float]:
    """Table 4's accuracy with one head per block (``results/layers.json``)."""
    rows = json.loads((RESULTS / "layers.json").read_text())["rows"]
    return {row["taps"][0]: row["accuracy"] for row in rows if len(row["taps"]) == 1}


def probe_accuracy() -> dict[str, float]:
    """The linear-probe accuracy of ``suggest-blocks`` on five agree (``results/suggest-layers-five.json``)."""
    ranking = json.loads((RESULTS / "suggest-layers-five.json").read_text())
    rows = ranking.get("blocks", ranking.get("taps", []))  # the file predates the rename of taps to blocks
    return {row.get("block", row.get("tap")): row["probe_accuracy"] for row in rows}


def settings(args: argparse.Namespace) -> dict[str, str]:
    """The arguments for the result file, the data folder by its name only (no machine path)."""
    return {k: (v.name if isinstance(v, Path) else str(v)) for k, v in vars(args).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--draws", type=int, default=19, help="random directions per image (importance)")
    parser.add_argument(
        "--shown-subset",
        default="five",
        help="agreement subset the shown images come from (three: the reference's own distribution)",
    )
    parser.add_argument("--importance-images", type=int, default=12, help="images of the importance test")
    parser.add_argument("--reference-images", type=int, default=0, help="0 = every other three-agree image")
    parser.add_argument(
        "--pool",
        type=int,
        default=0,
        help="draw the shown images and the reference from the first N three-agree images only (the list is not "
        "ordered by label; e.g. those the block-feature store holds already); 0 = all",
    )
    parser.add_argument("--quick", action="store_true", help="10 images, 200 reference images, importance on 2")
    parser.add_argument("--part", choices=["all", "where", "importance"], default="all")
    parser.add_argument("--out", default="group_where", help="result file name in benchmarks/results (.json added)")
    args = parser.parse_args()
    if args.quick:
        args.images, args.reference_images, args.importance_images, args.draws = 10, 200, 2, 4
    began = time.perf_counter()
    torch.manual_seed(0)
    model, _ = load_model(None)
    backbone = model.backbone
    five, three = load_twitter(args.data, args.shown_subset), load_twitter(args.data, "three")
    if args.pool:
        three = three.subset(list(range(args.pool)))
        pooled = {p.name for p in three.paths}
        five = five.subset([i for i, p in enumerate(five.paths) if p.name in pooled])
    rng = np.random.default_rng(0)
    chosen = sorted(rng.choice(len(five), size=args.images, replace=False).tolist())
    shown = five.subset(chosen)
    names = {p.name for p in shown.paths}
    others = [i for i, p in enumerate(three.paths) if p.name not in names]
    if args.reference_images:
        others = sorted(rng.choice(others, size=args.reference_images, replace=False).tolist())
    reference = three.subset(others)

    where_rows = where_part(backbone, shown, reference, list(backbone.block_names)) if args.part != "importance" else []
    print_table(
        ["block", "r before", "r after", "border/interior before", "after", "95 % interval", "empty maps after"],
        [
            [
                r["block"],
                f"{r['correlation_before']:.3f}",
                f"{r['correlation_after']:.3f}",
                f"{r['border_before']:.2f}",
                f"{r['border_after']:.2f}",
                "[{:.2f}, {:.2f}]".format(*r["border_after_interval"]),
                r["empty_after"],
            ]
            for r in where_rows
        ],
    )
    targets = [r for r in where_rows if r["block"] in WHERE_BLOCKS]
    where_met = {
        "correlation": bool(targets) and all(r["correlation_after"] <= 0.2 for r in targets),
        "border": bool(targets) and all(0.9 <= r["border_after"] <= 1.1 for r in targets),
    }
    if args.part == "where":
        path = write_json(
            args.out,
            {
                "settings": settings(args),
                "shown": [p.name for p in shown.paths],
                "reference_images": len(reference),
                "where": where_rows,
                "where_targets_met_5b_6e": where_met,
                "seconds": time.perf_counter() - began,
            },
            args.data,
        )
        print(f"wrote {path} ({time.perf_counter() - began:.0f} s)")
        return

    paths = shown.paths[: args.importance_images]
    images = to_unit_range(torch.stack([load_view(p, backbone.input_size) for p in paths]))
    importance, seconds = {}, {}
    for block in backbone.block_names:
        started = time.perf_counter()
        importance[block] = group_importance(model, images, block, args.draws)
        seconds[block] = time.perf_counter() - started
        print(f"{block}: p = {importance[block].p_value:.2g} ({seconds[block]:.0f} s)", flush=True)
    table4, probe = per_block_accuracy(), probe_accuracy()
    blocks = list(backbone.block_names)
    importance_rows = [
        {
            "block": b,
            "mean_change": importance[b].mean_change,
            "random_mean_change": importance[b].random_mean_change,
            "p_value": importance[b].p_value,
            # at most, not below: with 19 random directions an image's smallest p is exactly 0.05
            "images_p_at_most_0.05": int((importance[b].p_values <= 0.05).sum()),
            "seconds": seconds[b],
            "table4_accuracy": table4.get(b),
            "probe_accuracy": probe.get(b),
        }
        for b in blocks
    ]
    print_table(
        ["block", "group Δp", "random Δp", "p", "images p<=0.05", "Table 4 accuracy", "probe accuracy", "s"],
        [
            [
                r["block"],
                f"{r['mean_change']:.4f}",
                f"{r['random_mean_change']:.4f}",
                f"{r['p_value']:.2g}",
                r["images_p_at_most_0.05"],
                f"{r['table4_accuracy']:.3f}",
                f"{r['probe_accuracy']:.3f}",
                f"{r['seconds']:.0f}",
            ]
            for r in importance_rows
        ],
    )
    changes = [r["mean_change"] for r in importance_rows]
    rho_table4 = spearmanr(changes, [r["table4_accuracy"] for r in importance_rows])
    rho_probe = spearmanr(changes, [r["probe_accuracy"] for r in importance_rows])
    print(f"Spearman rho vs Table 4 accuracy: {rho_table4.statistic:.3f} (p = {rho_table4.pvalue:.3f})")
    print(f"Spearman rho vs probe accuracy: {rho_probe.statistic:.3f} (p = {rho_probe.pvalue:.3f})")

    path = write_json(
        args.out,
        {
            "settings": {**settings(args), "model": "shipped default model"},
            "shown": [p.name for p in shown.paths],
            "reference_images": len(reference),
            "where": where_rows,
            "where_targets_met_5b_6e": where_met,
            "importance_images": [p.name for p in paths],
            "importance": importance_rows,
            "spearman_table4": {"rho": float(rho_table4.statistic), "p": float(rho_table4.pvalue)},
            "spearman_probe": {"rho": float(rho_probe.statistic), "p": float(rho_probe.pvalue)},
            "seconds": time.perf_counter() - began,
        },
        args.data,
    )
    print(f"wrote {path} ({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
