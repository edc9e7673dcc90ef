"""``sentilens inspect`` and ``sentilens suggest-blocks``: choosing the auxiliary-head blocks.

Parsing and printing only; the work is in :mod:`sentilens.app.inspect`.  Both take a backbone
with its ImageNet weights or a trained ``--checkpoint``; for a checkpoint the backbone's weights
are written beside the results (``backbone.pt``) so that the exported config can name them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from sentilens.app import INSPECT_STEPS
from sentilens.cli.errors import console
from sentilens.cli.options import (
    DataArg,
    GroupRenderingOpt,
    ModelSource,
    PictureCacheOpt,
    SingleSubset,
    with_model_source,
)
from sentilens.explain import AscentMode, GroupRendering

SubsetOpt = Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")]
ProbeImagesOpt = Annotated[
    int, typer.Option(help="Images (class-balanced sample) for the probe and separation; 0 = all.")
]
SuggestedCountOpt = Annotated[int, typer.Option("--k", help="Size of the suggested set.")]
ProbeFoldsOpt = Annotated[int, typer.Option("--folds", help="Folds of the linear probe.")]
SampleSeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the folds and the samples.")]
ImportanceDrawsOpt = Annotated[
    int,
    typer.Option(
        help="Random directions against which each block's group importance is measured (removing the images' "
        "neuron groups vs random directions of the same norm, running the model from the block on: draws + 1 "
        "passes per image and block, so it is off by default; 19 gives image p-values down to 0.05); "
        "0 = not measured."
    ),
]


@with_model_source
def suggest_blocks_command(
    data: DataArg,
    subset: SubsetOpt = SingleSubset.five,
    probe_images: ProbeImagesOpt = 0,
    k: SuggestedCountOpt = 3,
    folds: ProbeFoldsOpt = 5,
    seed: SampleSeedOpt = 0,
    out: Annotated[Path, typer.Option(help="Folder for suggest.md, suggest.json and suggested-config.json.")] = Path(
        "sentilens-results"
    ),
    importance_images: Annotated[
        int, typer.Option(help="Images (stratified sample) of the group-importance test; 0 = not measured.")
    ] = 12,
    importance_draws: ImportanceDrawsOpt = 0,
    *,
    source: ModelSource,
) -> None:
    """Rank the blocks by linear-probe accuracy and NMF separation and print a suggested set (with
    --importance-draws, each block's estimated group importance)."""
    from sentilens.app import suggest_blocks
    from sentilens.data import load_dataset

    dataset = load_dataset(data, subset)
    suggestion = suggest_blocks(
        dataset,
        out,
        source.checkpoint,
        source.backbone,
        source.weights,
        probe_images or None,
        k,
        folds,
        seed,
        say=console.print,
        importance_images=importance_images,
        importance_draws=importance_draws,
    )
    print(suggestion.ranking.markdown(), end="")
    console.print(f"config for --config: [bold]{suggestion.files[-1]}[/]")


@with_model_source
def inspect_command(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Report folder (index.html, blocks/*.png).")] = Path(
        "sentilens-inspect"
    ),
    subset: SubsetOpt = SingleSubset.five,
    per_class: Annotated[int, typer.Option(help="Images of each class shown per block.")] = 6,
    probe_images: ProbeImagesOpt = 200,
    k: SuggestedCountOpt = 3,
    folds: ProbeFoldsOpt = 5,
    seed: SampleSeedOpt = 0,
    rendering: GroupRenderingOpt = GroupRendering.specific,
    ascent_mode: Annotated[
        AscentMode, typer.Option(help="Activation maximisation: regularised or plain (the paper).")
    ] = AscentMode.regularised,
    ascent_size: Annotated[
        Optional[int], typer.Option(help="Picture canvas in px (default 96 regularised, input size plain).")
    ] = None,
    ascent_steps: Annotated[
        int, typer.Option(help="Gradient-ascent steps per group picture (specific) or channel picture (paper).")
    ] = INSPECT_STEPS,
    ascent_batch: Annotated[int, typer.Option(help="Pictures optimised together.")] = 64,
    cache: PictureCacheOpt = None,
    importance_draws: ImportanceDrawsOpt = 0,
    faithfulness_steps: Annotated[
        int,
        typer.Option(
            help="Score each block's maps (Grad-CAM, where, probe) against the fused verdict on the shown images: "
            "deletion/insertion in this many portions (3 costs 22 passes per image and block); 0 = not measured."
        ),
    ] = 0,
    *,
    source: ModelSource,
) -> None:
    """Build the HTML report in which a person picks the auxiliary-head blocks and exports a config."""
    from sentilens.app import build_inspection, model_and_weights, model_source
    from sentilens.data import load_dataset
    from sentilens.explain import AscentSettings, check_ascent_size
    from sentilens.models import backbone_class

    settings = AscentSettings(
        mode=ascent_mode, size=ascent_size, steps=ascent_steps, batch_size=ascent_batch, seed=seed
    )
    if source.checkpoint is None:
        kind = backbone_class(source.backbone)
        check_ascent_size(kind, settings, kind.block_names)
    model, weights_name = model_and_weights(source.checkpoint, source.backbone, source.weights, out)
    check_ascent_size(model.backbone, settings, model.backbone.block_names)
    dataset = load_dataset(data, subset)
    dataset.require_all_classes()
    report = build_inspection(
        model,
        weights_name,
        dataset,
        out,
        per_class=per_class,
        probe_images=probe_images or None,
        settings=settings,
        cache_dir=cache,
        k=k,
        n_splits=folds,
        seed=seed,
        source=model_source(source.checkpoint, model, weights_name),
        rendering=rendering,
        say=console.print,
        importance_draws=importance_draws,
        faithfulness_steps=faithfulness_steps,
    )
    for note in report.notes:
        console.print(note)
    print(report.ranking.markdown(), end="")
    console.print(f"report: [bold]{report.index.resolve().as_uri()}[/]")
