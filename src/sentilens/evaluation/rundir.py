"""A run folder that keeps every finished cross-validation fold, so an interrupted run resumes.

Layout: ``run.json`` (what the run is: config, seed, number of folds, dataset and package
version, as digests), and per finished fold ``fold_{k}.pt`` (its model, via
:func:`~sentilens.models.checkpoint.save_checkpoint`) then ``fold_{k}.json`` (its scores).  Both
are written to a temporary file and renamed, and the JSON comes last: a fold counts as finished
exactly when its JSON exists, whenever the process was killed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentilens.utils.atomic import write_json_atomic
from sentilens.utils.errors import SentilensError
from sentilens.utils.hashing import json_digest

RUN_FORMAT = "sentilens-run/1"


class RunDirError(SentilensError, ValueError):
    """A run folder that belongs to a different run, or is damaged; the message says which."""


def dataset_digest(labels: Sequence[int], contents: Sequence[str], class_names: Sequence[str]) -> str:
    """Digest of a dataset by what training sees: file contents (digests), labels, class names."""
    return json_digest({"labels": list(labels), "contents": list(contents), "classes": list(class_names)})


def indices_digest(train: Sequence[int], test: Sequence[int]) -> str:
    """Digest of a fold's training and test indices."""
    return json_digest({"train": list(train), "test": list(test)})


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise RunDirError(f"{path}: unreadable ({error}); delete it to redo that part of the run") from error
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: not a sentilens run file")
    return data


class RunDirectory:
    """The folder of one cross-validation run (see the module docstring).

    Args:
        root: the folder; created if missing.
        identity: what makes two runs the same (digests of config and dataset, seed, folds, version).
            A folder holding another identity is refused rather than mixed.
    """

    def __init__(self, root: str | Path, identity: dict[str, Any]) -> None:
        self.root = Path(root)
        self.identity = {"format": RUN_FORMAT, **identity}
        self.root.mkdir(parents=True, exist_ok=True)
        manifest = self.root / "run.json"
        if manifest.exists():
            existing = _read_json(manifest)
            differs = sorted(
                k for k in self.identity.keys() | existing.keys() if existing.get(k) != self.identity.get(k)
            )
            if differs:
                raise RunDirError(
                    f"{self.root}: holds a different run ({', '.join(differs)} differ); "
                    "resume with the same data, config, seed and folds, or choose a new --run-dir"
                )
        else:
            write_json_atomic(manifest, self.identity)
        for stale in self.root.glob(".fold_*"):  # temporary files of a killed write
            stale.unlink()

    def fold_json(self, number: int) -> Path:
        return self.root / f"fold_{number}.json"

    def fold_checkpoint(self, number: int) -> Path:
        return self.root / f"fold_{number}.pt"

    def finished(self, number: int, fold_indices_digest: str) -> dict[str, Any] | None:
        """The record of fold ``number`` if it finished before, else None."""
        path = self.fold_json(number)
        if not path.exists():
            return None
        record = _read_json(path)
        if record.get("indices_digest") != fold_indices_digest or record.get("run") != json_digest(self.identity):
            raise RunDirError(f"{path}: made for other folds or another run; delete it or choose a new --run-dir")
        if not self.fold_checkpoint(number).is_file():
            raise RunDirError(
                f"{path}: its model {self.fold_checkpoint(number).name} is missing; delete {path.name} to redo the fold"
            )
        return record

    def record(self, number: int, record: dict[str, Any]) -> None:
        """Mark fold ``number`` finished (its checkpoint must already be written)."""
        write_json_atomic(self.fold_json(number), {**record, "run": json_digest(self.identity)})
