"""``sentilens evaluate``: parsing and printing only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from sentilens.cli.errors import console, fail
from sentilens.cli.options import (
    CheckpointOpt,
    DataArg,
    DecodeThreadsOpt,
    PrecisionOpt,
    PredictBatchOpt,
    RuntimeOpt,
    SingleSubset,
    ViewsOpt,
    run_settings,
)
from sentilens.runtime import Precision, RunSettings, Runtime


def evaluate(
    data: DataArg,
    checkpoint: CheckpointOpt = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the report, the per-image rows and evaluation.json.")
    ] = Path("sentilens-evaluation"),
    subset: Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")] = SingleSubset.five,
    threshold: Annotated[
        float, typer.Option(help="Call an image positive when its probability is at least this.")
    ] = 0.5,
    prior: Annotated[
        Optional[float],
        typer.Option(
            help="The share of positive images you expect (0-1): probabilities are shifted from the training "
            "images' positive rate to it (log-odds + logit(prior) - logit(training rate)) before the threshold.",
        ),
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of the 95 % intervals (0: none).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap resamples.")] = 0,
    runtime: RuntimeOpt = Runtime.auto,
    precision: PrecisionOpt = Precision.auto,
    views: ViewsOpt = None,
    batch_size: PredictBatchOpt = RunSettings.batch_size,
    decode_threads: DecodeThreadsOpt = None,
) -> None:
    """Score a model, unchanged, on a labelled set: a folder per class (negative/, positive/), a
    path,label CSV or a Twitter I root.

    Prints ROC-AUC, accuracy, balanced accuracy, precision/recall/F1, log-loss, Brier score and
    expected calibration error, each with a bootstrap 95 % interval, and writes a report (HTML and
    Markdown, reliability diagram and ROC curve), per-image rows and evaluation.json to --out.
    Unreadable images are listed and left out; a set without both classes is an error.
    """
    from sentilens.app import DEFAULT_MODEL_FILE, DecisionRule, evaluate_classifier, load

    if not data.exists():
        fail(f"not found: {data}")
    settings = run_settings(runtime, precision, views, batch_size=batch_size, decode_threads=decode_threads)
    rule = DecisionRule(threshold, prior)
    name = checkpoint.name if checkpoint is not None else f"default model ({DEFAULT_MODEL_FILE})"
    result = evaluate_classifier(
        load(checkpoint),
        data,
        out,
        subset=subset,
        settings=settings,
        rule=rule,
        resamples=bootstrap,
        seed=seed,
        model_name=name,
        say=console.print,
    )
    print(f"{result.dataset}: {len(result.labels)} images scored, {result.record['images']['skipped']} skipped")
    print(result.record["rule"]["text"])
    for score, interval in result.scores.items():
        print(f"{score:18} {interval.value:.4f}  [{interval.low:.4f}, {interval.high:.4f}]")
    console.print(f"report written to [bold]{out}/[/] ({', '.join(f.name for f in result.files)})")
