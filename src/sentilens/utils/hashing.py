"""The digests that cache keys, checkpoints and run records depend on: one definition each.

A change here changes every cache key, so these functions are deliberately few and fixed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def json_digest(data: Any) -> str:
    """SHA-256 of the canonical JSON of ``data`` (sorted keys)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def file_digest(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks (equal digests mean identical content)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def tensors_digest(state: Mapping[str, torch.Tensor], prefix: str = "") -> str:
    """SHA-256 over ``prefix``, then the sorted names and float32 bytes of the tensors."""
    import torch  # here: the digests of files and JSON are wanted without torch

    digest = hashlib.sha256(prefix.encode())
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()
