"""The ``sentilens`` command: one sub-command per user task; parsing and printing only."""

from __future__ import annotations

import csv
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Interpretable image sentiment classification (positive / negative) with Inception networks.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


class Subset(str, Enum):
    five = "five"
    four = "four"
    three = "three"
    all = "all"


class OutputFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


# Options shared by `cv` and `train`.  None means "from --config, else the default".
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="JSON training config; options given here override it.")]
BackboneOpt = Annotated[Optional[str], typer.Option(help="Backbone: inception_v3 (default) or googlenet.")]
WeightsOpt = Annotated[Optional[str], typer.Option(help="Backbone weights: imagenet, none, or a state-dict FILE.")]
TapsOpt = Annotated[Optional[str], typer.Option(help="Comma-separated blocks with auxiliary heads; 'none' for no heads.")]
AuxWeightOpt = Annotated[Optional[float], typer.Option(help="Weight of every auxiliary head (paper: 0.1).")]
ModeOpt = Annotated[Optional[str], typer.Option(help="frozen (heads on cached features) or finetune.")]
FromOpt = Annotated[Optional[str], typer.Option(help="finetune: first trainable block (default: whole backbone).")]
EpochsOpt = Annotated[Optional[int], typer.Option(help="Training epochs (default 40 frozen, 10 finetune).")]
BatchOpt = Annotated[Optional[int], typer.Option(help="Batch size.")]
LrOpt = Annotated[Optional[float], typer.Option(help="Learning rate of the heads.")]
SeedOpt = Annotated[Optional[int], typer.Option(help="Random seed (folds, initialisation, flips).")]
DeviceOpt = Annotated[Optional[str], typer.Option(help="auto, cpu or cuda.")]


def _config(config_file: Optional[Path], **options: object):
    from .training import TrainConfig

    base = TrainConfig.from_file(config_file).to_dict() if config_file else {}
    taps = options.pop("taps")
    aux_weight = options.pop("aux_weight")
    if taps is not None:
        base["taps"] = [] if taps.strip().lower() == "none" else [t.strip() for t in taps.split(",") if t.strip()]
    if aux_weight is not None:
        count = len(base.get("taps") or [])
        base["aux_weights"] = [aux_weight] * count if base.get("taps") is not None else None
        if base.get("taps") is None:
            base["aux_weight_all"] = aux_weight
    base.update({k: v for k, v in options.items() if v is not None})
    default_weight = base.pop("aux_weight_all", None)
    config = TrainConfig.from_dict(base)
    if default_weight is not None:
        from .models import DEFAULT_TAPS

        config.taps = DEFAULT_TAPS[config.backbone]
        config.aux_weights = (default_weight,) * len(config.taps)
    return config


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=2)


@app.command()
def cv(
    data: Annotated[Path, typer.Argument(help="Twitter I root, a folder per class, or a path,label CSV.")],
    subset: Annotated[Subset, typer.Option(help="Twitter I agreement subset.")] = Subset.five,
    folds: Annotated[int, typer.Option(help="Number of folds.")] = 5,
    baseline: Annotated[bool, typer.Option(help="Also score logistic regression on frozen pooled features.")] = False,
    out: Annotated[Path, typer.Option(help="Folder for results (JSON and Markdown).")] = Path("sentilens-results"),
    config_file: ConfigOpt = None,
    backbone: BackboneOpt = None,
    weights: WeightsOpt = None,
    taps: TapsOpt = None,
    aux_weight: AuxWeightOpt = None,
    mode: ModeOpt = None,
    trainable_from: FromOpt = None,
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    lr: LrOpt = None,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Cross-validate a model (stratified k-fold, duplicates kept together) and print Table 3."""
    from .data import DataError, ImageDecodeError, TWITTER_SUBSETS, load_dataset
    from .evaluation import cross_validate, cross_validate_logistic, markdown_table3, prepare_cache, table3_json
    from .models.backbones import WeightsUnavailableError
    from .training import TrainConfig

    try:
        config = _config(config_file, backbone=backbone, weights=weights, taps=taps, aux_weight=aux_weight,
                         mode=mode, trainable_from=trainable_from, epochs=epochs, batch_size=batch_size,
                         lr=lr, seed=seed, device=device)
        subsets = TWITTER_SUBSETS if subset is Subset.all else (subset.value,)
        results = {}
        for name in subsets:
            dataset = load_dataset(data, name)
            console.print(f"[bold]{dataset.name}[/]: {len(dataset)} images {dataset.class_counts()}")
            cache = prepare_cache(dataset, config)
            ours = [cross_validate(dataset, config, folds, config.seed, cache=cache)]
            if baseline:
                frozen = cache if cache.boundary is None else prepare_cache(dataset, TrainConfig(**{**config.to_dict(), "mode": "frozen", "trainable_from": None}))
                ours.append(cross_validate_logistic(dataset, frozen, folds, config.seed))
            results[name if (data / "ground_truth").is_dir() else dataset.name] = ours
    except (DataError, ImageDecodeError, WeightsUnavailableError, ValueError) as error:
        _fail(str(error))
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table3(results)
    (out / "table3.md").write_text(table, encoding="utf-8")
    (out / "table3.json").write_text(json.dumps(table3_json(results), indent=2), encoding="utf-8")
    (out / "folds.json").write_text(
        json.dumps({s: [r.to_dict() for r in rs] for s, rs in results.items()}, indent=2), encoding="utf-8"
    )
    print(table)
    console.print(f"results written to [bold]{out}/[/] (table3.md, table3.json, folds.json)")


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="Twitter I root, a folder per class, or a path,label CSV.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint file to write.")] = Path("sentilens-model.pt"),
    subset: Annotated[Subset, typer.Option(help="Twitter I agreement subset (not 'all').")] = Subset.five,
    config_file: ConfigOpt = None,
    backbone: BackboneOpt = None,
    weights: WeightsOpt = None,
    taps: TapsOpt = None,
    aux_weight: AuxWeightOpt = None,
    mode: ModeOpt = None,
    trainable_from: FromOpt = None,
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    lr: LrOpt = None,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Train on a whole dataset and write a checkpoint."""
    from .data import DataError, ImageDecodeError, load_dataset
    from .evaluation import prepare_cache
    from .models.backbones import WeightsUnavailableError
    from .models.checkpoint import save_checkpoint
    from .training import build_model, fit

    if subset is Subset.all:
        _fail("train uses one subset; choose five, four or three")
    try:
        config = _config(config_file, backbone=backbone, weights=weights, taps=taps, aux_weight=aux_weight,
                         mode=mode, trainable_from=trainable_from, epochs=epochs, batch_size=batch_size,
                         lr=lr, seed=seed, device=device)
        dataset = load_dataset(data, subset.value)
        dataset.require_all_classes()
        cache = prepare_cache(dataset, config)
        model = build_model(config)
        losses = fit(model, cache, range(len(dataset)), dataset.labels, config)
    except (DataError, ImageDecodeError, WeightsUnavailableError, ValueError) as error:
        _fail(str(error))
    save_checkpoint(model, config, out, dataset.class_names, extra={"dataset": dataset.name, "losses": losses})
    console.print(f"trained on {len(dataset)} images of {dataset.name}; final loss {losses[-1]:.4f}")
    console.print(f"checkpoint written to [bold]{out}[/]")


@app.command()
def predict(
    inputs: Annotated[list[Path], typer.Argument(help="Image files and/or folders (searched recursively).")],
    checkpoint: Annotated[Path, typer.Option("--checkpoint", "-c", help="Checkpoint written by 'sentilens train'.")],
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="table, jsonl or csv.")] = OutputFormat.table,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of standard output.")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = 32,
    on_error: Annotated[str, typer.Option(help="skip (report unreadable images) or fail.")] = "skip",
    precision: Annotated[str, typer.Option(help="auto (bf16 where the CPU runs it natively), fp32 or bf16.")] = "auto",
    workers: Annotated[Optional[int], typer.Option(help="Decoding processes ahead of the network (0: none).")] = None,
) -> None:
    """Classify images: label and probability per file, as a table, JSON lines or CSV."""
    from .data import ImageDecodeError
    from .inference import expand_inputs, predict_paths
    from .models.checkpoint import CheckpointError, load_checkpoint

    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        _fail(f"not found: {', '.join(missing)}")
    paths = expand_inputs(inputs)
    if not paths:
        _fail("no image files found in the given inputs")
    try:
        loaded = load_checkpoint(checkpoint)
        predictions, skipped = predict_paths(
            loaded.model, loaded.class_names, paths, loaded.config.predict_views, batch_size, on_error,
            precision=precision, workers=workers,
        )
    except (CheckpointError, ImageDecodeError, ValueError) as error:
        _fail(str(error))
    rows = [
        {"file": str(p.path), "label": p.label, "probability": round(p.probability, 6),
         "positive_probability": round(p.positive_probability, 6),
         **{f"head_{k}": round(v, 6) for k, v in p.head_probabilities.items()}}
        for p in predictions
    ]
    stream = open(output, "w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        if output_format is OutputFormat.jsonl:
            for row in rows:
                stream.write(json.dumps(row) + "\n")
        elif output_format is OutputFormat.csv and rows:
            writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        elif output_format is OutputFormat.table:
            table = Table("file", "label", "probability")
            for row in rows:
                table.add_row(row["file"], row["label"], f"{row['probability']:.3f}")
            Console(file=stream, width=200).print(table)
    finally:
        if output:
            stream.close()
    for item in skipped:
        console.print(f"[yellow]skipped[/] {item.reason}")
    if skipped:
        console.print(f"{len(predictions)} classified, {len(skipped)} skipped")


@app.command()
def backbones() -> None:
    """List the backbones, their taps and default auxiliary-head taps."""
    from .models.backbones import DEFAULT_TAPS, available_backbones
    from .models.backbones.registry import _REGISTRY  # noqa: F401  (registration side effect)

    table = Table("backbone", "input", "taps", "default aux taps")
    for name in available_backbones():
        from .models.backbones import create_backbone

        backbone = create_backbone(name, "none")
        table.add_row(name, f"{backbone.input_size}px", " ".join(backbone.tap_names), " ".join(DEFAULT_TAPS[name]))
    Console().print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
