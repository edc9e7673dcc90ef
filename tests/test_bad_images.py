"""Every awkward image kind of issue 6: converted, rotated, resized, or refused naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sentilens.data import ImageDecodeError, decode_image, load_view
from sentilens.data.decoding import decode_all

from .bad_inputs import BROKEN, DECODABLE, HUGE_LIMIT, exif_rotated, rgba, sixteen_bit

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # refused all the same


@pytest.fixture
def low_pixel_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", HUGE_LIMIT)


@pytest.mark.parametrize("kind", sorted(DECODABLE))
def test_awkward_images_decode_to_rgb_views(kind: str, tmp_path: Path) -> None:
    path = DECODABLE[kind](tmp_path / f"{kind}.jpg", 0)
    image = decode_image(path)
    assert image.mode == "RGB"
    view = load_view(path, 32)
    assert view.shape == (3, 32, 32) and view.dtype == torch.uint8


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_images_are_refused_naming_the_file(kind: str, tmp_path: Path, low_pixel_limit: None) -> None:
    path = BROKEN[kind](tmp_path / f"{kind}.jpg", 0)
    with pytest.raises(ImageDecodeError, match=f"{kind}.jpg: (cannot decode|refused|empty)"):
        load_view(path, 32)


def test_huge_image_names_the_pixel_limit(tmp_path: Path, low_pixel_limit: None) -> None:
    path = BROKEN["huge"](tmp_path / "big.png", 0)
    with pytest.raises(
        ImageDecodeError, match=rf"300x300 = 90000 pixels exceeds the decompression-bomb limit of {HUGE_LIMIT}"
    ):
        decode_image(path)


def test_a_header_claiming_ten_billion_pixels_is_refused_before_decoding(tmp_path: Path) -> None:
    path = BROKEN["bomb_header"](tmp_path / "bomb.png", 0)
    with pytest.raises(ImageDecodeError, match="bomb.png: refused, too many pixels"):
        decode_image(path)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = np.asarray(decode_image(exif_rotated(tmp_path / "rotated.jpg")))
    assert image.shape == (40, 24, 3)  # stored 40 wide, 24 high; shown rotated
    assert image[:6, -6:, 0].mean() > 200 and image[:6, -6:, 1:].mean() < 60  # red went top-right
    assert image[:6, :6, 0].mean() < 60


def test_transparency_is_composited_on_white(tmp_path: Path) -> None:
    assert decode_image(rgba(tmp_path / "alpha.png")).getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_is_scaled_not_clipped(tmp_path: Path) -> None:
    image = np.asarray(decode_image(sixteen_bit(tmp_path / "deep.png")))
    assert image.max() == 255 and image.min() < 10
    assert len(np.unique(image)) > 100  # scaled to 8 bits, not saturated


def test_missing_and_folder_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match="ghost.jpg: file not found"):
        decode_image(tmp_path / "ghost.jpg")
    (tmp_path / "folder.jpg").mkdir()
    with pytest.raises(ImageDecodeError, match="folder.jpg: is a folder"):
        decode_image(tmp_path / "folder.jpg")


def _mixed_folder(tmp_path: Path) -> list[Path]:
    paths = []
    for index, (kind, make) in enumerate(sorted({**DECODABLE, **BROKEN}.items())):
        paths.append(make(tmp_path / f"{index:02d}_{kind}.jpg", index))
    return paths


def test_decode_all_skip_accounts_for_every_input(tmp_path: Path, low_pixel_limit: None) -> None:
    paths = _mixed_folder(tmp_path)
    decoded = decode_all(paths, 16, on_error="skip")
    assert sorted(decoded.kept + tuple(f.index for f in decoded.failures)) == list(range(len(paths)))
    assert len(decoded.kept) == len(DECODABLE) and len(decoded.failures) == len(BROKEN)
    assert decoded.images.shape == (len(DECODABLE), 3, 16, 16)
    for failure in decoded.failures:
        assert failure.path == paths[failure.index] and str(failure.path) in failure.reason
    for row, index in enumerate(decoded.kept):
        assert (decoded.images[row] == load_view(paths[index], 16)).all()


def test_decode_all_fail_names_the_first_bad_file(tmp_path: Path, low_pixel_limit: None) -> None:
    paths = _mixed_folder(tmp_path)
    first_bad = next(p for p in paths if any(k in p.name for k in BROKEN))
    with pytest.raises(ImageDecodeError, match=first_bad.name):
        decode_all(paths, 16)
    with pytest.raises(ValueError, match="on_error must be"):
        decode_all(paths, 16, on_error="ignore")
