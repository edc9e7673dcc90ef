"""The model shipped inside the package (``benchmarks/default_model.md``), found without importing torch."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_MODEL_FILE = "twitter1-inception_v3-frozen.pt"


def default_model_path() -> Path:
    """The checkpoint shipped inside the package (see ``benchmarks/default_model.md``)."""
    return Path(str(resources.files("sentilens") / "assets" / DEFAULT_MODEL_FILE))
