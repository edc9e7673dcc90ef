"""Property-based fuzzing of the loaders: random and mutated image bytes, random label files.

Only the documented errors may escape (``ImageDecodeError`` for images, ``DataError`` for label
files), within a time limit per input.  ``PIL.Image.MAX_IMAGE_PIXELS`` is lowered so that no
input can make the test allocate more than a few megabytes of pixels.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sentilens.data import DataError, ImageDecodeError, load_csv, load_twitter, load_view

from .bad_inputs import format_samples
from .helpers import write_image

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

SECONDS_PER_INPUT = 5
FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail (rather than hang) if the block runs longer than ``seconds``."""

    def expire(signum, frame):
        raise TimeoutError(f"input took more than {seconds} s")

    assert threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def small_pixel_limit() -> Iterator[None]:
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 1 << 20
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = limit


SEEDS = format_samples()


@st.composite
def mutated_images(draw) -> bytes:
    """A valid small image with random bytes overwritten, inserted, or the file cut short."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["overwrite", "insert", "truncate"]))
        if action == "overwrite":
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[max(position, 1) :]
    return bytes(data)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _decode_only_documented_errors(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    with small_pixel_limit(), time_limit(SECONDS_PER_INPUT):
        try:
            view = load_view(path, 16)
        except ImageDecodeError as error:
            assert str(path) in str(error)
        else:
            assert tuple(view.shape) == (3, 16, 16)


@FUZZ
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".jpg", ".png", ".gif", ".webp", ".bin"]))
def test_random_bytes(scratch: Path, data: bytes, suffix: str) -> None:
    _decode_only_documented_errors(scratch / f"random{suffix}", data)


@FUZZ
@given(data=mutated_images())
def test_mutated_images(scratch: Path, data: bytes) -> None:
    _decode_only_documented_errors(scratch / "mutated.jpg", data)


@pytest.fixture(scope="module")
def label_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("labels")
    (root / "images").mkdir()
    (root / "ground_truth").mkdir()
    for i, name in enumerate(("a.jpg", "b.jpg", "c d.jpg")):
        write_image(root / "images" / name, seed=i)
    return root


LABEL_WORDS = [
    "a.jpg",
    "b.jpg",
    "c",
    "d.jpg",
    "0",
    "1",
    "positive",
    "neg",
    "happy",
    "-1",
    "",
    "../images/a.jpg",
    "images/a.jpg",
    "/etc/passwd",
    "\x00",
    "é",
    "\ufeff",
    '"',
    "path",
    "label",
]
label_text = st.lists(
    st.lists(st.one_of(st.sampled_from(LABEL_WORDS), st.text(max_size=6)), max_size=4)
    .map(lambda words: st.sampled_from([" ", ",", "\t", ", "]).map(lambda sep: sep.join(words)))
    .flatmap(lambda s: s),
    max_size=8,
).map(lambda lines: "\n".join(lines))
label_bytes = st.one_of(label_text.map(lambda text: text.encode("utf-8")), st.binary(max_size=200))


@FUZZ
@given(data=label_bytes, header=st.booleans())
def test_random_label_files(label_root: Path, data: bytes, header: bool) -> None:
    label_file = label_root / "ground_truth" / "twitter_five_agrees.txt"
    label_file.write_bytes(data)
    csv_file = label_root / "images" / "labels.csv"
    csv_file.write_bytes((b"path,label\n" if header else b"") + data)
    with time_limit(SECONDS_PER_INPUT):
        for load, source in (
            (lambda: load_twitter(label_root, "five"), label_file),
            (lambda: load_csv(csv_file), csv_file),
        ):
            try:
                dataset = load()
            except DataError as error:
                assert str(source) in str(error)
            else:
                assert len(dataset) == len(dataset.labels) > 0
                assert all(path.is_file() for path in dataset.paths)
