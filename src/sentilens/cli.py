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

from .cli_explain import explain_app
from .cli_inspect import register as register_inspect

app = typer.Typer(
    help="Interpretable image sentiment classification (positive / negative) with Inception networks.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
app.add_typer(explain_app, name="explain")
register_inspect(app)


class Subset(str, Enum):
    five = "five"
    four = "four"
    three = "three"
    all = "all"


class OnError(str, Enum):
    fail = "fail"
    skip = "skip"


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
TrainOnErrorOpt = Annotated[
    OnError, typer.Option(help="An image that cannot be decoded: fail (stop, naming it) or skip (leave it out, listed).")
]


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


def _decode(dataset, config, on_error: OnError):
    """Decode the dataset for ``config``'s backbone; print and return what was skipped."""
    from .data.store import decode_dataset
    from .models import create_backbone

    size = create_backbone(config.backbone, "none").input_size
    usable, images, failures = decode_dataset(dataset, size, on_error.value)
    for failure in failures:
        console.print(f"[yellow]skipped[/] {failure.reason}")
    if failures:
        console.print(f"{dataset.name}: {len(usable)} images used, {len(failures)} skipped")
    skipped = [{"file": str(f.path), "reason": f.reason} for f in failures]
    return usable, images, skipped


@app.command()
def cv(
    data: Annotated[Path, typer.Argument(help="Twitter I root, a folder per class, or a path,label CSV.")],
    subset: Annotated[Subset, typer.Option(help="Twitter I agreement subset.")] = Subset.five,
    folds: Annotated[int, typer.Option(help="Number of folds.")] = 5,
    baseline: Annotated[bool, typer.Option(help="Also score logistic regression on frozen pooled features.")] = False,
    out: Annotated[Path, typer.Option(help="Folder for results (JSON and Markdown).")] = Path("sentilens-results"),
    run_dir: Annotated[
        Optional[Path], typer.Option(help="Keep each finished fold here; rerun with the same folder to resume.")
    ] = None,
    on_error: TrainOnErrorOpt = OnError.fail,
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
    from .models.checkpoint import CheckpointError
    from .training import TrainConfig

    try:
        config = _config(config_file, backbone=backbone, weights=weights, taps=taps, aux_weight=aux_weight,
                         mode=mode, trainable_from=trainable_from, epochs=epochs, batch_size=batch_size,
                         lr=lr, seed=seed, device=device)
        subsets = TWITTER_SUBSETS if subset is Subset.all else (subset.value,)
        results = {}
        skipped = {}
        for name in subsets:
            dataset = load_dataset(data, name)
            console.print(f"[bold]{dataset.name}[/]: {len(dataset)} images {dataset.class_counts()}")
            key = name if (data / "ground_truth").is_dir() else dataset.name
            dataset, images, skipped[key] = _decode(dataset, config, on_error)
            cache = prepare_cache(dataset, config, images)
            fold_dir = run_dir / key if run_dir is not None else None
            ours = [cross_validate(dataset, config, folds, config.seed, cache=cache, run_dir=fold_dir)]
            resumed = [f.number + 1 for f in ours[0].folds if f.resumed]
            if resumed:
                console.print(f"folds {', '.join(map(str, resumed))} reused from {fold_dir}")
            if baseline:
                frozen = cache if cache.boundary is None else prepare_cache(dataset, TrainConfig(**{**config.to_dict(), "mode": "frozen", "trainable_from": None}), images)
                ours.append(cross_validate_logistic(dataset, frozen, folds, config.seed))
            results[key] = ours
    except (DataError, ImageDecodeError, WeightsUnavailableError, CheckpointError, ValueError) as error:
        _fail(str(error))
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table3(results)
    (out / "table3.md").write_text(table, encoding="utf-8")
    (out / "table3.json").write_text(json.dumps(table3_json(results), indent=2), encoding="utf-8")
    (out / "folds.json").write_text(
        json.dumps({s: [r.to_dict() for r in rs] for s, rs in results.items()}, indent=2), encoding="utf-8"
    )
    (out / "skipped.json").write_text(json.dumps(skipped, indent=2), encoding="utf-8")
    print(table)
    console.print(f"results written to [bold]{out}/[/] (table3.md, table3.json, folds.json, skipped.json)")


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="Twitter I root, a folder per class, or a path,label CSV.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint file to write.")] = Path("sentilens-model.pt"),
    subset: Annotated[Subset, typer.Option(help="Twitter I agreement subset (not 'all').")] = Subset.five,
    on_error: TrainOnErrorOpt = OnError.fail,
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
        dataset, images, skipped = _decode(load_dataset(data, subset.value), config, on_error)
        dataset.require_all_classes()
        cache = prepare_cache(dataset, config, images)
        model = build_model(config)
        losses = fit(model, cache, range(len(dataset)), dataset.labels, config)
    except (DataError, ImageDecodeError, WeightsUnavailableError, ValueError) as error:
        _fail(str(error))
    save_checkpoint(model, config, out, dataset.class_names, extra={"dataset": dataset.name, "losses": losses, "skipped": skipped})
    console.print(f"trained on {len(dataset)} images of {dataset.name}; final loss {losses[-1]:.4f}")
    console.print(f"checkpoint written to [bold]{out}[/]")


@app.command()
def predict(
    inputs: Annotated[list[Path], typer.Argument(help="Image files and/or folders (searched recursively).")],
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", "-c", help="Checkpoint written by 'sentilens train' (default: the shipped Twitter I model).")] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="table, jsonl or csv.")] = OutputFormat.table,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of standard output.")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = 32,
    on_error: Annotated[OnError, typer.Option(help="skip (classify the rest, list unreadable images) or fail.")] = OnError.skip,
    precision: Annotated[str, typer.Option(help="auto (bf16 where the CPU runs it natively), fp32 or bf16.")] = "auto",
    workers: Annotated[Optional[int], typer.Option(help="Decoding processes ahead of the network (0: none).")] = None,
    compile_model: Annotated[bool, typer.Option("--compile", help="Compile the network first (TorchInductor, needs a C++ compiler): a minute or two once, then about 1.5x faster; worth it from several thousand images.")] = False,
) -> None:
    """Classify images: label and probability per file, as a table, JSON lines or CSV."""
    from .api import default_model_path
    from .data import ImageDecodeError
    from .inference import expand_inputs, predict_paths
    from .models.checkpoint import CheckpointError, load_checkpoint
    from .workflow import prediction_rows

    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        _fail(f"not found: {', '.join(missing)}")
    paths = expand_inputs(inputs)
    if not paths:
        _fail("no image files found in the given inputs")
    try:
        loaded = load_checkpoint(checkpoint or default_model_path())
        predictions, skipped = predict_paths(
            loaded.model, loaded.class_names, paths, loaded.config.predict_views, batch_size, on_error.value,
            precision=precision, workers=workers, compiled=compile_model,
        )
    except (CheckpointError, ImageDecodeError, ValueError) as error:
        _fail(str(error))
    rows = prediction_rows(predictions)
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
def demo(
    inputs: Annotated[Optional[list[Path]], typer.Argument(help="Images or folders (default: scikit-image's sample images).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the summary page and tables.")] = Path("sentilens-demo"),
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", "-c", help="Checkpoint (default: the shipped Twitter I model).")] = None,
    group_tap: Annotated[str, typer.Option(help="Block of the neuron-group pictures.")] = "5b",
) -> None:
    """The analyst workflow: classify, explain, and write a predictions table and a one-page HTML summary."""
    from .api import load
    from .data import ImageDecodeError
    from .inference import expand_inputs
    from .models.backbones import UnknownTapError
    from .models.checkpoint import CheckpointError
    from .samples import sample_images
    from .workflow import analyse

    try:
        images = expand_inputs(inputs) if inputs else sample_images()
        if not images:
            _fail("no image files found in the given inputs")
        result = analyse(load(checkpoint), images, out, group_tap=group_tap)
    except (CheckpointError, ImageDecodeError, UnknownTapError, FileNotFoundError) as error:
        _fail(str(error))
    table = Table("file", "label", "probability")
    for prediction in result.predictions:
        table.add_row(prediction.path.name, prediction.label, f"{prediction.probability:.3f}")
    Console().print(table)
    for item in result.skipped:
        console.print(f"[yellow]skipped[/] {item.reason}")
    print(f"summary page: {result.page.resolve()}")
    print(f"tables: {result.table_csv.resolve()} and {result.table_jsonl.name}")


experiment_app = typer.Typer(help="The paper's block experiments (Tables 4 and 5) on shared folds.", no_args_is_help=True)
app.add_typer(experiment_app, name="experiment")


def _run_experiment(kind: str, data: Path, subset: Subset, blocks: Optional[str], folds: int, out: Path,
                    config_file: Optional[Path], backbone: Optional[str], mode: Optional[str],
                    trainable_from: Optional[str], epochs: Optional[int], seed: Optional[int],
                    device: Optional[str]) -> None:
    import json as json_module

    from .data import DataError, ImageDecodeError, load_dataset
    from .evaluation.experiments import ablation_experiment, block_table_json, layer_experiment, markdown_block_table
    from .models.backbones import DEFAULT_TAPS, WeightsUnavailableError, create_backbone

    if subset is Subset.all:
        _fail("experiments use one subset; choose five, four or three")
    try:
        config = _config(config_file, backbone=backbone, weights=None, taps=None, aux_weight=None, mode=mode,
                         trainable_from=trainable_from, epochs=epochs, batch_size=None, lr=None, seed=seed,
                         device=device)
        if blocks is not None:
            taps = tuple(t.strip() for t in blocks.split(",") if t.strip())
        elif kind == "layers":
            taps = create_backbone(config.backbone, "none").tap_names
        else:
            taps = tuple(config.taps) if config.taps else DEFAULT_TAPS[config.backbone]
        create_backbone(config.backbone, "none").check_taps(taps)
        dataset = load_dataset(data, subset.value)
        runner = layer_experiment if kind == "layers" else ablation_experiment
        rows = runner(dataset, config, taps, folds, config.seed)
    except (DataError, ImageDecodeError, WeightsUnavailableError, ValueError) as error:
        _fail(str(error))
    title = {"layers": "Table 4: one auxiliary head per block", "ablation": "Table 5: ablation of the chosen blocks"}[kind]
    table = markdown_block_table(rows, f"{title} ({dataset.name}, {config.backbone}, {config.mode})")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{kind}.md").write_text(table, encoding="utf-8")
    (out / f"{kind}.json").write_text(json_module.dumps({"dataset": dataset.name, "config": config.to_dict(),
                                                         "rows": block_table_json(rows)}, indent=2), encoding="utf-8")
    print(table)
    console.print(f"results written to [bold]{out}/[/] ({kind}.md, {kind}.json)")


BlocksOpt = Annotated[Optional[str], typer.Option("--blocks", help="Comma-separated blocks (default: every tap for layers, the config's taps for ablation).")]


@experiment_app.command("layers")
def experiment_layers(
    data: Annotated[Path, typer.Argument(help="Twitter I root, a folder per class, or a path,label CSV.")],
    subset: Annotated[Subset, typer.Option(help="Twitter I agreement subset.")] = Subset.five,
    blocks: BlocksOpt = None,
    folds: Annotated[int, typer.Option(help="Number of folds.")] = 5,
    out: Annotated[Path, typer.Option(help="Folder for layers.md and layers.json.")] = Path("sentilens-results"),
    config_file: ConfigOpt = None,
    backbone: BackboneOpt = None,
    mode: ModeOpt = None,
    trainable_from: FromOpt = None,
    epochs: EpochsOpt = None,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Table 4: no auxiliary head, then one head on each block in turn."""
    _run_experiment("layers", data, subset, blocks, folds, out, config_file, backbone, mode, trainable_from, epochs, seed, device)


@experiment_app.command("ablation")
def experiment_ablation(
    data: Annotated[Path, typer.Argument(help="Twitter I root, a folder per class, or a path,label CSV.")],
    subset: Annotated[Subset, typer.Option(help="Twitter I agreement subset.")] = Subset.five,
    blocks: BlocksOpt = None,
    folds: Annotated[int, typer.Option(help="Number of folds.")] = 5,
    out: Annotated[Path, typer.Option(help="Folder for ablation.md and ablation.json.")] = Path("sentilens-results"),
    config_file: ConfigOpt = None,
    backbone: BackboneOpt = None,
    mode: ModeOpt = None,
    trainable_from: FromOpt = None,
    epochs: EpochsOpt = None,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Table 5: every non-empty subset of the chosen blocks."""
    _run_experiment("ablation", data, subset, blocks, folds, out, config_file, backbone, mode, trainable_from, epochs, seed, device)


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
