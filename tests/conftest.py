"""Shared fixtures: the Twitter I data (CI always has it) and small synthetic image sets."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from .helpers import write_image

warnings.filterwarnings("ignore", message=".*torch.jit.load.*")

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "twitter1"


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Feature and channel caches of a test session live in a temporary folder."""
    cache = tmp_path_factory.mktemp("sentilens-cache")
    os.environ["SENTILENS_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session", autouse=True)
def torch_runtime_by_default() -> None:
    """``--runtime auto`` means torch in the tests that do not choose: with an empty cache, auto's
    OpenVINO int8 would convert and quantise every Inception-v3 model a test predicts with (about a
    minute each).  tests/test_runtimes.py unpins it and covers the OpenVINO runtime and the auto choice."""
    os.environ.setdefault("SENTILENS_RUNTIME", "torch")


@pytest.fixture(scope="session")
def twitter_root() -> Path:
    root = Path(os.environ.get("SENTILENS_DATA", DEFAULT_DATA))
    if not (root / "ground_truth").is_dir():
        pytest.fail(f"Twitter I data not found at {root}; set SENTILENS_DATA")
    return root


@pytest.fixture(scope="session")
def inception():
    from sentilens.models import create_backbone

    return create_backbone("inception_v3", "imagenet")


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    """negative/ and positive/ with six small random images each."""
    for label_index, label in enumerate(("negative", "positive")):
        (tmp_path / label).mkdir()
        for i in range(6):
            write_image(tmp_path / label / f"{label}{i}.png", seed=100 * label_index + i)
    return tmp_path


@pytest.fixture
def small_twitter_csv(tmp_path: Path, twitter_root: Path) -> Path:
    """A path,label CSV naming 24 real Twitter I images (12 per class) from five agree."""
    lines = (twitter_root / "ground_truth" / "twitter_five_agrees.txt").read_text().split("\n")
    chosen: dict[str, list[str]] = {"0": [], "1": []}
    for line in lines:
        if line.strip():
            name, label = line.split()
            if len(chosen[label]) < 12:
                chosen[label].append(name)
    csv_path = tmp_path / "small.csv"
    rows = ["path,label"] + [f"{twitter_root / 'images' / n},{label}" for label, names in chosen.items() for n in names]
    csv_path.write_text("\n".join(rows) + "\n")
    return csv_path


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray (loopback only, as many CPUs as the machine has) shared by every test that
    needs one: starting Ray takes seconds.  sentilens' Ray jobs reuse a running session."""
    from sentilens.app.distributed.session import start_local_ray

    start_local_ray()
    import ray

    yield ray
    ray.shutdown()
