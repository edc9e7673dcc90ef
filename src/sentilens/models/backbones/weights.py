"""Errors and helpers shared by the backbones' weight loading."""

from __future__ import annotations

from pathlib import Path

import torch

from sentilens.utils.errors import SentilensError


class WeightsUnavailableError(SentilensError, RuntimeError):
    """Pretrained weights could not be found or verified; the message says how to provide them."""


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Load a plain state dict without unpickling arbitrary objects."""
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        raise WeightsUnavailableError(f"cannot read weights file {path}: {error}") from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsUnavailableError(f"{path} does not hold a state dict")
    return state
