"""Sample images for the analyst demo, taken from scikit-image's bundled data (free to share).

The files ship inside the scikit-image wheel (``skimage/data/``); they are located through
import metadata and read as files, without importing scikit-image.  Licences, as scikit-image
documents them: astronaut, rocket and hubble_deep_field are NASA public domain; chelsea, coffee
and camera are CC0.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sentilens.utils.errors import InputNotFoundError

SAMPLE_FILES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg", "camera.png")


def sample_images() -> list[Path]:
    """Paths of the bundled sample images; a clear error when scikit-image is missing."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise InputNotFoundError("the sample images come with scikit-image: pip install scikit-image")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [name for name in SAMPLE_FILES if not (data / name).is_file()]
    if missing:
        raise InputNotFoundError(f"scikit-image's data folder {data} lacks {', '.join(missing)}")
    return [data / name for name in SAMPLE_FILES]
