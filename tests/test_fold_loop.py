"""The one fold loop: folds, scoring, the run folder and the block-experiment jobs all go through it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sentilens.data import Fold, LabelledImages, make_folds
from sentilens.evaluation import (
    FoldOutcome,
    HeadsStrategy,
    LogisticStrategy,
    cross_validate,
    run_folds,
)
from sentilens.evaluation.experiments import ablation_rows, block_experiment, layer_rows
from sentilens.models import create_backbone
from sentilens.training import FrozenOutputs, TrainConfig
from sentilens.utils.errors import InvalidArgumentError

N = 30
CONFIG = TrainConfig(backbone="googlenet", weights="none", epochs=3, lr=1e-2, device="cpu")


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def dataset(tmp_path: Path) -> LabelledImages:
    """30 distinct files, labels alternating."""
    rng = np.random.default_rng(1)
    paths = []
    for i in range(N):
        path = tmp_path / f"image{i}.bin"
        path.write_bytes(rng.bytes(32))
        paths.append(path)
    return LabelledImages(tuple(paths), tuple(i % 2 for i in range(N)), name="toy")


@pytest.fixture
def cache(dataset: LabelledImages) -> FrozenOutputs:
    """GoogLeNet-shaped pooled features of blocks 4b and the final map, both carrying the label."""
    rng = np.random.default_rng(2)
    labels = np.asarray(dataset.labels)
    channels = create_backbone("googlenet", "none").block_channels
    pooled = {}
    for view in ("centre", "mirror"):
        features = {}
        for name, count in {"4b": channels["4b"], "final": channels["5b"]}.items():
            values = rng.normal(size=(N, count)).astype(np.float32)
            values[:, :8] += 2.0 * (labels[:, None] * 2 - 1)
            features[name] = torch.from_numpy(values)
        pooled[view] = features
    return FrozenOutputs(None, {}, pooled)


@dataclass
class Scripted:
    """Predicts the truth on even folds and its opposite on odd ones; records what it was given."""

    labels: np.ndarray
    name: str = "scripted"
    record: dict[str, Any] = field(default_factory=lambda: {"kind": "scripted"})
    seen: list[tuple[Fold, int, int]] = field(default_factory=list)
    prepared: int = 0

    def prepare(self, folds: Sequence[Fold], n_folds: int, seed: int) -> None:
        self.prepared += 1

    def __call__(self, fold: Fold, n_folds: int, seed: int) -> FoldOutcome:
        self.seen.append((fold, n_folds, seed))
        truth = self.labels[list(fold.test)]
        predicted = truth if fold.number % 2 == 0 else 1 - truth
        return FoldOutcome(np.eye(2)[predicted], details={"fold": fold.number})


def test_the_loop_gives_each_strategy_the_seeded_folds_and_scores_its_probabilities(
    dataset: LabelledImages,
) -> None:
    strategy = Scripted(np.asarray(dataset.labels))
    result = run_folds(dataset, strategy, n_splits=3, seed=4)
    assert [fold for fold, _, _ in strategy.seen] == make_folds(dataset, 3, 4)
    assert {(n_folds, seed) for _, n_folds, seed in strategy.seen} == {(3, 4)}
    assert strategy.prepared == 1
    assert [f.metrics["accuracy"] for f in result.folds] == [1.0, 0.0, 1.0]
    assert [f.details for f in result.folds] == [{"fold": 0}, {"fold": 1}, {"fold": 2}]
    assert [f.n_train + f.n_test for f in result.folds] == [N] * 3
    assert len({f.indices_digest for f in result.folds}) == 3
    assert (result.dataset, result.model, result.config) == ("toy", "scripted", {"kind": "scripted"})


def test_a_resumed_run_prepares_and_trains_nothing(
    dataset: LabelledImages, cache: FrozenOutputs, tmp_path: Path
) -> None:
    config = replace(CONFIG, blocks=("4b",), aux_weights=(0.1,))
    first = cross_validate(dataset, config, 3, 0, cache=cache, run_dir=tmp_path / "run")

    @dataclass
    class Counting(HeadsStrategy):
        calls: int = 0

        def prepare(self, folds: Sequence[Fold], n_folds: int, seed: int) -> None:
            self.calls += 1

        def __call__(self, fold: Fold, n_folds: int, seed: int) -> FoldOutcome:
            self.calls += 1
            return super().__call__(fold, n_folds, seed)

    strategy = Counting(dataset, config, cache)
    again = run_folds(dataset, strategy, 3, 0, run_dir=tmp_path / "run")
    assert strategy.calls == 0
    assert all(f.resumed for f in again.folds) and not any(f.resumed for f in first.folds)
    assert [f.metrics for f in again.folds] == [f.metrics for f in first.folds]


def test_a_run_folder_refuses_a_strategy_that_trains_no_model(
    dataset: LabelledImages, cache: FrozenOutputs, tmp_path: Path
) -> None:
    labels = np.asarray(dataset.labels)
    informative = cache.pooled["centre"]["final"].numpy()[:, :8]
    strategy = LogisticStrategy(informative, labels, "logistic", {"C": 1.0})
    assert run_folds(dataset, strategy, 3, 0).summary["accuracy"]["mean"] > 0.9
    with pytest.raises(InvalidArgumentError, match="trains none"):
        run_folds(dataset, strategy, 3, 0, run_dir=tmp_path / "run")


def test_a_block_experiment_row_scores_as_cross_validation_does(dataset: LabelledImages, cache: FrozenOutputs) -> None:
    assert layer_rows(["4b", "5a"]) == [(), ("4b",), ("5a",)]
    assert ablation_rows(["4b", "5a"]) == [("4b", "5a"), ("4b",), ("5a",)]
    ((blocks, row),) = block_experiment(dataset, CONFIG, [("4b",)], 3, 7, cache)
    alone = cross_validate(dataset, replace(CONFIG, blocks=("4b",), aux_weights=(0.1,)), 3, 7, cache=cache)
    assert blocks == ("4b",)
    assert [(f.indices_digest, f.metrics) for f in row.folds] == [(f.indices_digest, f.metrics) for f in alone.folds]
    with pytest.raises(InvalidArgumentError):
        ablation_rows([])
