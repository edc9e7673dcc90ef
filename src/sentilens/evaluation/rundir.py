"""A run folder that keeps every finished cross-validation fold, so an interrupted run resumes.

Layout: ``run.json`` (what the run is: config, seed, number of folds, dataset and package
version, as digests), and per finished fold ``fold_{k}.pt`` (its model, via
:func:`~sentilens.models.checkpoint.save_checkpoint`) then ``fold_{k}.json`` (its scores and the
model file's SHA-256).  Both are written to a temporary file and renamed, and the JSON comes last:
a fold counts as finished exactly when its JSON exists, whenever the process was killed.

Publishing and verifying follow the caches' policy (:mod:`sentilens.utils.disk_cache`): atomic
renames, and a fold is reused only after its model's bytes match the digest in its JSON; a damaged
fold (unreadable JSON, missing or changed model) is said, deleted and trained again, which gives
the same fold, since each fold is seeded by (seed, fold number) alone.  Two things stay different,
because a run folder holds results rather than a cache: its files are plain (a JSON a person
reads, a checkpoint ``sentilens predict`` loads), so the digest lives in the fold's JSON instead of
a header; and a folder or fold made for another run is refused with an error, not replaced.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentilens.utils.atomic import write_json_atomic
from sentilens.utils.errors import SentilensError
from sentilens.utils.hashing import file_digest, json_digest
from sentilens.utils.progress import Say, quiet

RUN_FORMAT = "sentilens-run/1"
#: The key of a fold record that holds its model file's SHA-256.
CHECKPOINT_DIGEST = "checkpoint_sha256"


class RunDirError(SentilensError, ValueError):
    """A run folder that belongs to a different run, or is damaged; the message says which."""


def dataset_digest(labels: Sequence[int], contents: Sequence[str], class_names: Sequence[str]) -> str:
    """Digest of a dataset by what training sees: file contents (digests), labels, class names."""
    return json_digest({"labels": list(labels), "contents": list(contents), "classes": list(class_names)})


def indices_digest(train: Sequence[int], test: Sequence[int]) -> str:
    """Digest of a fold's training and test indices."""
    return json_digest({"train": list(train), "test": list(test)})


def _read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; raises ``OSError`` or ``ValueError`` saying what is wrong."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a sentilens run file")
    return data


class RunDirectory:
    """The folder of one cross-validation run (see the module docstring).

    Args:
        root: the folder; created if missing.
        identity: what makes two runs the same (digests of config and dataset, seed, folds, version).
            A folder holding another identity is refused rather than mixed.
        say: hears of damaged folds (each one is trained again).
    """

    def __init__(self, root: str | Path, identity: dict[str, Any], say: Say = quiet) -> None:
        self.root = Path(root)
        self.identity = {"format": RUN_FORMAT, **identity}
        self.say = say
        self.root.mkdir(parents=True, exist_ok=True)
        manifest = self.root / "run.json"
        if manifest.exists():
            try:
                existing = _read_json(manifest)
            except (OSError, ValueError) as error:
                raise RunDirError(f"{manifest}: unreadable ({error}); delete it or choose a new --run-dir") from error
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
        """The record of fold ``number`` if it finished before and its model is sound, else None.

        A damaged fold is said and deleted (so it is trained again); a fold of other folds or
        another run raises :class:`RunDirError`.
        """
        path = self.fold_json(number)
        if not path.exists():
            return None
        try:
            record = _read_json(path)
        except (OSError, ValueError) as error:
            self._discard(number, f"unreadable ({error})")
            return None
        if record.get("indices_digest") != fold_indices_digest or record.get("run") != json_digest(self.identity):
            raise RunDirError(f"{path}: made for other folds or another run; delete it or choose a new --run-dir")
        checkpoint = self.fold_checkpoint(number)
        if not checkpoint.is_file():
            self._discard(number, f"its model {checkpoint.name} is missing")
            return None
        if file_digest(checkpoint) != record.get(CHECKPOINT_DIGEST):
            self._discard(number, f"its model {checkpoint.name} does not match the digest recorded with it")
            return None
        return record

    def record(self, number: int, record: dict[str, Any]) -> None:
        """Mark fold ``number`` finished (its checkpoint must already be written: its digest is recorded)."""
        digest = file_digest(self.fold_checkpoint(number))
        write_json_atomic(
            self.fold_json(number), {**record, CHECKPOINT_DIGEST: digest, "run": json_digest(self.identity)}
        )

    def _discard(self, number: int, reason: str) -> None:
        """Say why fold ``number`` is damaged and delete its files, so that it is trained again."""
        self.say(f"{self.fold_json(number)}: {reason}; training fold {number + 1} again")
        self.fold_json(number).unlink(missing_ok=True)
        self.fold_checkpoint(number).unlink(missing_ok=True)
