"""Resumable cross-validation (a run killed with SIGKILL resumes) and reproducibility by seed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sentilens.data import load_folder
from sentilens.evaluation import cross_validate
from sentilens.evaluation.rundir import RunDirectory, RunDirError
from sentilens.training import TrainConfig

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def learnable_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nine dark negative and nine bright positive noise images: a task heads can learn."""
    root = tmp_path_factory.mktemp("learnable")
    for label, (low, high) in {"negative": (0, 160), "positive": (96, 256)}.items():
        (root / label).mkdir()
        for i in range(9):
            rng = np.random.default_rng([low, i])
            Image.fromarray(rng.integers(low, high, (48, 64, 3), dtype=np.uint8)).save(root / label / f"{i}.png")
    return root


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: a CPU shared with other jobs is not oversubscribed."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cv_command(data: Path, out: Path, run_dir: Path, epochs: int, lr: float = 1e-3) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sentilens.cli",
        "cv",
        str(data),
        "--folds",
        "3",
        "--backbone",
        "googlenet",
        "--weights",
        "none",
        "--epochs",
        str(epochs),
        "--lr",
        str(lr),
        "--device",
        "cpu",
        "--seed",
        "3",
        "--out",
        str(out),
        "--run-dir",
        str(run_dir),
    ]


def _environment() -> dict[str, str]:
    # One thread each: the runs are compared bit for bit, and a shared CPU is not oversubscribed.
    return {**os.environ, "PYTHONPATH": str(SRC), "SENTILENS_PROGRESS": "0", "OMP_NUM_THREADS": "1"}


def _without_seconds(data):
    if isinstance(data, dict):
        return {k: _without_seconds(v) for k, v in data.items() if k not in ("seconds", "resumed")}
    if isinstance(data, list):
        return [_without_seconds(v) for v in data]
    return data


def _same_tensors(first: Path, second: Path) -> bool:
    a = torch.load(first, weights_only=True)["state_dict"]
    b = torch.load(second, weights_only=True)["state_dict"]
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_a_killed_cross_validation_resumes_to_the_same_table(learnable_folder: Path, tmp_path: Path) -> None:
    epochs = 400  # a second or more per fold: time to kill the run between folds
    env = _environment()
    whole = subprocess.run(
        _cv_command(learnable_folder, tmp_path / "whole", tmp_path / "whole-run", epochs),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert whole.returncode == 0, whole.stderr

    run_dir = tmp_path / "run"
    command = _cv_command(learnable_folder, tmp_path / "resumed", run_dir, epochs)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_fold = run_dir / learnable_folder.name / "fold_0.json"
    deadline = time.monotonic() + 240
    while not first_fold.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert first_fold.exists() and not (run_dir / learnable_folder.name / "fold_2.json").exists()
    kept = first_fold.read_bytes()

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "reused from" in resumed.stderr
    assert first_fold.read_bytes() == kept  # fold 1 was not redone
    for name in ("table3.json", "folds.json"):
        expected = json.loads((tmp_path / "whole" / name).read_text())
        assert _without_seconds(json.loads((tmp_path / "resumed" / name).read_text())) == _without_seconds(expected)
    for k in range(3):
        fold = f"{learnable_folder.name}/fold_{k}.pt"
        assert _same_tensors(tmp_path / "whole-run" / fold, run_dir / fold), fold

    other = subprocess.run(
        _cv_command(learnable_folder, tmp_path / "other", run_dir, epochs, lr=0.01),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert other.returncode == 2
    assert "holds a different run (config differ)" in " ".join(other.stderr.split())


CONFIG = TrainConfig(backbone="googlenet", weights="none", epochs=30, device="cpu", seed=5)


def test_same_seed_same_folds_and_metrics(learnable_folder: Path, tmp_path: Path, one_thread: None) -> None:
    dataset = load_folder(learnable_folder)
    first = cross_validate(dataset, CONFIG, n_splits=3, seed=5, run_dir=tmp_path / "a")
    again = cross_validate(dataset, CONFIG, n_splits=3, seed=5, run_dir=tmp_path / "b")
    assert [(f.indices_digest, f.metrics) for f in first.folds] == [(f.indices_digest, f.metrics) for f in again.folds]
    assert len({f.indices_digest for f in first.folds}) == 3
    for k in range(3):
        assert _same_tensors(tmp_path / "a" / f"fold_{k}.pt", tmp_path / "b" / f"fold_{k}.pt")
    other = cross_validate(dataset, CONFIG, n_splits=3, seed=6)
    assert [f.indices_digest for f in other.folds] != [f.indices_digest for f in first.folds]


def test_a_run_folder_of_another_dataset_is_refused(learnable_folder: Path, tmp_path: Path, one_thread: None) -> None:
    dataset = load_folder(learnable_folder)
    config = TrainConfig(backbone="googlenet", weights="none", epochs=1, device="cpu")
    cross_validate(dataset, config, n_splits=3, run_dir=tmp_path / "run")
    fewer = dataset.subset([i for i in range(len(dataset)) if i != 4])
    with pytest.raises(RunDirError, match=r"holds a different run \(dataset differ\)"):
        cross_validate(fewer, config, n_splits=3, run_dir=tmp_path / "run")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda run: run.fold_checkpoint(1).write_bytes(b"changed"), "does not match the digest"),
        (lambda run: run.fold_checkpoint(1).unlink(), "is missing"),
        (lambda run: run.fold_json(1).write_text('{"metrics": '), "unreadable"),
    ],
)
def test_a_damaged_fold_is_said_deleted_and_done_again(tmp_path: Path, damage, reason: str) -> None:
    messages: list[str] = []
    run = RunDirectory(tmp_path, {"config": "c", "seed": 0}, say=messages.append)
    for number in range(2):
        run.fold_checkpoint(number).write_bytes(f"model {number}".encode())
        run.record(number, {"indices_digest": f"fold {number}", "metrics": {"accuracy": 0.5}})
    assert run.finished(1, "fold 1") is not None and messages == []
    damage(run)
    assert run.finished(1, "fold 1") is None
    assert len(messages) == 1 and reason in messages[0] and "fold_1.json" in messages[0]
    assert not run.fold_json(1).exists() and not run.fold_checkpoint(1).exists()
    kept = run.finished(0, "fold 0")
    assert kept is not None and kept["metrics"] == {"accuracy": 0.5}, "the sound fold is kept"
    assert kept["checkpoint_sha256"] == hashlib.sha256(b"model 0").hexdigest()
    with pytest.raises(RunDirError, match="made for other folds"):
        run.finished(0, "other folds")
